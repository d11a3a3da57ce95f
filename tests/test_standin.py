"""The Twilio stand-in against hand-written TwiML, served over real HTTP by a tiny app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pytest
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

from simulator.people import Scripted
from simulator.server import serve
from simulator.standin import Answer, StandIn
from simulator.twiml_rules import TwimlError
from simulator.webhooks import Webhooks

TOKEN = "standin-token"
Doc = str | Callable[[dict[str, str]], str]


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class TinyApp:
    """Answers each path with hand-written TwiML and remembers every request."""

    documents: dict[str, Doc] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def asgi(self) -> FastAPI:
        app = FastAPI()
        validator = RequestValidator(TOKEN)

        @app.post("/{path:path}")
        async def answer(path: str, request: Request) -> Response:
            params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            url = (
                self.base
                + request.url.path
                + (f"?{request.url.query}" if request.url.query else "")
            )
            if not validator.validate(url, params, request.headers.get("X-Twilio-Signature", "")):
                return Response("bad signature", status_code=403)
            full = path + (f"?{request.url.query}" if request.url.query else "")
            self.seen.append(Seen(full, params, dict(request.headers)))
            doc = self.documents.get(full, self.documents.get(path, "<Response/>"))
            text = doc(params) if callable(doc) else doc
            return Response(text, media_type="application/xml")

        return app

    def to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


@pytest.fixture
def tiny() -> Iterator[tuple[TinyApp, StandIn]]:
    app = TinyApp()
    with serve(app.asgi()) as base:
        app.base = base
        webhooks = Webhooks(base, TOKEN)
        try:
            yield app, StandIn(webhooks)
        finally:
            webhooks.close()


def test_a_call_is_signed_form_encoded_and_idempotent(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = "<Response><Say>Hello there.</Say><Hangup/></Response>"
    leg = twilio.call(Scripted(), caller="+15555550123", called="+15005550006")
    twilio.run()
    first = app.to("twilio/voice")[0]
    assert first.params["CallSid"] == leg.sid and first.params["From"] == "+15555550123"
    assert first.params["AccountSid"].startswith("AC") and first.params["ApiVersion"]
    assert first.params["Direction"] == "inbound" and first.params["CallStatus"] == "in-progress"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    assert first.headers["i-twilio-idempotency-token"]
    assert leg.heard == ["Hello there."] and leg.end == "hangup"
    status = app.to("twilio/status")[0].params
    assert status["CallStatus"] == "completed" and status["SequenceNumber"] == "0"
    assert status["CallDuration"] == "1"  # three words at 0.4 s each
    assert status["Timestamp"].endswith("+0000")


def test_relative_urls_resolve_like_twilio(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = "<Response><Redirect>step/two?x=1</Redirect></Response>"
    app.documents["twilio/step/two"] = "<Response><Redirect>/top</Redirect></Response>"
    app.documents["top"] = "<Response><Hangup/></Response>"
    twilio.call(Scripted())
    twilio.run()
    assert [s.path for s in app.seen] == [
        "twilio/voice",
        "twilio/step/two?x=1",
        "top",
        "twilio/status",
    ]


def gather_doc(attrs: str) -> str:
    return (
        f'<Response><Gather action="/got" {attrs}><Say>Enter it.</Say></Gather>'
        "<Say>Nothing?</Say></Response>"
    )


@pytest.mark.parametrize(
    ("attrs", "turn", "sent"),
    [
        pytest.param(
            'input="dtmf" finishOnKey="#"',
            "1234#9",
            {"Digits": "1234"},
            id="finish-key-ends-the-digits",
        ),
        pytest.param(
            'input="dtmf" numDigits="1"', "42", {"Digits": "4"}, id="num-digits-takes-the-first"
        ),
        pytest.param(
            'input="dtmf speech"', "billing please", {"SpeechResult": "billing please"}, id="speech"
        ),
        pytest.param('input="speech"', "5", None, id="keys-at-a-speech-only-prompt-are-silence"),
        pytest.param('input="dtmf"', "agent", None, id="words-at-a-keys-only-prompt-are-silence"),
    ],
)
def test_gather_sends_what_twilio_would(
    tiny: tuple[TinyApp, StandIn], attrs: str, turn: str, sent: dict[str, str] | None
) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = gather_doc(attrs)
    leg = twilio.call(Scripted([turn]))
    twilio.run()
    got = app.to("got")
    if sent is None:
        assert got == [] and leg.heard == ["Enter it.", "Nothing?"]  # fell through
    else:
        assert len(got) == 1 and sent.items() <= got[0].params.items()


def test_silence_waits_the_timeout_then_action_on_empty_result(
    tiny: tuple[TinyApp, StandIn],
) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = gather_doc('timeout="7" actionOnEmptyResult="true"')
    twilio.call(Scripted([""]))
    twilio.run()
    got = app.to("got")
    assert len(got) == 1 and "Digits" not in got[0].params and "SpeechResult" not in got[0].params
    status = app.to("twilio/status")[0].params
    assert status["CallDuration"] == "8"  # "Enter it." 0.8 s, then the 7 s timeout


WAIT = (
    "<Response><Say>You are caller {QueuePosition} of {CurrentQueueSize}.</Say>"
    '<Pause length="10"/></Response>'
)


def wait_doc(params: dict[str, str]) -> str:
    return WAIT.format(**params)


def test_enqueue_wait_url_loop_and_leave(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Enqueue action="/result" waitUrl="/wait">support</Enqueue></Response>'
    )
    rounds = iter(range(10))

    def wait(params: dict[str, str]) -> str:
        if next(rounds) < 2:
            return wait_doc(params)
        return "<Response><Say>Leaving.</Say><Leave/></Response>"

    app.documents["wait"] = wait
    app.documents["result"] = "<Response><Say>Bye.</Say></Response>"
    leg = twilio.call(Scripted())
    twilio.run()
    waits = app.to("wait")
    assert len(waits) == 3
    assert waits[0].params["QueuePosition"] == "1" and waits[0].params["QueueTime"] == "0"
    assert waits[1].params["QueueTime"] == "12"  # six words at 0.4 s, then a 10 s pause
    assert {"QueueSid", "AvgQueueTime", "CurrentQueueSize", "MaxQueueSize"} <= set(waits[0].params)
    result = app.to("result")[0].params
    assert result["QueueResult"] == "leave"
    assert leg.heard[-1] == "Bye." and twilio.queues["support"].members == []


def test_agent_dequeues_the_caller_through_the_queue_url(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Enqueue action="/result" waitUrl="/wait">support</Enqueue></Response>'
    )
    app.documents["wait"] = wait_doc
    app.documents["agent"] = (
        '<Response><Say>Next caller.</Say><Dial action="/agent-done">'
        '<Queue url="/connected">support</Queue></Dial></Response>'
    )
    app.documents["connected"] = "<Response><Say>Connecting you now.</Say></Response>"
    app.documents["agent-done"] = "<Response><Hangup/></Response>"
    caller = twilio.call(Scripted(), caller="+15555550100")
    twilio.run(until=30)
    agent = twilio.call(Scripted(talk=120), caller="+15005550010", url="/agent")
    twilio.run()
    connected = app.to("connected")[0].params
    assert connected["CallSid"] == caller.sid and connected["DequeingCallSid"] == agent.sid
    assert connected["QueueTime"] == "31"  # joined at 0, agent's "Next caller." 0.8 s after 30
    assert app.to("result")[0].params["QueueResult"] == "bridged"
    done = app.to("agent-done")[0].params
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == caller.sid
    assert done["DialCallDuration"] == "121"  # "Connecting you now." (1.2 s), then 120 s talk
    assert "Connecting you now." in caller.heard


def test_patience_runs_out_in_the_queue(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Enqueue action="/result" waitUrl="/wait">support</Enqueue></Response>'
    )
    app.documents["wait"] = wait_doc
    leg = twilio.call(Scripted(wait=95))
    twilio.run()
    result = app.to("result")[0].params
    assert result["QueueResult"] == "hangup" and result["QueueTime"] == "95"
    assert app.to("twilio/status")[0].params["CallDuration"] == "95"
    assert leg.end == "hung-up" and twilio.queues["support"].members == []


def test_dial_number_whisper_on_the_called_leg(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Dial action="/dialed" timeout="20"><Number url="/whisper">+15005550011'
        "</Number></Dial></Response>"
    )
    app.documents["whisper"] = "<Response><Say>Caller wants billing.</Say></Response>"
    twilio.phonebook = lambda target, leg: Answer(ring=4, party=Scripted(talk=60))
    leg = twilio.call(Scripted())
    twilio.run()
    whisper = app.to("whisper")[0].params
    assert whisper["ParentCallSid"] == leg.sid and whisper["To"] == "+15005550011"
    assert whisper["Direction"] == "outbound-dial"
    dialed = app.to("dialed")[0].params
    assert dialed["DialCallStatus"] == "completed" and dialed["DialCallSid"] == whisper["CallSid"]
    assert dialed["DialCallDuration"] == "65"  # 4 s ringing, 1.2 s whisper, 60 s talk


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        pytest.param(Answer(status="busy", ring=1), "busy", id="busy"),
        pytest.param(Answer(ring=40, party=Scripted()), "no-answer", id="rings-past-timeout"),
    ],
)
def test_dial_that_does_not_connect(
    tiny: tuple[TinyApp, StandIn], answer: Answer, status: str
) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Dial action="/dialed" timeout="20"><Client>alice</Client></Dial></Response>'
    )
    seen: list[str] = []

    def phonebook(target: str, _: object) -> Answer:
        seen.append(target)
        return answer

    twilio.phonebook = phonebook
    twilio.call(Scripted())
    twilio.run()
    assert seen == ["client:alice"]
    assert app.to("dialed")[0].params["DialCallStatus"] == status


def test_record_posts_the_recording(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = (
        '<Response><Record action="/recorded" maxLength="5"/></Response>'
    )
    twilio.call(Scripted(message=30))
    twilio.run()
    recorded = app.to("recorded")[0].params
    assert recorded["RecordingDuration"] == "5" and recorded["RecordingUrl"].startswith("https://")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param(
            "<Response><Speak>Hi</Speak></Response>", "unknown verb <Speak>", id="unknown-verb"
        ),
        pytest.param(
            "<Response><Gather><Enqueue>support</Enqueue></Gather></Response>",
            "<Enqueue> cannot be nested in <Gather>",
            id="enqueue-inside-gather",
        ),
        pytest.param(
            "<Response><Leave/></Response>",
            "<Leave> cannot be used in TwiML for a call",
            id="leave-outside-a-queue",
        ),
        pytest.param(
            "<Response><Dial><Number statusCallbackEvent=\"['ringing', 'answered']\">+1"
            "</Number></Dial></Response>",
            "statusCallbackEvent='['ringing', 'answered']' is not a space-separated list",
            id="python-list-as-attribute",
        ),
        pytest.param(
            '<Response><Gather numDigits="one"/></Response>', "numDigits='one'", id="not-a-number"
        ),
        pytest.param("<Response><Say>Hi</Say>", "not XML", id="broken-xml"),
        pytest.param("<Hello/>", "Twilio expects <Response>", id="not-a-response"),
        pytest.param(
            "<Response><Dial><Queue>a</Queue><Number>+1</Number></Dial></Response>",
            "<Queue> must be the only noun",
            id="queue-with-a-number",
        ),
    ],
)
def test_twiml_twilio_would_refuse_is_refused(
    tiny: tuple[TinyApp, StandIn], doc: str, message: str
) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = doc
    twilio.call(Scripted())
    with pytest.raises(TwimlError, match="twilio/voice") as err:
        twilio.run()
    assert message in str(err.value)


def test_wait_url_twiml_may_not_dial(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = '<Response><Enqueue waitUrl="/wait">q</Enqueue></Response>'
    app.documents["wait"] = "<Response><Dial>+15005550011</Dial></Response>"
    twilio.call(Scripted())
    with pytest.raises(TwimlError, match=r"wait: <Dial> cannot be used in TwiML for a wait URL"):
        twilio.run()


def test_a_twiml_loop_is_caught(tiny: tuple[TinyApp, StandIn]) -> None:
    app, twilio = tiny
    app.documents["twilio/voice"] = "<Response><Redirect>/twilio/voice</Redirect></Response>"
    twilio.call(Scripted())
    with pytest.raises(TwimlError, match="without a moment passing; the TwiML loops"):
        twilio.run()
