"""Pure ASGI middleware (cheaper per request than BaseHTTPMiddleware): request ids, access logs, latency metrics,
and a request body size limit."""

from __future__ import annotations

import ipaddress
import json
import logging
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import request_id
from service.metrics import Metrics

log = logging.getLogger("moderato.access")


class RequestContext:
    """Gives each request an id (the caller's ``X-Request-ID`` if sane), logs it and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request_seconds.labels(scope["method"], route, str(status)).observe(elapsed)
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                extra={"status": status, "ms": round(elapsed * 1000, 2)},
            )
            request_id.reset(token)


class BodyLimit:
    """Answers 413 for bodies over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(HTTPException):
    """Raised while a streamed (chunked) body is read: an HTTPException, so FastAPI's body reader passes it on as
    a 413 instead of wrapping it in its generic 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")


async def _too_large(send: Send, max_bytes: int) -> None:
    body: dict[str, Any] = {"error": {"code": "too_large", "message": f"request body over {max_bytes} bytes"}}
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class TrustedProxies:
    """The client's address and scheme as the proxies in front of us saw them, believing only what they can vouch
    for: the headers count only when the peer is a configured proxy (``forwarded_allow_ips``), and the client is
    the ``X-Forwarded-For`` entry that many hops from the right (each proxy appends the address it was reached
    from; anything further left was written by the client and may be forged). Without a trusted peer the socket's
    address stands."""

    def __init__(self, app: ASGIApp, trusted: str, hops: int) -> None:
        self.app = app
        self.any_peer = trusted.strip() == "*"
        self.networks = [
            ipaddress.ip_network(t.strip(), strict=False) for t in trusted.split(",") if t.strip() != "*" and t.strip()
        ]
        self.hops = hops

    def _trusts(self, peer: str | None) -> bool:
        if self.any_peer:
            return True
        address = _address(peer or "")
        return address is not None and any(address in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.hops > 0:
            peer = scope.get("client")
            if self._trusts(peer[0] if peer else None):
                scope = dict(scope)
                self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: dict[str, Any]) -> None:
        forwarded_for: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()  # the nearest proxy's word
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        if len(forwarded_for) >= self.hops:
            client = forwarded_for[-self.hops]
            if _address(client) is not None:
                scope["client"] = (client, 0)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
