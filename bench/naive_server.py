"""The naive baseline for bench/api.py: a FastAPI endpoint that calls a transformers pipeline once per request,
with no batching and no cache (the same MiniLM encoder size as Moderato's model, fp32 as pipelines run)."""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn
from fastapi import FastAPI


def build() -> FastAPI:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from service.model.checkpoint import base_model_path

    hf_logging.set_verbosity_error()
    classify = pipeline("text-classification", model=str(base_model_path()), top_k=None, device="cpu")
    app = FastAPI()

    @app.post("/v1/analyze")
    def analyze(body: dict[str, Any]) -> dict[str, Any]:
        return {"results": [{"id": c["id"], "scores": classify(c["text"])} for c in body["comments"]]}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(build(), host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
