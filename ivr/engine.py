"""The pure step function: (flow, call state, caller event, time) -> (actions, state, events).

No I/O, no globals, no clock: the same arguments always give the same step. The caller
promises of SPEC §1 are enforced here, whatever the flow file says: the escape key and
escape phrases work at every prompt, failures are bounded, and any error, unknown state
or impossible input routes the caller to a person instead of raising.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from flows.model import (
    AskNode,
    BranchNode,
    CallbackNode,
    EndNode,
    Flow,
    HoursNode,
    MenuNode,
    Model,
    QueueNode,
    SayNode,
    TransferNode,
    VoicemailNode,
    node_kind,
)
from flows.phrases import best_phrase, escape_phrases, language_of, spoken_digit
from ivr.actions import (
    Action,
    CallerEvent,
    Dial,
    DialResult,
    Digits,
    Enqueue,
    Event,
    Hangup,
    Listen,
    Record,
    RequestCallback,
    Say,
    Silence,
    Speech,
    Step,
)
from ivr.callback_words import callback_words, variables
from ivr.conditions import holds
from ivr.context import whisper
from ivr.errors import EngineError
from ivr.messages import message
from ivr.opening_hours import is_open, next_opening
from ivr.prompts import render
from ivr.state import CallState, Turn

# Lint refuses input-free cycles; this bound catches whatever slips through at run time.
MAX_HOPS = 64
ANSWERED = frozenset({"answered", "completed"})


def start_call(
    flow: Flow, version: str, call_sid: str, caller: str, dialed: str, now: datetime
) -> Step:
    state = CallState(
        call_sid=call_sid,
        flow_id=flow.id,
        flow_version=version,
        caller=caller,
        dialed=dialed,
        started_at=now,
        locale=flow.locale,
    )
    return _guarded(flow, state, now, lambda run: run.start())


def step(flow: Flow, state: CallState, event: CallerEvent, now: datetime) -> Step:
    """The caller did something (or nothing): what happens next."""
    return _guarded(flow, state, now, lambda run: run.handle(event))


def escape_step(flow: Flow, state: CallState, via: str, now: datetime) -> Step:
    """Send the caller to a person from wherever they are (fallback URL, bad request)."""
    return _guarded(flow, state, now, lambda run: run.to_person(via))


def _guarded(flow: Flow, state: CallState, now: datetime, body: Any) -> Step:
    run = _Run(flow, state, now)
    try:
        body(run)
    except Exception as exc:  # fail open: whatever broke, the caller goes to a person
        # Keep where the caller got to (so the error is logged at the node that broke)
        # but none of the half-built answer.
        reached = run.state.moved(waiting=False)
        kept = [e for e in run.events if e.kind != "prompt"]
        run = _Run(flow, reached, now)
        run.events.extend(kept)
        try:
            run.to_person("error", error=f"{type(exc).__name__}: {exc}")
        except Exception:
            run = _Run(flow, state, now)
            run.last_resort()
    return run.finish()


class _Run:
    """One step in the making: collects actions and events as nodes are walked."""

    def __init__(self, flow: Flow, state: CallState, now: datetime) -> None:
        self.flow = flow
        self.state = state
        self.now = now
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.locale = state.locale or flow.locale
        self.lang = language_of(self.locale)

    # --- bookkeeping -------------------------------------------------------------
    def finish(self) -> Step:
        first = self.state.events + 1
        events = tuple(
            Event(e.kind, e.at, e.node, e.details, first + i) for i, e in enumerate(self.events)
        )
        state = self.state.moved(steps=self.state.steps + 1, events=self.state.events + len(events))
        return Step(tuple(self.actions), state, events)

    def emit(self, kind: str, node: str | None, **details: Any) -> None:
        self.events.append(Event(kind, self.now, node, details))

    def variables(self) -> dict[str, str]:
        return variables(self.flow, self.state)

    def text(self, prompt: str | dict[str, str]) -> str:
        return render(prompt, self.locale, self.variables())

    def say(self, text: str, node: str | None) -> Say:
        spoken = Say(text, self.locale, self.flow.voice)
        self.actions.append(spoken)
        self.emit("prompt", node, text=text)
        return spoken

    def remember(self, node: str, kind: str, value: str = "") -> None:
        self.state = self.state.moved(turns=(*self.state.turns, Turn(node, kind, value)))

    # --- walking nodes -------------------------------------------------------------
    def start(self) -> None:
        self.emit(
            "call_started",
            None,
            caller=self.state.caller,
            dialed=self.state.dialed,
            flow_version=self.state.flow_version,
        )
        self.goto(self.flow.start)

    def goto(self, name: str | None) -> None:
        """Enter nodes until one waits for the caller or hands the call over."""
        # Lint refuses input-free cycles, so a walk longer than the flow itself is a loop.
        for _ in range(max(MAX_HOPS, len(self.flow.nodes) + 1)):
            if name is None:
                return
            node = self.flow.nodes.get(name)
            if node is None:
                raise EngineError(f"the flow has no node '{name}'")
            self.state = self.state.moved(
                node=name, waiting=False, failures=0, path=(*self.state.path, name)
            )
            self.emit("node_entered", name, node_kind=node_kind(node))
            name = self.enter(name, node)
        raise EngineError(f"no prompt or destination within {MAX_HOPS} nodes")

    def enter(self, name: str, node: Model) -> str | None:
        match node:
            case SayNode():
                self.say(self.text(node.say), name)
                return node.next
            case HoursNode():
                hours = self.flow.hours.get(node.hours)
                if hours is None:
                    raise EngineError(f"node '{name}' names unknown hours '{node.hours}'")
                return node.open if is_open(hours, self.now) else node.closed
            case BranchNode():
                for case in node.branch.cases:
                    if holds(case.if_, self.variables(), self.now):
                        return case.goto
                return node.branch.otherwise
            case MenuNode() | AskNode():
                self.listen(name, node, prefix=None)
            case QueueNode():
                if self.queue_closed(node.queue):
                    self.callback(node.queue, name, None)  # not "connecting you", then "closed"
                    return None
                if node.say is not None:
                    self.say(self.text(node.say), name)
                self.to_queue(node.queue, name, announce=node.say is None)
            case TransferNode():
                spec = node.transfer
                whisper_text = self.text(spec.whisper) if spec.whisper else self.whisper()
                self.emit("transfer", name, target=spec.to)
                self.actions.append(Dial(spec.to, spec.timeout, whisper_text))
                self.state = self.state.moved(route=f"transfer:{spec.to}")
            case CallbackNode():
                self.callback(node.callback.queue, name, node.callback.say)
            case VoicemailNode():
                self.say(self.text(node.voicemail.say), name)
                self.voicemail(name, node.voicemail.max_length, node.voicemail.queue)
            case EndNode():
                if node.end.say is not None:
                    self.say(self.text(node.end.say), name)
                self.actions.append(Hangup())
                self.emit("call_ended", name, resolved=node.end.resolved)
                self.state = self.state.moved(route="end")
            case _:
                raise EngineError(f"node '{name}' has an unknown kind")
        return None

    def listen(self, name: str, node: Model, prefix: str | None) -> None:
        prompts: list[Say] = []
        if prefix is not None:
            prompts.append(Say(prefix, self.locale, self.flow.voice))
        escape = escape_phrases(self.locale, self.flow.escape.phrases)
        if isinstance(node, MenuNode):
            menu = node.menu
            prompts.append(Say(self.text(menu.prompt), self.locale, self.flow.voice))
            hints = tuple(p for o in menu.options for p in o.phrases) + escape
            listen = Listen(
                name, tuple(prompts), self.locale, menu.timeout, 1, None, "", True, hints
            )
        else:
            assert isinstance(node, AskNode)
            ask = node.ask
            prompts.append(Say(self.text(ask.prompt), self.locale, self.flow.voice))
            hints = (tuple(ask.speech.hints) if ask.speech else ()) + escape
            digits = ask.digits
            finish = digits.finish_key if digits else "#"
            if finish == self.flow.escape.digits:
                # Twilio never sends the finish key: as the escape key it would be silence.
                finish = "*" if finish == "#" else "#"
            listen = Listen(
                name,
                tuple(prompts),
                self.locale,
                ask.timeout,
                None,
                digits.max if digits else None,
                finish,
                True,
                hints,
            )
        for prompt in prompts:
            self.emit("prompt", name, text=prompt.text)
        self.actions.append(listen)
        self.state = self.state.moved(node=name, waiting=True)

    # --- the caller's input ----------------------------------------------------------
    def handle(self, event: CallerEvent) -> None:
        state = self.state
        node = self.flow.nodes.get(state.node)
        if isinstance(event, DialResult):
            self.dial_result(event.status, node)
            return
        if node is None or not state.waiting or not isinstance(node, MenuNode | AskNode):
            raise EngineError(f"input arrived while the call was not at a prompt ({state.node!r})")
        name = state.node
        if isinstance(event, Silence):
            self.remember(name, "silence")
            self.fail(name, node, "no_input")
            return
        if isinstance(event, Digits):
            digits = event.digits.strip()
            if digits == self.flow.escape.digits:
                self.remember(name, "digits", digits)
                self.emit("input", name, digits=digits)
                self.to_person("digit")
                return
        else:
            escape = escape_phrases(self.locale, self.flow.escape.phrases)
            phrase = best_phrase(event.text, escape, self.lang)
            if phrase is not None:
                self.remember(name, "speech", event.text)
                self.emit("input", name, speech=event.text, confidence=event.confidence)
                self.to_person("speech", phrase=phrase)
                return
        if isinstance(node, MenuNode):
            self.choose(name, node, event)
        else:
            self.answer(name, node, event)

    def choose(self, name: str, node: MenuNode, event: Digits | Speech) -> None:
        options = node.menu.options
        if isinstance(event, Digits):
            value = event.digits.strip()
            chosen = next((o for o in options if o.digit is not None and o.digit == value), None)
            self.remember(name, "digits", value)
            self.emit("input", name, digits=value)
        else:
            value = event.text
            phrase = best_phrase(value, [p for o in options for p in o.phrases], self.lang)
            chosen = next((o for o in options if phrase in o.phrases), None) if phrase else None
            if chosen is None:  # "two" or "2" said instead of pressed
                said = spoken_digit(value, self.lang)
                chosen = next((o for o in options if o.digit is not None and o.digit == said), None)
            self.remember(name, "speech", value)
            self.emit("input", name, speech=value, confidence=event.confidence)
        if chosen is None:
            self.fail(name, node, "no_match")
            return
        self.goto(chosen.goto)

    def answer(self, name: str, node: AskNode, event: Digits | Speech) -> None:
        ask = node.ask
        if isinstance(event, Digits):
            value = event.digits.strip()
            if ask.digits and ask.digits.finish_key:
                value = value.removesuffix(ask.digits.finish_key)
            self.remember(name, "digits", value)
            self.emit("input", name, digits=value)
        else:
            value = event.text.strip()
            self.remember(name, "speech", value)
            self.emit("input", name, speech=value, confidence=event.confidence)
            if ask.speech is None:  # a number spoken instead of keyed in: "١٢٣" is 123
                value = "".join(str(unicodedata.decimal(ch)) for ch in value if ch.isdecimal())
        if ask.digits and (ask.speech is None or isinstance(event, Digits)):
            valid = value.isascii() and value.isdigit()
            valid = valid and ask.digits.min <= len(value) <= ask.digits.max
        else:
            valid = bool(value)
        if not valid:
            self.fail(name, node, "no_match")
            return
        self.state = self.state.moved(variables={**self.state.variables, ask.save_as: value})
        self.goto(node.next)

    def fail(self, name: str, node: MenuNode | AskNode, kind: str) -> None:
        failures = self.state.failures + 1
        self.emit(kind, name, attempt=failures)
        if failures > self.flow.escape.after_failures:
            self.to_person("failures", attempts=failures)
            return
        self.state = self.state.moved(failures=failures)
        custom = None
        if isinstance(node, MenuNode):
            custom = node.menu.no_input if kind == "no_input" else node.menu.no_match
        if custom is not None:
            prefix = self.text(custom)
        elif isinstance(node, AskNode) and kind == "no_match" and node.ask.digits:
            prefix = message(self.locale, "bad_digits")
        else:
            prefix = message(self.locale, kind)
        self.listen(name, node, prefix=prefix)

    # --- reaching a person -------------------------------------------------------------
    def to_person(self, via: str, **details: Any) -> None:
        node = self.state.node or None
        self.emit("escape", node, via=via, **details)
        self.state = self.state.moved(waiting=False)
        escape = self.flow.escape
        if escape.transfer is not None:
            self.say(message(self.locale, "connecting"), node)
            self.emit("transfer", node, target=escape.transfer)
            self.actions.append(Dial(escape.transfer, 30.0, self.whisper()))
            self.state = self.state.moved(route=f"transfer:{escape.transfer}")
            return
        assert escape.queue is not None
        self.to_queue(escape.queue, node, announce=True)

    def queue_closed(self, queue: str) -> bool:
        hours = self.flow.hours.get(self.flow.queue(queue).hours or "")
        return hours is not None and not is_open(hours, self.now)

    def to_queue(self, queue: str, node: str | None, *, announce: bool) -> None:
        if self.queue_closed(queue):
            self.callback(queue, node, None)
            return
        if announce:
            self.say(message(self.locale, "connecting"), node)
        self.emit("queued", node, queue=queue)
        self.actions.append(Enqueue(queue, self.whisper()))
        self.state = self.state.moved(route=f"queue:{queue}")

    def callback(self, queue: str, node: str | None, say: str | dict[str, str] | None) -> None:
        number = self.state.caller
        if not (number.startswith("+") and number[1:].isdigit()):
            # Withheld or unusable caller id: no number to call back, so take a message.
            self.say(message(self.locale, "voicemail"), node)
            self.voicemail(node, 120.0, queue)
            return
        hours = self.flow.hours.get(self.flow.queue(queue).hours or "")
        opening = next_opening(hours, self.now) if hours is not None else None
        not_before = opening if opening is not None and opening > self.now else None
        text = callback_words(self.flow, self.state, queue, number, not_before, say)
        # On the phone these words wait until the caller has confirmed the number.
        confirm = self.say(text, node)
        self.emit(
            "callback_requested",
            node,
            queue=queue,
            number=number,
            not_before=not_before.isoformat() if not_before else None,
        )
        self.actions.append(RequestCallback(queue, number, not_before, confirm))
        self.state = self.state.moved(route=f"callback:{queue}")

    def voicemail(self, node: str | None, max_length: float, queue: str | None) -> None:
        self.emit("voicemail", node, queue=queue)
        self.actions.append(Record(max_length, queue))
        self.state = self.state.moved(route=f"voicemail:{queue or ''}")

    def dial_result(self, status: str, node: Model | None) -> None:
        name = self.state.node
        self.emit("transfer", name or None, status=status)
        if status in ANSWERED:
            self.actions.append(Hangup())
            return
        if isinstance(node, TransferNode) and self.state.route == f"transfer:{node.transfer.to}":
            self.say(message(self.locale, "transfer_failed"), name)
            if node.transfer.on_fail is not None:
                self.goto(node.transfer.on_fail)
            elif self.flow.escape.queue is not None:
                self.to_queue(self.flow.escape.queue, name, announce=True)
            else:
                self.voicemail(name, 120.0, None)
            return
        # The escape transfer itself went unanswered: a message is the human path left.
        self.say(message(self.locale, "transfer_failed"), name)
        self.say(message(self.locale, "voicemail"), name)
        self.voicemail(name, 120.0, self.flow.escape.queue)

    def whisper(self) -> str:
        return whisper(self.state.context(), self.flow)

    def last_resort(self) -> None:
        """Used only if even the escape route raised: the plainest route to a person."""
        escape = self.flow.escape
        self.emit("escape", self.state.node or None, via="error")
        if escape.transfer is not None:
            self.actions.append(Dial(escape.transfer, 30.0, ""))
        else:
            self.actions.append(Enqueue(escape.queue or "support", ""))
