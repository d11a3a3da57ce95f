"""The pure step function: (flow, state, caller event, time) -> (actions, state, events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from flows.loader import LoadedFlow, load_text
from ivr.actions import (
    CallerEvent,
    Dial,
    DialResult,
    Digits,
    Enqueue,
    Hangup,
    Listen,
    Record,
    RequestCallback,
    Silence,
    Speech,
    Step,
)
from ivr.engine import escape_step, start_call, step
from ivr.state import CallState

FLOW = """
id: engine-test
locale: en-US
escape: {queue: support, after_failures: 2}
hours:
  office:
    timezone: America/New_York
    open: {mon-fri: "08:00-20:00"}
    closed_dates: ["2026-12-25"]
queues:
  support: {callback: {offer_after: 30s}}
  late: {hours: office, callback: {offer_after: 30s}}
start: greeting
nodes:
  greeting: {say: "Hello. Press 0 or say agent for a person.", next: route}
  route:
    branch:
      cases:
        - {if: {var: caller, starts_with: "+90"}, goto: turkish}
      otherwise: main
  turkish: {say: "Merhaba.", next: main}
  main:
    menu:
      prompt: "Billing, press 1. Outage, press 2. Hours, press 3. Sales, press 4."
      no_match: "That is not an option."
      options:
        - {digit: "1", phrases: [billing, bill], goto: account}
        - {digit: "2", phrases: [outage, internet down], goto: outage}
        - {digit: "3", phrases: [hours], goto: open_check}
        - {digit: "4", phrases: [sales], goto: sales}
  account:
    ask: {prompt: "Enter your account number, then press pound.",
          digits: {min: 6, max: 10}, save_as: account}
    next: thanks
  thanks: {end: {say: "Account {account} noted.", resolved: true}}
  outage: {queue: late}
  open_check: {hours: office, open: open_yes, closed: open_no}
  open_yes: {end: {say: "We are open.", resolved: true}}
  open_no: {callback: {queue: late}}
  sales:
    transfer: {to: "+15005550011", on_fail: sales_vm}
  sales_vm: {voicemail: {say: "Leave a message for sales."}}
"""

OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
CLOSED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Sunday 22:00 in New York
CHRISTMAS = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def loaded() -> LoadedFlow:
    return load_text(FLOW, "engine-test.yaml")


def walk(
    loaded: LoadedFlow,
    turns: list[CallerEvent],
    at: datetime = OPEN,
    caller: str = "+15555550100",
) -> list[Step]:
    steps = [start_call(loaded.flow, loaded.version, "CA1", caller, "+15005550006", at)]
    for turn in turns:
        steps.append(step(loaded.flow, steps[-1].state, turn, at))
    return steps


def kinds(s: Step) -> list[str]:
    return [e.kind for e in s.events]


def escape_via(s: Step) -> str | None:
    return next((str(e.details["via"]) for e in s.events if e.kind == "escape"), None)


@dataclass(frozen=True)
class Outcome:
    node: str  # where the call is (waiting or handed over)
    final: str  # Listen / Enqueue:queue / Dial:target / Callback:queue / Record / Hangup
    via: str | None = None  # escape via, when an escape happened in the last step


def outcome(s: Step) -> Outcome:
    last = s.actions[-1]
    match last:
        case Listen():
            final = "Listen"
        case Enqueue(queue=q):
            final = f"Enqueue:{q}"
        case Dial(target=t):
            final = f"Dial:{t}"
        case RequestCallback(queue=q):
            final = f"Callback:{q}"
        case Record():
            final = "Record"
        case Hangup():
            final = "Hangup"
        case _:
            final = type(last).__name__
    return Outcome(s.state.node, final, escape_via(s))


CASES = [
    pytest.param([], OPEN, Outcome("main", "Listen"), id="start-plays-greeting-then-waits-at-menu"),
    pytest.param([Digits("1")], OPEN, Outcome("account", "Listen"), id="key-picks-option"),
    pytest.param(
        [Speech("it's about my bill")], OPEN, Outcome("account", "Listen"), id="phrase-picks-option"
    ),
    pytest.param([Speech("2")], OPEN, Outcome("outage", "Enqueue:late"), id="spoken-digit-picks"),
    pytest.param(
        [Speech("Two.")], OPEN, Outcome("outage", "Enqueue:late"), id="spoken-number-word-picks"
    ),
    pytest.param(
        [Digits("0")], OPEN, Outcome("main", "Enqueue:support", "digit"), id="zero-at-menu-escapes"
    ),
    pytest.param(
        [Speech("I want to talk to a REAL person!")],
        OPEN,
        Outcome("main", "Enqueue:support", "speech"),
        id="phrase-in-sentence-escapes",
    ),
    pytest.param(
        [Speech("billing, no wait: representative")],
        OPEN,
        Outcome("main", "Enqueue:support", "speech"),
        id="escape-phrase-beats-option-phrase",
    ),
    pytest.param([Silence()], OPEN, Outcome("main", "Listen"), id="silence-once-reprompts"),
    pytest.param(
        [Silence(), Silence()], OPEN, Outcome("main", "Listen"), id="silence-twice-reprompts"
    ),
    pytest.param(
        [Silence(), Silence(), Silence()],
        OPEN,
        Outcome("main", "Enqueue:support", "failures"),
        id="silence-thrice-goes-to-agent",
    ),
    pytest.param(
        [Speech("pizza"), Digits("9"), Speech("xyzzy")],
        OPEN,
        Outcome("main", "Enqueue:support", "failures"),
        id="garbage-until-agent",
    ),
    pytest.param(
        [Digits("1"), Digits("0")],
        OPEN,
        Outcome("account", "Enqueue:support", "digit"),
        id="zero-at-ask-escapes",
    ),
    pytest.param(
        [Digits("1"), Speech("operator please")],
        OPEN,
        Outcome("account", "Enqueue:support", "speech"),
        id="phrase-at-ask-escapes",
    ),
    pytest.param(
        [Digits("1"), Digits("123456#")], OPEN, Outcome("thanks", "Hangup"), id="ask-accepts-digits"
    ),
    pytest.param(
        [Digits("1"), Speech("it is on the bill somewhere")],
        OPEN,
        Outcome("account", "Listen"),
        id="ask-spoken-garbage-reprompts",
    ),
    pytest.param(
        [Digits("1"), Speech("123456")], OPEN, Outcome("thanks", "Hangup"), id="ask-spoken-number"
    ),
    pytest.param(
        [Digits("1"), Speech("١٢٣٤٥٦")], OPEN, Outcome("thanks", "Hangup"), id="ask-arabic-digits"
    ),
    pytest.param(
        [Digits("1"), Speech("²³⁴⁵⁶⁷")], OPEN, Outcome("account", "Listen"), id="ask-not-digits"
    ),
    pytest.param(
        [Digits("1"), Digits("12")], OPEN, Outcome("account", "Listen"), id="ask-too-short"
    ),
    pytest.param(
        [Digits("1"), Digits("12"), Digits("34"), Digits("56")],
        OPEN,
        Outcome("account", "Enqueue:support", "failures"),
        id="ask-bad-thrice-goes-to-agent",
    ),
    pytest.param([Digits("3")], OPEN, Outcome("open_yes", "Hangup"), id="hours-open"),
    pytest.param([Digits("3")], CLOSED, Outcome("open_no", "Callback:late"), id="hours-closed"),
    pytest.param([Digits("3")], CHRISTMAS, Outcome("open_no", "Callback:late"), id="closed-date"),
    pytest.param(
        [Digits("2")], CLOSED, Outcome("outage", "Callback:late"), id="closed-queue-callback"
    ),
    pytest.param([Digits("4")], OPEN, Outcome("sales", "Dial:+15005550011"), id="transfer-dials"),
    pytest.param(
        [Digits("4"), DialResult("busy")],
        OPEN,
        Outcome("sales_vm", "Record"),
        id="busy-goes-on-fail",
    ),
    pytest.param(
        [Digits("4"), DialResult("completed")], OPEN, Outcome("sales", "Hangup"), id="answered-ends"
    ),
]


@pytest.mark.parametrize(("turns", "at", "expected"), CASES)
def test_step_table(
    loaded: LoadedFlow, turns: list[CallerEvent], at: datetime, expected: Outcome
) -> None:
    assert outcome(walk(loaded, turns, at)[-1]) == expected


def test_greeting_then_menu_prompt_in_one_answer(loaded: LoadedFlow) -> None:
    first = walk(loaded, [])[0]
    assert kinds(first)[:2] == ["call_started", "node_entered"]
    listen = first.actions[-1]
    assert isinstance(listen, Listen)
    assert listen.num_digits == 1 and listen.speech
    assert "agent" in listen.hints and "billing" in listen.hints
    assert first.state.path == ("greeting", "route", "main")


def test_reprompt_uses_the_menus_own_no_match_text(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Digits("9")])[-1]
    listen = last.actions[-1]
    assert isinstance(listen, Listen)
    assert listen.prompts[0].text == "That is not an option."
    assert kinds(last) == ["input", "no_match", "prompt", "prompt"]


def test_saved_value_fills_later_prompt_and_travels_with_the_call(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Speech("billing"), Digits("12345678#")])[-1]
    assert any(e.details.get("text") == "Account 12345678 noted." for e in last.events)
    assert last.state.variables == {"account": "12345678"}
    assert last.state.context()["said"] == ["billing"]
    ended = [e for e in last.events if e.kind == "call_ended"]
    assert ended and ended[0].details["resolved"] is True


def test_whisper_tells_the_agent_what_the_caller_did(loaded: LoadedFlow) -> None:
    last = walk(
        loaded,
        [
            Speech("billing"),
            Digits("12345678"),
        ],
        OPEN,
    )[-1]
    assert last.state.route == "end"
    escaped = walk(loaded, [Speech("billing"), Speech("agent")])[-1]
    enqueue = escaped.actions[-1]
    assert isinstance(enqueue, Enqueue)
    assert "main, account" in enqueue.whisper and "billing" in enqueue.whisper


def test_branch_on_caller_prefix(loaded: LoadedFlow) -> None:
    first = walk(loaded, [], caller="+905321234567")[0]
    assert first.state.path == ("greeting", "route", "turkish", "main")


def test_closed_callback_is_scheduled_for_opening_time(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Digits("2")], CLOSED)[-1]
    callback = last.actions[-1]
    assert isinstance(callback, RequestCallback)
    assert callback.number == "+15555550100"
    assert callback.not_before == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # Monday 08:00 NY
    said = [e.details["text"] for e in last.events if e.kind == "prompt"][-1]
    assert "Monday 08:00" in said and "5 5 5 5 5 5 0 1 0 0" in said
    requested = [e for e in last.events if e.kind == "callback_requested"]
    assert requested[0].details["queue"] == "late"


def test_withheld_number_gets_voicemail_not_a_callback(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Digits("2")], CLOSED, caller="anonymous")[-1]
    assert isinstance(last.actions[-1], Record)


def test_input_when_not_at_a_prompt_fails_open(loaded: LoadedFlow) -> None:
    handed_over = walk(loaded, [Digits("2")])[-1]  # in the queue now
    again = step(loaded.flow, handed_over.state, Digits("1"), OPEN)
    assert outcome(again) == Outcome("outage", "Enqueue:support", "error")


def test_unknown_node_in_state_fails_open(loaded: LoadedFlow) -> None:
    state = walk(loaded, [])[0].state.moved(node="no_such_node")
    assert outcome(step(loaded.flow, state, Digits("1"), OPEN)).final == "Enqueue:support"


def test_state_from_an_older_flow_version_fails_open_not_crash(loaded: LoadedFlow) -> None:
    state = CallState("CA9", "engine-test", "old", "+1555", "+1", OPEN, node="gone", waiting=True)
    result = step(loaded.flow, state, Speech("hello"), OPEN)
    assert escape_via(result) == "error"
    assert isinstance(result.actions[-1], Enqueue)


def test_escape_step_from_anywhere(loaded: LoadedFlow) -> None:
    state = walk(loaded, [Digits("1")])[-1].state
    result = escape_step(loaded.flow, state, "fallback", OPEN)
    assert outcome(result) == Outcome("account", "Enqueue:support", "fallback")


def test_error_inside_a_node_still_reaches_a_person(loaded: LoadedFlow) -> None:
    broken = loaded.flow.model_copy(update={"hours": {}})  # the hours node now names nothing
    first = start_call(broken, "v", "CA2", "+15555550100", "+1", OPEN)
    result = step(broken, first.state, Digits("3"), OPEN)
    assert outcome(result) == Outcome("open_check", "Enqueue:support", "error")


def test_the_same_inputs_give_the_same_steps(loaded: LoadedFlow) -> None:
    turns: list[CallerEvent] = [Silence(), Speech("billing"), Digits("123"), Digits("1234567")]
    assert walk(loaded, turns) == walk(loaded, turns)


def test_steps_are_counted_for_idempotency(loaded: LoadedFlow) -> None:
    steps = walk(loaded, [Silence(), Digits("1")])
    assert [s.state.steps for s in steps] == [1, 2, 3]


def test_events_are_numbered_per_call_without_gaps(loaded: LoadedFlow) -> None:
    steps = walk(loaded, [Silence(), Speech("billing"), Digits("0")])
    numbers = [e.seq for s in steps for e in s.events]
    assert numbers == list(range(1, len(numbers) + 1))
    retried = step(loaded.flow, steps[1].state, Speech("billing"), OPEN)
    assert retried.events == steps[2].events  # a retry numbers its events the same way


TRANSFER_ESCAPE = """
id: transfer-escape
escape: {transfer: "+15005550020", digits: "*", after_failures: 1}
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for news. Press star or say agent for a person."
      options: [{digit: "1", goto: news}]
  news: {end: {say: "No news.", resolved: true}}
"""


def test_escape_by_transfer_and_custom_key() -> None:
    flow = load_text(TRANSFER_ESCAPE, "t.yaml")
    first = start_call(flow.flow, flow.version, "CA3", "+15555550100", "+1", OPEN)
    assert outcome(step(flow.flow, first.state, Digits("*"), OPEN)) == Outcome(
        "menu", "Dial:+15005550020", "digit"
    )
    # after_failures: 1 means one re-prompt, then a person.
    once = step(flow.flow, first.state, Silence(), OPEN)
    assert outcome(once).final == "Listen"
    assert outcome(step(flow.flow, once.state, Silence(), OPEN)).via == "failures"
    # "0" is an ordinary wrong key when the escape key is "*".
    assert outcome(step(flow.flow, first.state, Digits("0"), OPEN)).final == "Listen"


def test_unanswered_escape_transfer_takes_a_message() -> None:
    flow = load_text(TRANSFER_ESCAPE, "t.yaml")
    first = start_call(flow.flow, flow.version, "CA4", "+15555550100", "+1", OPEN)
    dialing = step(flow.flow, first.state, Digits("*"), OPEN)
    result = step(flow.flow, dialing.state, DialResult("no-answer"), OPEN)
    assert isinstance(result.actions[-1], Record)


MULTILINGUAL = """
id: multi
locale: tr-TR
escape: {queue: destek, phrases: ["canlı destek"]}
queues: {destek: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: {tr-TR: "Fatura için 1'e basın. Temsilci için 0'a basın.", en-US: "Press 1."}
      options: [{digit: "1", phrases: [fatura], goto: done}]
  done: {end: {say: "Teşekkürler.", resolved: true}}
"""


@pytest.mark.parametrize(
    "said",
    [
        pytest.param("Müşteri temsilcisine bağlanmak istiyorum", id="tr-suffixed-word"),
        pytest.param("TEMSİLCİ", id="tr-dotted-capital-i"),
        pytest.param("operatör lütfen", id="tr-accented"),
        pytest.param("canli destek", id="flow-own-phrase-without-accent"),
        pytest.param("agent", id="english-works-everywhere"),
    ],
)
def test_turkish_escape_phrases(said: str) -> None:
    flow = load_text(MULTILINGUAL, "m.yaml")
    first = start_call(flow.flow, flow.version, "CA5", "+905321234567", "+1", OPEN)
    listen = first.actions[-1]
    assert isinstance(listen, Listen) and listen.prompts[0].text.startswith("Fatura")
    assert outcome(step(flow.flow, first.state, Speech(said), OPEN)).final == "Enqueue:destek"


def test_a_closed_queue_node_does_not_say_connecting_first(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Digits("2")], CLOSED)[-1]
    said = [e.details["text"] for e in last.events if e.kind == "prompt"]
    assert len(said) == 1 and "when we open" in said[0]


def test_arabic_indic_digits_are_saved_as_ascii(loaded: LoadedFlow) -> None:
    last = walk(loaded, [Digits("1"), Speech("١٢٣٤٥٦")])[-1]
    assert last.state.variables == {"account": "123456"}


def test_a_long_chain_of_announcements_is_not_an_error() -> None:
    nodes = "\n".join(f'  s{i}: {{say: "Note {i}.", next: s{i + 1}}}' for i in range(80))
    text = f"""
id: long
escape: {{queue: support}}
queues: {{support: {{callback: {{offer_after: 30s}}}}}}
start: s0
nodes:
{nodes}
  s80: {{end: {{say: "Press 0 or say agent for a person. Bye.", resolved: true}}}}
"""
    flow = load_text(text, "long.yaml")
    first = start_call(flow.flow, flow.version, "CA6", "+15555550100", "+1", OPEN)
    assert outcome(first).final == "Hangup" and escape_via(first) is None
