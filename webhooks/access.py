"""Who may read the JSON API, the dashboard and the metrics: an ASGI middleware.

Every URL is protected unless it is Twilio's (`/twilio/*`, which carries Twilio's own
signature), a health check (`/healthz`, `/readyz`) or the dashboard's code (`/static/*`),
so a route added later is covered without touching this module. A request passes with an
API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`; the dashboard page also
`?key=KEY`) or basic auth (`IVR_BASIC_AUTH=user:password`). With neither
configured, protected URLs answer only loopback clients that did not come through a proxy,
and `ivr serve` refuses a non-loopback `--host` (see `exposure_problem`).

Secrets are compared as SHA-256 digests with `hmac.compare_digest`, against every
configured secret without stopping at a match: the time taken says nothing about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ivr.audit import admin_action
from webhooks.settings import Settings

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
PUBLIC_PREFIXES = ("/twilio/", "/static/", "/phone/static/")  # pages' code, never data
# A browser opening the dashboard cannot send a header: the page takes the key once in
# its address (`/?key=...`, `/phone?key=...`) and sends it as X-API-Key on every API
# request it makes.
KEY_IN_QUERY = frozenset({"/", "/phone"})
# Asked for by browsers and scrapers all the time: served without an admin log line.
UNLOGGED_PREFIXES = ("/static/", "/docs", "/openapi.json", "/metrics", "/favicon.ico")
FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(settings: Settings, host: str) -> str | None:
    """Why serving on `host` would open the API to others, or None when it would not."""
    if settings.api_keys or settings.basic_auth or is_loopback(host):
        return None
    return (
        f"--host {host} is reachable from other machines, and no IVR_API_KEY (--api-key) or "
        "IVR_BASIC_AUTH is set: the call API, the dashboard and the metrics would be open to "
        "anyone. Set a key, or serve on 127.0.0.1."
    )


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def key_name(key: str) -> str:
    """Names a key in logs without revealing it."""
    return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _match(given: str, digests: Sequence[bytes]) -> int | None:
    found = None
    candidate = _digest(given)
    for index, digest in enumerate(digests):
        if hmac.compare_digest(candidate, digest):  # no early exit: constant time
            found = index
    return found


@dataclass(frozen=True)
class Verdict:
    who: str | None  # set when allowed
    status: int = 200
    detail: str = ""


class Gate:
    """Decides one request from its headers and client address."""

    def __init__(self, settings: Settings) -> None:
        self.keys = [k.get_secret_value() for k in settings.api_keys]
        self.key_digests = [_digest(k) for k in self.keys]
        basic = settings.basic_auth.get_secret_value() if settings.basic_auth else None
        self.basic_digest = [_digest(basic)] if basic else []
        self.basic_user = basic.partition(":")[0] if basic else ""

    @property
    def configured(self) -> bool:
        return bool(self.key_digests or self.basic_digest)

    def decide(self, headers: Headers, client: str | None, query_key: str = "") -> Verdict:
        if not self.configured:
            local = client is not None and is_loopback(client)
            if local and not any(h in headers for h in FORWARDED):
                return Verdict("loopback")
            return Verdict(
                None,
                403,
                "no API key is configured on this server, so this URL answers only on the "
                "server itself (a loopback address); set IVR_API_KEY to reach it from elsewhere",
            )
        scheme, _, value = headers.get("authorization", "").partition(" ")
        key = (
            headers.get("x-api-key")
            or (value.strip() if scheme.lower() == "bearer" else "")
            or query_key
        )
        if key:
            index = _match(key, self.key_digests)
            if index is not None:
                return Verdict(key_name(self.keys[index]))
            return Verdict(None, 401, "the API key is not valid")
        if scheme.lower() == "basic" and self.basic_digest:
            try:
                pair = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            if _match(pair, self.basic_digest) is not None:
                return Verdict(f"basic:{self.basic_user}")
            return Verdict(None, 401, "the user name or password is not valid")
        return Verdict(
            None,
            401,
            "this URL needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
        )

    def challenge(self) -> str:
        return 'Basic realm="ivr"' if self.basic_digest and not self.key_digests else "Bearer"


class AccessMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.gate = Gate(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        client = scope.get("client")
        address = client[0] if client else None
        query_key = ""
        if path in KEY_IN_QUERY:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            query_key = query.get("key", [""])[0]
        verdict = self.gate.decide(Headers(scope=scope), address, query_key)
        if scope["type"] == "websocket":  # none today; a later one is protected all the same
            if verdict.who is None:
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self.app(scope, receive, send)
            return
        logged = not path.startswith(UNLOGGED_PREFIXES) and path != "/"
        if verdict.who is None:  # refusals are always logged
            admin_action(
                "anonymous",
                "refused",
                level=logging.WARNING,
                method=scope["method"],
                path=path,
                client=address,
                reason=verdict.detail,
            )
            await self._refuse(verdict, send)
            return
        if not logged:
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            admin_action(
                verdict.who,
                f"{scope['method']} {path}",
                method=scope["method"],
                path=path,
                status=status,
                client=address,
            )

    async def _refuse(self, verdict: Verdict, send: Send) -> None:
        error = "unauthorized" if verdict.status == 401 else "forbidden"
        body = json.dumps({"error": error, "detail": verdict.detail}).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if verdict.status == 401:
            headers.append((b"www-authenticate", self.gate.challenge().encode()))
        await send({"type": "http.response.start", "status": verdict.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
