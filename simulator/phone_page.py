"""The phone at `/phone`: walk a flow in the browser through the stand-in and real webhooks.

The page is a dial pad and a "say" box (typed words, no microphone). Each call is a real
stand-in call (`simulator.standin`) on its own thread, placed over HTTP against the server's
own public URL and signed with its auth token, exactly as Twilio would call it; the
person on the line is `_Browser`, whose turn at each `<Gather>` waits for the page's next
request. The call stops where the flow hands the caller over (a queue, a transfer, a
recording), since nobody answers on the other side.

Routes are plain `def`s: FastAPI runs them in its thread pool, so a stand-in call waiting
on the same server never blocks the event loop that answers it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from flows.catalog import Catalog
from simulator.legs import Leg
from simulator.people import Prompt, Turn
from simulator.standin import StandIn
from simulator.webhooks import Webhooks

STATIC = Path(__file__).parent / "static"
STATIC_URL = "/phone/static"  # public (webhooks/access.py): the page's code, never data
DEFAULT_DIALED = "+15550100000"  # a number no flow claims: the default flow answers it
IDLE_SECONDS = 600.0  # a page left alone this long: its caller hangs up
STEP_SECONDS = 30.0  # longest wait for the server to reach the next prompt
MAX_CALLS = 20  # calls in progress at once, so a forgotten tab cannot pile up threads
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Line:
    """A flow the page can call, and the number dialed to reach it."""

    flow: str
    number: str


def lines_of(catalog: Catalog) -> list[Line]:
    """Each flow and a number that reaches it: its first, or any other for the default."""
    return [
        Line(f.flow.id, f.flow.numbers[0] if f.flow.numbers else DEFAULT_DIALED)
        for f in catalog.flows
    ]


class PlaceCall(BaseModel):
    flow: str | None = None  # a flow id from GET /phone/flows
    number: str | None = None  # or a dialed number (Twilio's `To`)
    caller: str = "+15555550100"


class TakeTurn(BaseModel):
    kind: Literal["digits", "speech", "silence", "hangup"]
    text: str = ""


class _Browser:
    """The person at the page: each prompt goes to the page, the answer comes back."""

    def __init__(self) -> None:
        self.answers: queue.Queue[Turn] = queue.Queue()
        self.prompts: queue.Queue[Prompt | None] = queue.Queue()  # None: the call ended

    def turn(self, prompt: Prompt) -> Turn:
        self.prompts.put(prompt)
        try:
            return self.answers.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            return Turn(hang_up=True, after=0.0)

    def patience(self) -> float | None:
        return None

    def gives_up(self) -> bool:
        return True

    def talk_seconds(self) -> float:
        return 0.0

    def record_seconds(self) -> float:
        return 5.0


@dataclass
class _Call:
    leg: Leg
    person: _Browser
    flow: str
    seen: int = 0  # sentences of leg.heard already sent to the page
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def step(self) -> dict[str, Any]:
        """Wait for the next prompt or the end; what the caller heard meanwhile."""
        try:
            prompt = self.person.prompts.get(timeout=STEP_SECONDS)
        except queue.Empty:
            prompt = None
            self.error = self.error or f"the server did not answer within {STEP_SECONDS:.0f}s"
        heard, self.seen = self.leg.heard[self.seen :], len(self.leg.heard)
        sid = self.leg.sid
        body: dict[str, Any] = {
            "sid": sid,
            "flow": self.flow,
            "heard": heard,
            "prompt": None,
            "ended": prompt is None,
            "end": self.leg.end if prompt is None else None,
            "ending": ending(self.leg.end, self.error) if prompt is None else None,
            "context_url": f"/api/calls/{sid}",
            "events_url": f"/api/calls/{sid}/events",
        }
        if prompt is not None:
            body["prompt"] = {
                "input": prompt.input,
                "num_digits": prompt.num_digits,
                "finish_on_key": prompt.finish_on_key,
                "timeout": prompt.timeout,
            }
        return body


def ending(end: str, error: str = "") -> str:
    """How the call ended, in the words of someone trying the flow."""
    kind, _, target = end.partition(":")
    if error or kind == "error":
        return f"The call failed: {error or 'see the server log'}"
    return {
        "queue": f"Queued for a person in '{target}'. Nobody answers here, so the call ends.",
        "dial": f"Transferred to {target}. Nobody answers here, so the call ends.",
        "record": "Asked to leave a message. The call ends here.",
        "hangup": "The flow hung up.",
        "rejected": "The flow rejected the call.",
        "hung-up": "You hung up.",
    }.get(kind, "The call ended.")


def phone_router(
    lines: Callable[[], Sequence[Line]],
    public_url: str,
    auth_token: str | None,
    *,
    host: str | None = None,
) -> APIRouter:
    """`GET /phone`, `GET /phone/flows`, `POST /phone/calls`, `POST /phone/calls/{sid}/turn`.

    `public_url` is the base Twilio calls (and signs); `host`, if given, is where the
    requests actually go (the server's own address behind a tunnel or proxy).
    """
    router = APIRouter()
    page = (STATIC / "phone.html").read_text(encoding="utf-8")
    calls: dict[str, _Call] = {}
    lock = threading.Lock()

    @router.get("/phone", response_class=HTMLResponse, include_in_schema=False)
    def phone() -> HTMLResponse:
        headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
        return HTMLResponse(page, headers=headers)

    @router.get("/phone/flows")
    def flows() -> list[dict[str, str]]:
        return [{"flow": line.flow, "number": line.number} for line in lines()]

    @router.post("/phone/calls")
    def place(body: PlaceCall) -> dict[str, Any]:
        known = list(lines())
        line = next((x for x in known if body.flow in (None, x.flow)), None)
        if body.number:
            line = Line(next((x.flow for x in known if x.number == body.number), ""), body.number)
        elif line is None:
            raise HTTPException(404, f"no flow '{body.flow}': see GET /phone/flows")
        with lock:
            for sid in [sid for sid, c in calls.items() if c.done.is_set()]:
                del calls[sid]
            if len(calls) >= MAX_CALLS:
                raise HTTPException(429, f"{MAX_CALLS} calls are in progress: hang one up")
            webhooks = Webhooks(public_url, auth_token, hosts=[host] if host else ())
            standin = StandIn(webhooks, stops=("Enqueue", "Dial", "Record"))
            person = _Browser()
            leg = standin.call(person, caller=body.caller, called=line.number)
            call = calls[leg.sid] = _Call(leg, person, line.flow)
        threading.Thread(target=_run, args=(standin, call), daemon=True).start()
        return call.step()

    @router.post("/phone/calls/{sid}/turn", responses={404: {"description": "No such call."}})
    def turn(sid: str, body: TakeTurn) -> dict[str, Any]:
        call = calls.get(sid)
        if call is None or call.done.is_set():
            raise HTTPException(404, f"no call {sid} in progress")
        call.person.answers.put(_turn_of(body))
        return call.step()

    router.mount(STATIC_URL, StaticFiles(directory=STATIC), name="phone-static")
    return router


def _turn_of(body: TakeTurn) -> Turn:
    if body.kind == "digits":
        return Turn(digits=body.text.strip())
    if body.kind == "speech":
        return Turn(speech=body.text.strip())
    if body.kind == "hangup":
        return Turn(hang_up=True, after=0.0)
    return Turn.silence()


def _run(standin: StandIn, call: _Call) -> None:
    try:
        standin.run()
    except Exception as err:  # shown on the page: the point is to find what is wrong
        call.error = str(err)
    finally:
        standin.webhooks.close()
        call.done.set()
        call.person.prompts.put(None)
