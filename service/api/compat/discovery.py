"""The discovery document Google's API clients read before they call Perspective (``discovery.build(
"commentanalyzer", "v1alpha1", discoveryServiceUrl=...)``), describing Moderato's Perspective routes with this
server as ``rootUrl``: pointing ``discoveryServiceUrl`` here is then the only change a Perspective client needs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["perspective"])

TEXT_ENTRY = {"$ref": "TextEntry"}
STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}


def _object(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": name, "type": "object", "properties": properties}


SCHEMAS: dict[str, Any] = {
    "TextEntry": _object("TextEntry", {"text": STRING, "type": STRING}),
    "ArticleAndParentComment": _object("ArticleAndParentComment", {"article": TEXT_ENTRY, "parentComment": TEXT_ENTRY}),
    "Context": _object(
        "Context",
        {
            "entries": {"type": "array", "items": TEXT_ENTRY},
            "articleAndParentComment": {"$ref": "ArticleAndParentComment"},
        },
    ),
    "AttributeParameters": _object(
        "AttributeParameters", {"scoreType": STRING, "scoreThreshold": {"type": "number", "format": "float"}}
    ),
    "Score": _object("Score", {"value": {"type": "number", "format": "float"}, "type": STRING}),
    "SpanScore": _object(
        "SpanScore",
        {
            "begin": {"type": "integer", "format": "int32"},
            "end": {"type": "integer", "format": "int32"},
            "score": {"$ref": "Score"},
        },
    ),
    "AttributeScores": _object(
        "AttributeScores",
        {"summaryScore": {"$ref": "Score"}, "spanScores": {"type": "array", "items": {"$ref": "SpanScore"}}},
    ),
    "AnalyzeCommentRequest": _object(
        "AnalyzeCommentRequest",
        {
            "comment": TEXT_ENTRY,
            "context": {"$ref": "Context"},
            "requestedAttributes": {"type": "object", "additionalProperties": {"$ref": "AttributeParameters"}},
            "languages": STRINGS,
            "doNotStore": {"type": "boolean"},
            "spanAnnotations": {"type": "boolean"},
            "dropUnsupportedAttributes": {"type": "boolean"},
            "clientToken": STRING,
            "sessionId": STRING,
            "communityId": STRING,
        },
    ),
    "AnalyzeCommentResponse": _object(
        "AnalyzeCommentResponse",
        {
            "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}},
            "languages": STRINGS,
            "detectedLanguages": STRINGS,
            "clientToken": STRING,
        },
    ),
    "SuggestCommentScoreRequest": _object(
        "SuggestCommentScoreRequest",
        {
            "comment": TEXT_ENTRY,
            "context": {"$ref": "Context"},
            "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}},
            "languages": STRINGS,
            "clientToken": STRING,
            "sessionId": STRING,
            "communityId": STRING,
        },
    ),
    "SuggestCommentScoreResponse": _object(
        "SuggestCommentScoreResponse",
        {"detectedLanguages": STRINGS, "requestedLanguages": STRINGS, "clientToken": STRING},
    ),
}


def _method(name: str, request: str, response: str) -> dict[str, Any]:
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": f"v1alpha1/comments:{name}",
        "flatPath": f"v1alpha1/comments:{name}",
        "httpMethod": "POST",
        "parameters": {},
        "parameterOrder": [],
        "request": {"$ref": request},
        "response": {"$ref": response},
    }


def discovery_document(root_url: str) -> dict[str, Any]:
    """The commentanalyzer v1alpha1 description, served by Moderato at ``root_url``."""
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer",
        "version": "v1alpha1",
        "title": "Moderato (Perspective Comment Analyzer API shape)",
        "description": "Moderato answering Perspective's comments:analyze and comments:suggestscore.",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "basePath": "",
        "batchPath": "batch",
        "parameters": {
            "key": {"type": "string", "location": "query", "description": "A Moderato API key (platform role)."},
            "alt": {"type": "string", "location": "query", "default": "json"},
            "prettyPrint": {"type": "boolean", "location": "query", "default": "true"},
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method("analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse"),
                    "suggestscore": _method(
                        "suggestscore", "SuggestCommentScoreRequest", "SuggestCommentScoreResponse"
                    ),
                }
            }
        },
        "schemas": SCHEMAS,
    }


@router.get("/$discovery/rest", responses={200: {"description": "a Google API discovery document"}})
async def discovery(request: Request, version: str = Query(default="v1alpha1")) -> JSONResponse:
    """The discovery document for Perspective's client libraries (``discoveryServiceUrl`` points here)."""
    if version != "v1alpha1":
        body = {
            "error": {"code": 404, "message": f"no discovery document for version {version}", "status": "NOT_FOUND"}
        }
        return JSONResponse(body, status_code=404)
    return JSONResponse(discovery_document(str(request.base_url)))
