"""Every shipped flow over HTTP: at every menu and every ask, the escape key and an escape
phrase reach a person in that very answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.catalog import Catalog
from flows.loader import LoadedFlow, flow_files, load_path
from flows.model import AskNode, MenuNode
from flows.phrases import escape_phrases
from ivr.actions import Digits, Listen, Speech, Step
from ivr.engine import start_call, step
from ivr.ports import MemoryCallLog
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "flows.example.yaml", *map(Path, flow_files(ROOT / "flows" / "templates"))]
SHIPPED = [p for p in SHIPPED if p.exists()]
TOKEN = "shipped-token"
# Three moments, so that nodes behind opening hours are reached open and closed.
MOMENTS = [
    datetime(2026, 11, 23, 15, 0, tzinfo=UTC),  # Monday afternoon in Europe, morning in the US
    datetime(2026, 11, 25, 9, 0, tzinfo=UTC),  # Wednesday morning
    datetime(2026, 11, 22, 3, 0, tzinfo=UTC),  # Sunday night
]
PERSON_EVENTS = {"queued", "transfer", "callback_requested", "voicemail"}


def _answers(loaded: LoadedFlow, node_name: str) -> list[str]:
    """Turns that move on from an input node: each option, a valid answer."""
    node = loaded.flow.nodes[node_name]
    if isinstance(node, MenuNode):
        return [o.digit or o.phrases[0] for o in node.menu.options]
    assert isinstance(node, AskNode)
    if node.ask.digits is not None:
        return ["7" * node.ask.digits.min]
    return ["my order number is 12345"]


def _event(turn: str) -> Digits | Speech:
    return Digits(turn) if turn.isdigit() else Speech(turn)


def input_routes(loaded: LoadedFlow, now: datetime) -> dict[str, list[str]]:
    """For every input node reachable at `now`, the first list of turns that reaches it."""
    flow = loaded.flow
    first: Step = start_call(flow, loaded.version, "CAroute", "+15555550100", "+1", now)
    routes: dict[str, list[str]] = {}
    frontier: list[tuple[Step, list[str]]] = [(first, [])]
    while frontier:
        current, turns = frontier.pop(0)
        if not isinstance(current.actions[-1], Listen) or current.state.node in routes:
            continue
        routes[current.state.node] = turns
        for answer in _answers(loaded, current.state.node):
            frontier.append((step(flow, current.state, _event(answer), now), [*turns, answer]))
    return routes


def cases() -> Iterator[object]:
    for path in SHIPPED:
        loaded = load_path(path)
        seen: set[str] = set()
        for moment in MOMENTS:
            for node, turns in input_routes(loaded, moment).items():
                if node in seen:
                    continue
                seen.add(node)
                phrase = escape_phrases(loaded.flow.locale, loaded.flow.escape.phrases)[0]
                for how, turn in (("key", loaded.flow.escape.digits), ("speech", phrase)):
                    yield pytest.param(
                        path, moment, turns, turn, how, id=f"{path.stem}-{node}-{how}"
                    )


@pytest.mark.parametrize(("path", "moment", "turns", "escape", "how"), list(cases()))
def test_escape_at_every_input_of_every_shipped_flow(
    path: Path, moment: datetime, turns: list[str], escape: str, how: str
) -> None:
    loaded = load_path(path)
    log = MemoryCallLog()
    app = create_app(
        Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}),
        lambda: Catalog((loaded,)),
        log,
        clock=lambda: moment,
    )
    dialed = loaded.flow.numbers[0] if loaded.flow.numbers else "+15005550006"
    with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
        said = f"please, I want {escape}!" if how == "speech" else escape
        # The trailing silence confirms the number when the escape books a callback.
        call = twilio.dial([*turns, said, ""], to=dialed)
    kinds = [e.kind for e in log.events_of(call.sid)]
    escapes = [e for e in log.events_of(call.sid) if e.kind == "escape"]
    assert [e.details["via"] for e in escapes] == ["digit" if how == "key" else "speech"]
    after = kinds[kinds.index("escape") :]
    assert PERSON_EVENTS & set(after), after
    assert call.end.startswith(("queue:", "dial:", "record", "hangup"))


def test_every_shipped_flow_is_covered() -> None:
    assert (ROOT / "flows.example.yaml") in SHIPPED
