"""The older test helper, now a thin wrapper over the stand-in (`simulator`).

`FakeTwilio.dial(turns)` places one call and answers each Gather with the next turn, and
stops where the call would leave the flow's hands (Enqueue, Dial, Record), so a test can
play the next part of the call itself.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import httpx
from twilio.request_validator import RequestValidator

from simulator.people import Scripted
from simulator.server import free_port, serve
from simulator.standin import StandIn
from simulator.webhooks import Webhooks

__all__ = ["Call", "FakeTwilio", "free_port", "serve"]

_tokens = itertools.count(1)


@dataclass
class Call:
    sid: str
    heard: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    end: str = ""  # queue:NAME, dial:TARGET, record, hangup, or hung-up (turns ran out)
    end_url: str = ""  # the action URL of the verb the call ended on


class FakeTwilio:
    def __init__(self, base_url: str, auth_token: str, *, timeout: float = 15.0) -> None:
        """`timeout`: how long to wait for an answer; Twilio's own limit is 15 s."""
        self.base_url = base_url
        self.validator = RequestValidator(auth_token)
        self.http = httpx.Client(timeout=timeout)
        self.webhooks = Webhooks(base_url, auth_token)

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.webhooks.close()

    def post(
        self, url: str, params: dict[str, str], *, sign: bool = True, signature: str | None = None
    ) -> httpx.Response:
        """One request, signed (or not, or with the given signature) like Twilio's."""
        headers = {"I-Twilio-Idempotency-Token": f"idem-{next(_tokens)}"}
        if sign:
            headers["X-Twilio-Signature"] = signature or self.validator.compute_signature(
                url, params
            )
        return self.http.post(url, data=params, headers=headers)

    def dial(
        self, turns: list[str], *, to: str = "+15005550006", caller: str = "+15555550100"
    ) -> Call:
        """Place a call and answer each Gather with the next turn: keys, words or ''."""
        standin = StandIn(self.webhooks, stops=("Enqueue", "Dial", "Record"))
        leg = standin.call(Scripted(turns), caller=caller, called=to, status_callback=None)
        standin.run()
        return Call(leg.sid, leg.heard, leg.requests, leg.documents, leg.end, leg.end_url)
