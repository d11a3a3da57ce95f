"""Engine steps to TwiML, compared as whole documents (golden TwiML); and the documents
kept for reuse, which must read exactly as one built afresh for each call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.actions import (
    Action,
    Dial,
    Enqueue,
    Listen,
    Record,
    RequestCallback,
    Say,
    Step,
)
from ivr.state import CallState
from webhooks import twiml

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
STATE = CallState(
    "CA1", "acme", "v1", "+15555550100", "+15005550006", datetime(2026, 12, 1, tzinfo=UTC)
)
MENU = Listen(
    "menu",
    (Say("For billing, press 1.", "en-US", "Polly.Joanna"),),
    "en-US",
    5.0,
    num_digits=1,
    hints=("billing", "agent"),
)
CONFIRM = Say("We will call you back.", "en-US")
MONDAY = datetime(2026, 12, 7, 13, tzinfo=UTC)


def step(*actions: Action) -> Step:
    return Step(actions, STATE, ())


@pytest.mark.parametrize(
    ("actions", "document"),
    [
        pytest.param(
            (Say("Hello.", "en-US"), MENU),
            '<Response><Say language="en-US">Hello.</Say>'
            '<Gather action="/twilio/gather?t=TOKEN" actionOnEmptyResult="true" finishOnKey="#"'
            ' hints="billing, agent" input="dtmf speech" language="en-US" method="POST"'
            ' numDigits="1" speechTimeout="auto" timeout="5">'
            '<Say language="en-US" voice="Polly.Joanna">For billing, press 1.</Say></Gather>'
            '<Redirect method="POST">/twilio/gather?t=TOKEN</Redirect></Response>',
            id="menu-listens-then-counts-the-silence",
        ),
        pytest.param(
            (Say("Connecting.", "en-US"), Enqueue("support", "whisper")),
            '<Response><Say language="en-US">Connecting.</Say>'
            '<Enqueue action="/twilio/queue-result?t=TOKEN" method="POST"'
            ' waitUrl="/twilio/wait?t=TOKEN" waitUrlMethod="POST">support</Enqueue></Response>',
            id="queue",
        ),
        pytest.param(
            (Dial("+15005550011", 25, "whisper"),),
            '<Response><Dial action="/twilio/dial?t=TOKEN" method="POST" timeout="25">'
            '<Number method="POST" url="/twilio/whisper?t=TOKEN">+15005550011</Number>'
            "</Dial></Response>",
            id="transfer-with-whisper",
        ),
        pytest.param(
            (Dial("client:alice", 25, "whisper"),),
            '<Response><Dial action="/twilio/dial?t=TOKEN" method="POST" timeout="25">'
            '<Client method="POST" url="/twilio/whisper?t=TOKEN">alice</Client>'
            "</Dial></Response>",
            id="transfer-to-a-client",
        ),
        pytest.param(
            (Record(120, "support"),),
            '<Response><Record action="/twilio/recorded?t=TOKEN" finishOnKey="#"'
            ' maxLength="120" method="POST" playBeep="true" /><Hangup /></Response>',
            id="voicemail",
        ),
        pytest.param(
            (CONFIRM, RequestCallback("support", "+15555550100", MONDAY, CONFIRM)),
            '<Response><Gather action="/twilio/callback-number?t=TOKEN&amp;nb=1796648400000"'
            ' finishOnKey="#" input="dtmf" method="POST" timeout="6"><Say language="en-US">'
            "We will call you back at the number ending in 0 1 0 0. To use another number,"
            " key it in now with its area code, then press pound. Otherwise just wait."
            '</Say></Gather><Redirect method="POST">'
            "/twilio/callback-number?t=TOKEN&amp;nb=1796648400000</Redirect></Response>",
            id="callback-asks-the-number-first",
        ),
        pytest.param(
            (Say('AT&T <fiber> & "more"', "en-US"),),
            '<Response><Say language="en-US">AT&amp;T &lt;fiber&gt; &amp; "more"</Say></Response>',
            id="text-is-escaped",
        ),
    ],
)
def test_documents(actions: tuple[Action, ...], document: str) -> None:
    assert twiml.render(step(*actions), "TOKEN") == HEAD + document


def test_two_calls_at_the_same_point_get_the_same_document_with_their_own_state() -> None:
    first = twiml.render(step(Say("Hello.", "en-US"), MENU), "FIRSTSTATE")
    second = twiml.render(step(Say("Hello.", "en-US"), MENU), "SECONDSTATE")
    assert first.count("FIRSTSTATE") == 2 and "SECONDSTATE" not in first
    assert second == first.replace("FIRSTSTATE", "SECONDSTATE")
    assert "?t=FIRSTSTATE" in first  # the token, not what stands for it in a kept document


def test_a_step_that_differs_in_one_word_is_not_answered_with_another_document() -> None:
    one = twiml.render(step(Say("Your balance is 10 dollars.", "en-US")), "T")
    two = twiml.render(step(Say("Your balance is 12 dollars.", "en-US")), "T")
    assert "10 dollars" in one and "12 dollars" in two
    spanish = twiml.render(step(Say("Your balance is 10 dollars.", "es-US")), "T")
    assert 'language="es-US"' in spanish
