"""Property-based tests of the caller promises (SPEC §1, §7) on generated flows.

For generated lint-clean flows (tests/flow_strategies.py) and random callers (keys,
phrases, silence, noise, transfers that fail or connect, any time of the year):

1. every call reaches a person or a resolved `end` within a bound of steps, never raises
   and never leaves the caller with dead air;
2. at every prompt, the escape key and an escape phrase (inside a sentence, any case,
   accents, punctuation) route to a person at once;
3. silence is re-prompted at most `after_failures` times, then a person;
4. the step function is deterministic;
5. the call state survives JSON at every step, and the next step does not notice;
6. phrase matching ignores case, accents and punctuation, and matches whole words.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.loader import check_text, load_text
from flows.model import INPUT_KINDS, Flow, node_kind
from flows.phrases import BUILTIN_ESCAPE_PHRASES, contains_phrase, escape_phrases, language_of
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
from ivr.engine import start_call, step
from ivr.state import CallState
from tests.flow_strategies import (
    CALLERS,
    COMBINING,
    DIALED,
    LOCALES,
    PUNCTUATION,
    GeneratedFlow,
    caller_turns,
    dial_results,
    escape_phrases_of,
    flow_documents,
    gaps,
    lint_clean_flows,
    moments,
    sentence_with,
    to_yaml,
)

PERSON = (Enqueue, Dial, RequestCallback, Record)
ANSWERED = ("answered", "completed")
CALL_SID = "CAproperty"

# IVR_PROPERTY_EXAMPLES=2000 for a long bug hunt; the default keeps the file under ~30 s.
EXAMPLES = int(os.environ.get("IVR_PROPERTY_EXAMPLES", "60"))
FLOW_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Loading a flow takes a while; but a linter that refuses many generated flows should
    # fail the filter health check loudly, so that one is kept.
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Played:
    """One request of a call: what the caller did (None: the call arrived), when, and
    the engine's answer."""

    event: CallerEvent | None
    now: datetime
    step: Step


def step_bound(flow: Flow, budget: int) -> int:
    """Most requests a call can take when the caller acts `budget` times and then stays
    silent: every failed transfer moves forward through the nodes, each prompt gives up
    after `after_failures` re-prompts, and an unanswered escape transfer takes a message."""
    return 1 + budget + len(flow.nodes) + flow.escape.after_failures + 4


def is_over(played: Played) -> bool:
    final = played.step.final
    return final is not None and not isinstance(final, Dial)


def play(
    data: st.DataObject,
    generated: GeneratedFlow,
    *,
    budget: int,
    escapes: bool = True,
) -> list[Played]:
    """A whole call: the caller acts `budget` times (keys, words, noise, silence), then
    stays silent; a transfer ends in a random dial status. Stops when the call is handed
    over or ended, or once it has run past the bound (the caller is then trapped)."""
    flow, version = generated.loaded.flow, generated.loaded.version
    now = data.draw(moments(), label="start")
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    trace = [Played(None, now, start_call(flow, version, CALL_SID, caller, DIALED, now))]
    acted = 0
    while not is_over(trace[-1]) and len(trace) <= step_bound(flow, budget):
        current = trace[-1].step
        now += data.draw(gaps(), label="gap")
        event: CallerEvent
        if isinstance(current.final, Dial):
            event = data.draw(dial_results(), label="dial result")
        elif current.waiting and acted < budget:
            listen = current.actions[-1]
            assert isinstance(listen, Listen)
            event = data.draw(caller_turns(generated.loaded, listen, escapes), label="turn")
            acted += 1
        elif current.waiting:
            event = Silence()
        else:
            raise AssertionError(f"dead air: the step neither waits nor hands over: {current}")
        trace.append(Played(event, now, step(flow, current.state, event, now)))
    return trace


def listening(trace: list[Played]) -> Iterator[tuple[Played, Listen]]:
    for played in trace:
        last = played.step.actions[-1] if played.step.actions else None
        if isinstance(last, Listen):
            yield played, last


def escapes(result: Step) -> list[str]:
    return [str(e.details.get("via")) for e in result.events if e.kind == "escape"]


def describe(trace: list[Played]) -> str:
    lines = []
    for played in trace:
        result = played.step
        last = type(result.actions[-1]).__name__ if result.actions else "-"
        kinds = ",".join(e.kind for e in result.events)
        lines.append(f"{played.event!r} @ {played.now} -> {result.state.node}: {last} [{kinds}]")
    return "\n".join(lines)


budgets = st.integers(0, 12)


# --- 0. the generator writes flows the linter accepts --------------------------------


@settings(FLOW_SETTINGS, max_examples=EXAMPLES // 2)
@given(document=flow_documents())
def test_generated_flows_are_lint_clean_by_construction(document: dict[str, Any]) -> None:
    """The flows below are built to pass every error rule of SPEC §2; if the linter
    disagrees, either it or the generator misreads the rules (the other tests would
    silently test fewer flows)."""
    text = to_yaml(document)
    loaded, problems = check_text(text, "generated.yaml")
    errors = [str(p) for p in problems if p.severity == "error"]
    assert loaded is not None and not errors, f"{text}\n" + "\n".join(errors)


# --- 1. every call ends at a person or a resolved end ---------------------------------


@FLOW_SETTINGS
@given(generated=lint_clean_flows(), budget=budgets, data=st.data())
def test_every_call_reaches_a_person_or_a_resolved_end(
    generated: GeneratedFlow, budget: int, data: st.DataObject
) -> None:
    flow = generated.loaded.flow
    trace = play(data, generated, budget=budget)
    story = f"{generated.text}\n{describe(trace)}"
    assert is_over(trace[-1]), f"no end within {step_bound(flow, budget)} steps\n{story}"
    for before in trace[:-1]:
        assert before.step.waiting or isinstance(before.step.final, Dial), story
    last = trace[-1].step
    final = last.final
    if isinstance(final, Hangup):
        after_answer = (
            len(trace) >= 2
            and isinstance(trace[-2].step.final, Dial)
            and isinstance(trace[-1].event, DialResult)
            and trace[-1].event.status in ANSWERED
        )
        ended = [e for e in last.events if e.kind == "call_ended"]
        assert after_answer or [e.details.get("resolved") for e in ended] == [True], (
            f"hung up without a person or a resolved end\n{story}"
        )
    else:
        assert isinstance(final, PERSON), story
        assert last.state.route is not None, story
    # A lint-clean flow never needs the engine's fail-open path.
    assert all("error" not in escapes(p.step) for p in trace), story
    numbers = [e.seq for p in trace for e in p.step.events]
    assert numbers == list(range(1, len(numbers) + 1)), story
    assert [p.step.state.steps for p in trace] == list(range(1, len(trace) + 1)), story


# --- 2. the escape key and escape phrases work at every prompt ------------------------


@FLOW_SETTINGS
@given(generated=lint_clean_flows(), budget=budgets, data=st.data())
def test_escape_key_and_phrase_reach_a_person_at_every_prompt(
    generated: GeneratedFlow, budget: int, data: st.DataObject
) -> None:
    flow = generated.loaded.flow
    phrases = escape_phrases_of(generated.loaded)
    trace = play(data, generated, budget=budget, escapes=False)
    for played, listen in listening(trace):
        story = f"{generated.text}\n{describe(trace)}\nat {listen.node}"
        now = played.now
        assert set(phrases) <= set(listen.hints), story

        keyed = step(flow, played.step.state, Digits(flow.escape.digits), now)
        assert isinstance(keyed.final, PERSON), f"{story}\n{keyed}"
        assert escapes(keyed) == ["digit"], f"{story}\n{keyed}"

        phrase = data.draw(st.sampled_from(phrases), label="escape phrase")
        said = data.draw(sentence_with(phrase, flow.locale), label="said")
        spoken = step(flow, played.step.state, Speech(said), now)
        assert isinstance(spoken.final, PERSON), f"{story}\n{said!r}\n{spoken}"
        assert escapes(spoken) == ["speech"], f"{story}\n{said!r}\n{spoken}"


@settings(FLOW_SETTINGS, max_examples=2 * EXAMPLES)
@given(generated=lint_clean_flows(), now=moments())
def test_the_escape_key_is_never_swallowed_as_a_prompts_finish_key(
    generated: GeneratedFlow, now: datetime
) -> None:
    """Twilio's <Gather finishOnKey> never sends the finish key: pressed alone it is "no
    input". If it were the escape key, pressing it at that prompt would count as silence.
    Every prompt of the flow is checked, reached by this caller or not."""
    flow = generated.loaded.flow
    for name, node in flow.nodes.items():
        if node_kind(node) not in INPUT_KINDS:
            continue
        there = flow.model_copy(update={"start": name})
        first = start_call(there, "v", CALL_SID, "+15555550100", DIALED, now)
        listen = first.actions[-1]
        assert isinstance(listen, Listen) and listen.node == name
        assert listen.finish_key != flow.escape.digits, (
            f"{generated.text}\nat {name}: the escape key {flow.escape.digits!r} "
            f"is the prompt's finish key"
        )


# --- 3. silence: at most after_failures re-prompts, then a person ---------------------


@FLOW_SETTINGS
@given(generated=lint_clean_flows(), budget=budgets, data=st.data())
def test_silence_is_reprompted_at_most_after_failures_times_then_a_person(
    generated: GeneratedFlow, budget: int, data: st.DataObject
) -> None:
    flow = generated.loaded.flow
    limit = flow.escape.after_failures
    trace = play(data, generated, budget=budget)
    for played, listen in listening(trace):
        story = f"{generated.text}\n{describe(trace)}\nat {listen.node}"
        state, now = played.step.state, played.now
        assert 0 <= state.failures <= limit, story
        reprompts = 0
        while True:
            now += data.draw(gaps(), label="gap")
            result = step(flow, state, Silence(), now)
            state = result.state
            if not result.waiting:
                break
            reprompts += 1
            again = result.actions[-1]
            assert isinstance(again, Listen) and again.node == listen.node, story
            assert [e.kind for e in result.events][:1] == ["no_input"], story
            assert reprompts <= limit, story
        assert reprompts == limit - played.step.state.failures, story
        assert isinstance(result.final, PERSON), f"{story}\n{result}"
        assert escapes(result) == ["failures"], f"{story}\n{result}"


# --- 4. determinism -------------------------------------------------------------------


@FLOW_SETTINGS
@given(generated=lint_clean_flows(), budget=budgets, data=st.data())
def test_the_same_flow_inputs_and_times_give_the_same_steps(
    generated: GeneratedFlow, budget: int, data: st.DataObject
) -> None:
    trace = play(data, generated, budget=budget)
    # The same text loaded again: no step may depend on object identity or process state.
    again = load_text(generated.text, "again.yaml")
    assert again.version == generated.loaded.version
    first = trace[0]
    caller = first.step.state.caller
    replayed = [start_call(again.flow, again.version, CALL_SID, caller, DIALED, first.now)]
    for played in trace[1:]:
        assert played.event is not None
        replayed.append(step(again.flow, replayed[-1].state, played.event, played.now))
    assert replayed == [p.step for p in trace]


# --- 5. the call state survives JSON ------------------------------------------------------


def through_json(state: CallState) -> CallState:
    return CallState.from_json(json.loads(json.dumps(state.to_json())))


@FLOW_SETTINGS
@given(generated=lint_clean_flows(), budget=budgets, data=st.data())
def test_call_state_round_trips_through_json_at_every_step(
    generated: GeneratedFlow, budget: int, data: st.DataObject
) -> None:
    flow = generated.loaded.flow
    trace = play(data, generated, budget=budget)
    for before, played in pairwise(trace):
        state = before.step.state
        revived = through_json(state)
        assert revived == state
        assert revived.to_json() == state.to_json()
        assert played.event is not None
        assert step(flow, revived, played.event, played.now) == played.step
    last = trace[-1].step.state
    assert through_json(last) == last


# --- 6. phrase matching -------------------------------------------------------------------

ALL_ESCAPES = [(locale, phrase) for locale in LOCALES for phrase in escape_phrases(locale, ())]


@settings(max_examples=300, deadline=None)
@given(
    pair=st.sampled_from(ALL_ESCAPES),
    data=st.data(),
)
def test_phrases_match_inside_a_sentence_whatever_the_case_accents_and_punctuation(
    pair: tuple[str, str], data: st.DataObject
) -> None:
    locale, phrase = pair
    said = data.draw(sentence_with(phrase, locale))
    assert contains_phrase(said, phrase, language_of(locale)), said


@settings(max_examples=200, deadline=None)
@given(
    pair=st.sampled_from(ALL_ESCAPES),
    marks=st.lists(st.sampled_from(COMBINING), max_size=3),
    punctuation=st.sampled_from(PUNCTUATION),
)
def test_phrase_is_found_in_itself_with_accents_and_punctuation(
    pair: tuple[str, str], marks: list[str], punctuation: str
) -> None:
    locale, phrase = pair
    lang = language_of(locale)
    assert contains_phrase(phrase, phrase, lang)
    assert contains_phrase(phrase.upper(), phrase, lang)
    assert contains_phrase(phrase.upper(), phrase.lower(), lang)
    assert contains_phrase(punctuation + phrase + punctuation, phrase, lang)
    accented = phrase[:1] + "".join(marks) + phrase[1:]
    assert contains_phrase(accented, phrase, lang)
    assert contains_phrase(phrase, accented, lang)


@given(
    prefix=st.lists(st.sampled_from(("I", "need", "my", "a", "the", "for")), max_size=4),
    suffix=st.lists(st.sampled_from(("account", "info", "please", "details")), max_size=4),
    word=st.sampled_from(
        ("personal", "personally", "personnel", "persona", "agents", "agency", "humane")
    ),
)
@settings(max_examples=100, deadline=None)
def test_a_longer_word_is_not_the_phrase_in_english(
    prefix: list[str], suffix: list[str], word: str
) -> None:
    said = " ".join([*prefix, word, *suffix])
    assert not contains_phrase(said, "person", "en")
    assert not contains_phrase(said.upper(), "person", "en")
    assert not contains_phrase(said, "human", "en")
    assert not contains_phrase(said, "agent", "en")


@given(text=st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_phrase_matching_never_raises_and_an_empty_phrase_matches_nothing(text: str) -> None:
    for lang in ("en", "es", "tr", "ar"):
        assert not contains_phrase(text, "", lang)
        assert not contains_phrase(text, " ?! ", lang)
        for phrase in BUILTIN_ESCAPE_PHRASES[lang][:2]:
            contains_phrase(text, phrase, lang)
