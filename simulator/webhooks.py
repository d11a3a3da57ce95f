"""Twilio's HTTP side of a call: form-encoded, signed, idempotent requests to the app.

Relative URLs resolve against the URL Twilio last called, as Twilio resolves them. The
public base (what Twilio believes it calls, and signs) can differ from the hosts the
requests go to: with several hosts, requests go round-robin, like a load balancer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx
from twilio.request_validator import RequestValidator

from simulator.twiml_rules import TwimlError


class WebhookError(Exception):
    """The app answered a webhook in a way Twilio would treat as an application error."""


class Webhooks:
    def __init__(
        self,
        public_url: str,
        auth_token: str | None,
        *,
        hosts: Sequence[str] = (),
        timeout: float = 15.0,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.hosts = [h.rstrip("/") for h in hosts] or [self.public_url]
        self._next_host = itertools.cycle(self.hosts)
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.http = httpx.Client(timeout=timeout)
        self._tokens = itertools.count(1)
        self.sent = 0
        self.by_host: dict[str, int] = dict.fromkeys(self.hosts, 0)

    def close(self) -> None:
        self.http.close()

    def resolve(self, current: str, url: str | None) -> str:
        """`url` from a TwiML attribute, resolved as Twilio does against the URL it called."""
        return urljoin(current, url) if url else current

    def absolute(self, path: str) -> str:
        return urljoin(self.public_url + "/", path.lstrip("/"))

    def post(self, url: str, params: Mapping[str, str], method: str = "POST") -> httpx.Response:
        """One webhook request as Twilio sends it; `url` is the public URL."""
        host = next(self._next_host)
        headers = {
            "I-Twilio-Idempotency-Token": f"{params.get('CallSid', '')}-{next(self._tokens)}"
        }
        if method.upper() == "GET":
            signed = url + ("&" if "?" in url else "?") + urlencode(dict(params))
            if self.validator:
                headers["X-Twilio-Signature"] = self.validator.compute_signature(signed, {})
            response = self.http.get(_on_host(signed, host), headers=headers)
        else:
            if self.validator:
                headers["X-Twilio-Signature"] = self.validator.compute_signature(url, dict(params))
            response = self.http.post(_on_host(url, host), data=dict(params), headers=headers)
        self.sent += 1
        self.by_host[host] += 1
        return response

    def twiml(self, url: str, params: Mapping[str, str], method: str = "POST") -> str:
        """The TwiML document the app answers `url` with; WebhookError if Twilio could not
        use the answer (a non-200 status, a wrong content type)."""
        response = self.post(url, params, method)
        if response.status_code != 200:
            raise WebhookError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
        kind = response.headers.get("content-type", "")
        if not (kind.startswith("application/xml") or kind.startswith("text/xml")):
            raise WebhookError(f"{url}: content type '{kind}' is not TwiML (application/xml)")
        if "content-length" not in response.headers:
            raise TwimlError(f"{url}: the answer has no Content-Length (Twilio needs it)")
        return response.text


def _on_host(url: str, host: str) -> str:
    """The same path and query, sent to `host` instead of the public base."""
    parts = urlsplit(url)
    base = urlsplit(host)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
