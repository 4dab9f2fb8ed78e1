"""The moderator page: templates and static files, rendered by the API at /moderate. No build step and no CDN: what
the browser loads is in this package, so the page works on a machine with no internet."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/moderate/static"

# The page loads nothing from elsewhere and runs no inline script or style: an injected tag in a comment could
# not run even if escaping ever failed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html",)), auto_reload=False
    )


def render(template: str, **context: Any) -> str:
    """A page from ``templates/``, every value HTML-escaped (``|tojson`` for data the script reads)."""
    return _environment().get_template(template).render(static=STATIC_PATH, **context)
