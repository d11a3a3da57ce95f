"""Hypothesis strategies: random lint-clean flows and random callers.

Flows are built as the YAML an ops team would write (a dict dumped with `yaml.safe_dump`)
and loaded through `flows.loader.check_text`, so they pass the same reader, schema and
linter as a real flow file. They are valid *by construction* against the lint rules of
SPEC §2, so that filtering on the linter rarely throws one away:

- every `goto`/`next`/`open`/`closed`/`on_fail` names an existing node;
- nodes are numbered, and a node that takes no input (say, hours, branch, transfer) only
  goes forward (to a higher number) or to an input node (menu, ask): every cycle passes an
  input node;
- every `end` is resolved, so every path ends at a person or a resolved end;
- an hours node's `closed` side is a callback or voicemail node;
- no menu option takes the escape key, and digits and phrases are unique per menu;
  option phrases never collide with an escape phrase of any language;
- prompts are short and use only built-in `{variables}`; every queue is declared, with a
  callback offer, and answered by an agent.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import yaml
from hypothesis import assume
from hypothesis import strategies as st

from flows.loader import LoadedFlow, check_text
from flows.model import AskNode, MenuNode
from flows.phrases import BUILTIN_ESCAPE_PHRASES, escape_phrases, language_of, words
from ivr.actions import CallerEvent, DialResult, Digits, Listen, Silence, Speech

LOCALES = ("en-US", "es-ES", "tr-TR", "ar-SA")
ESCAPE_DIGITS = ("0", "0", "9", "*", "#")
KEYS = "0123456789*#"
TIMEZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Madrid",
    "Europe/Istanbul",
    "Asia/Riyadh",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "UTC",
)
DAY_SPECS = ("mon-fri", "sat", "sun", "sat,sun", "mon,wed,fri", "fri-mon", "tue-thu", "mon-sun")
TIME_RANGES = (
    "08:00-20:00",
    "09:00-13:00",
    "00:00-24:00",
    "22:00-02:00",
    "10:00-12:00, 14:00-18:00",
    "closed",
)
QUEUE_NAMES = ("support", "billing", "sales")
HOURS_NAMES = ("office", "weekend")
CALLERS = ("+15555550100", "+905321234567", "+966501234567", "anonymous", "", "client:bob")
DIALED = "+15005550006"

# Option phrases: none is, contains or is contained in an escape phrase of any language.
OPTION_PHRASES = (
    "billing",
    "payment",
    "outage",
    "sales",
    "opening hours",
    "balance",
    "orders",
    "returns",
    "shipping",
    "password",
    "internet down",
    "mobile",
    "factura",
    "pago",
    "averia",
    "fatura",
    "ödeme",
    "arıza",
    "فاتورة",
    "دفع",
    "انقطاع",
)
EXTRA_ESCAPE_PHRASES = ("supervisor", "manager", "help desk", "canlı destek", "مساعدة")
PROMPT_WORDS = {
    "en": ("Welcome", "to", "Acme", "please", "choose", "an", "option", "thanks", "for"),
    "es": ("Bienvenido", "a", "Acme", "por", "favor", "elija", "una", "opción", "gracias"),
    "tr": ("Hoş", "geldiniz", "lütfen", "bir", "seçenek", "seçin", "teşekkürler", "Acme"),
    "ar": ("مرحبا", "بكم", "في", "أكمي", "الرجاء", "اختيار", "خيار", "شكرا"),
}
FILLER = {
    "en": ("I", "want", "to", "talk", "with", "a", "please", "now", "hello", "uh", "my", "bill"),
    "es": ("quiero", "hablar", "con", "un", "por", "favor", "ahora", "hola", "mi", "factura"),
    "tr": ("lütfen", "bir", "ile", "görüşmek", "istiyorum", "merhaba", "hemen", "fatura"),
    "ar": ("أريد", "التحدث", "مع", "من", "فضلك", "الآن", "مرحبا", "فاتورة"),
}
PUNCTUATION = ("!", "?", ".", ",", "...", "¡", "¿", ";", ":", '"', "'", "(", ")", "-", "؟", "،")
COMBINING = ("\u0301", "\u0300", "\u0308", "\u0303", "\u064e", "\u0650")  # accents, harakat
DIAL_STATUSES = ("answered", "completed", "busy", "no-answer", "failed", "canceled")
PERSON_VARIABLES = ("caller", "dialed", "flow")

assert not any(
    words(option, "en") == words(escape, "en")
    or set(words(option, "en")) & set(words(escape, "en"))
    for option in OPTION_PHRASES
    for escapes in BUILTIN_ESCAPE_PHRASES.values()
    for escape in (*escapes, *EXTRA_ESCAPE_PHRASES)
), "an option phrase overlaps an escape phrase"


class _Dumper(yaml.SafeDumper):
    """No anchors or aliases: the flow reader refuses them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


# --- flows -------------------------------------------------------------------------

INPUT = ("menu", "ask")
ROUTING = ("say", "hours", "branch", "transfer")  # take no input, go to another node
TERMINAL = ("queue", "callback", "voicemail", "end")
# Weighted so that calls meet prompts often; the first node is never a hand-over.
KINDS = (*INPUT, *INPUT, "menu", *ROUTING, *TERMINAL)
FIRST_KINDS = (*INPUT, *INPUT, "say", "hours", "branch", *KINDS)


@st.composite
def prompts(draw: st.DrawFn, locale: str) -> str | dict[str, str]:
    lang = language_of(locale)
    text = " ".join(draw(st.lists(st.sampled_from(PROMPT_WORDS[lang]), min_size=1, max_size=8)))
    variable = draw(st.sampled_from((None, *PERSON_VARIABLES)))
    if variable is not None:
        text += f" {{{variable}}}"
    if draw(st.booleans()):
        return text + "."
    other = "en-US" if locale != "en-US" else "es-ES"
    return {locale: text + ".", other: "Hello."}


@st.composite
def hours_entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "timezone": draw(st.sampled_from(TIMEZONES)),
        "open": draw(
            st.dictionaries(
                st.sampled_from(DAY_SPECS), st.sampled_from(TIME_RANGES), min_size=1, max_size=3
            )
        ),
    }
    closed = draw(
        st.lists(
            st.dates(
                min_value=datetime(2026, 1, 1).date(), max_value=datetime(2026, 12, 31).date()
            ),
            max_size=3,
            unique=True,
        )
    )
    if closed:
        entry["closed_dates"] = [d.isoformat() for d in closed]
    return entry


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ("var", "var", "var", "time") + (("all", "any", "not") if depth < 2 else ())
        )
    )
    if kind == "var":
        var = draw(st.sampled_from(PERSON_VARIABLES))
        test = draw(
            st.sampled_from(
                (
                    ("equals", "+15555550100"),
                    ("not_equals", "+15555550100"),
                    ("in", ["+15555550100", "+905321234567"]),
                    ("starts_with", "+90"),
                    ("ends_with", "0"),
                    ("contains", "555"),
                    ("exists", True),
                    ("exists", False),
                    ("greater_than", 100.0),
                    ("less_than", 5.5),
                )
            )
        )
        return {"var": var, test[0]: test[1]}
    if kind == "time":
        cond: dict[str, Any] = {"timezone": draw(st.sampled_from(TIMEZONES))}
        if draw(st.booleans()):
            cond["days"] = draw(st.sampled_from(DAY_SPECS))
        if "days" not in cond or draw(st.booleans()):
            cond["time"] = draw(st.sampled_from(("09:00-17:00", "12:00-13:00", "22:00-06:00")))
        return cond
    if kind == "not":
        return {"not": draw(conditions(depth + 1))}
    return {kind: draw(st.lists(conditions(depth + 1), min_size=1, max_size=2))}


@st.composite
def flow_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A flow file as the dict an ops team would write."""
    locale = draw(st.sampled_from(LOCALES))
    size = draw(st.integers(1, 9))
    names = [f"n{i}" for i in range(size)]
    kinds = [
        draw(st.sampled_from(FIRST_KINDS)),
        *draw(st.lists(st.sampled_from(KINDS), min_size=size - 1, max_size=size - 1)),
    ]
    inputs = [names[i] for i, k in enumerate(kinds) if k in INPUT]

    def forward(i: int) -> list[str]:
        return sorted({*names[i + 1 :], *inputs})

    # A node that takes no input and has nowhere forward to go becomes a resolved end.
    kinds = [
        "end" if k in ("say", "hours", "branch") and not forward(i) else k
        for i, k in enumerate(kinds)
    ]

    queues = draw(st.lists(st.sampled_from(QUEUE_NAMES), min_size=1, max_size=3, unique=True))
    hours_names = draw(st.lists(st.sampled_from(HOURS_NAMES), min_size=1, max_size=2, unique=True))
    escape_digit = draw(st.sampled_from(ESCAPE_DIGITS))
    escape: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        escape["transfer"] = draw(st.sampled_from(("+15005550020", "sip:desk@example.com")))
    else:
        escape["queue"] = draw(st.sampled_from(queues))
    if escape_digit != "0" or draw(st.booleans()):
        escape["digits"] = escape_digit
    extra = draw(st.lists(st.sampled_from(EXTRA_ESCAPE_PHRASES), max_size=2, unique=True))
    if extra:
        escape["phrases"] = extra
    escape["after_failures"] = draw(st.integers(1, 3))
    option_keys = [k for k in KEYS if k != escape_digit]

    def prompt() -> str | dict[str, str]:
        return draw(prompts(locale))

    nodes: dict[str, Any] = {}
    extra_nodes: dict[str, Any] = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        ahead = forward(i)
        node: dict[str, Any]
        if kind == "say":
            node = {"say": prompt(), "next": draw(st.sampled_from(ahead))}
        elif kind == "menu":
            count = draw(st.integers(1, 6))
            digits = draw(
                st.lists(
                    st.one_of(st.none(), st.sampled_from(option_keys)),
                    min_size=count,
                    max_size=count,
                ).filter(lambda ds: len([d for d in ds if d]) == len({d for d in ds if d}))
            )
            phrase_lists = draw(
                st.lists(
                    st.lists(st.sampled_from(OPTION_PHRASES), max_size=2, unique=True),
                    min_size=count,
                    max_size=count,
                )
            )
            options: list[dict[str, Any]] = []
            used: set[str] = set()
            for digit, phrases in zip(digits, phrase_lists, strict=True):
                fresh = [p for p in phrases if p not in used]
                used.update(fresh)
                if digit is None and not fresh:
                    digit = next((k for k in option_keys if k not in digits), None)
                    if digit is None:
                        continue
                    digits = [*digits, digit]
                option: dict[str, Any] = {}
                if digit is not None:
                    option["digit"] = digit
                if fresh:
                    option["phrases"] = fresh
                option["goto"] = draw(st.sampled_from(names))
                options.append(option)
            menu: dict[str, Any] = {"prompt": prompt(), "options": options}
            if draw(st.booleans()):
                menu["no_match"] = prompt()
            if draw(st.booleans()):
                menu["no_input"] = prompt()
            node = {"menu": menu}
        elif kind == "ask":
            ask: dict[str, Any] = {"prompt": prompt()}
            mode = draw(st.sampled_from(("digits", "speech", "both")))
            if mode != "speech":
                low = draw(st.integers(1, 8))
                high = draw(st.integers(low, 12))
                ask["digits"] = {
                    "min": low,
                    "max": high,
                    "finish_key": draw(st.sampled_from(("#", "*", ""))),
                }
            if mode != "digits":
                ask["speech"] = {
                    "hints": draw(
                        st.lists(st.sampled_from(OPTION_PHRASES), max_size=2, unique=True)
                    )
                }
            ask["save_as"] = f"value_{i}"
            node = {"ask": ask, "next": draw(st.sampled_from(names))}
        elif kind == "hours":
            closed_name = f"{name}_closed"
            if draw(st.booleans()):
                extra_nodes[closed_name] = {"callback": {"queue": draw(st.sampled_from(queues))}}
            else:
                extra_nodes[closed_name] = {"voicemail": {"say": prompt()}}
            node = {
                "hours": draw(st.sampled_from(hours_names)),
                "open": draw(st.sampled_from(ahead)),
                "closed": closed_name,
            }
        elif kind == "branch":
            cases = [
                {"if": draw(conditions()), "goto": draw(st.sampled_from(ahead))}
                for _ in range(draw(st.integers(1, 3)))
            ]
            node = {"branch": {"cases": cases, "otherwise": draw(st.sampled_from(ahead))}}
        elif kind == "transfer":
            transfer: dict[str, Any] = {
                "to": draw(
                    st.sampled_from(("+15005550011", "sip:sales@example.com", "client:alice"))
                )
            }
            if len(ahead) > 0 and draw(st.booleans()):
                transfer["on_fail"] = draw(st.sampled_from(ahead))
            if draw(st.booleans()):
                transfer["whisper"] = prompt()
            node = {"transfer": transfer}
        elif kind == "queue":
            node = {"queue": draw(st.sampled_from(queues))}
            if draw(st.booleans()):
                node["say"] = prompt()
        elif kind == "callback":
            node = {"callback": {"queue": draw(st.sampled_from(queues))}}
            if draw(st.booleans()):
                node["callback"]["say"] = prompt()
        elif kind == "voicemail":
            node = {"voicemail": {"say": prompt()}}
            if draw(st.booleans()):
                node["voicemail"]["queue"] = draw(st.sampled_from(queues))
        else:
            node = {"end": {"resolved": True}}
            if draw(st.booleans()):
                node["end"]["say"] = prompt()
        nodes[name] = node
    nodes.update(extra_nodes)

    queue_settings: dict[str, Any] = {}
    for queue in queues:
        settings: dict[str, Any] = {
            "callback": {
                "offer_after": draw(st.sampled_from(("30s", "2m", "1m30s"))),
                "digit": draw(st.sampled_from([k for k in "123456789" if k != escape_digit])),
            }
        }
        if draw(st.booleans()):
            settings["hours"] = draw(st.sampled_from(hours_names))
        if draw(st.booleans()):
            settings["max_wait"] = "15m"
        queue_settings[queue] = settings

    return {
        "id": "generated",
        "numbers": [DIALED],
        "locale": locale,
        "escape": escape,
        "hours": {name: draw(hours_entries()) for name in hours_names},
        "agents": [{"id": "alice", "phone": "+15005550010", "queues": list(queues)}],
        "queues": queue_settings,
        "start": names[0],
        "nodes": nodes,
    }


class GeneratedFlow:
    """A flow file's text and the flow loaded from it."""

    def __init__(self, text: str, loaded: LoadedFlow) -> None:
        self.text = text
        self.loaded = loaded

    def __repr__(self) -> str:  # a failing example shows the flow file, as written
        return f"<flow file:\n{self.text}>"


def load_clean(text: str) -> LoadedFlow | None:
    loaded, _problems = check_text(text, "generated.yaml")
    return loaded


@st.composite
def lint_clean_flows(draw: st.DrawFn) -> GeneratedFlow:
    """A generated flow that the reader, the schema and the linter all accept."""
    text = to_yaml(draw(flow_documents()))
    loaded = load_clean(text)
    assume(loaded is not None)
    assert loaded is not None
    return GeneratedFlow(text, loaded)


# --- time ---------------------------------------------------------------------------

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    """A moment over a year, aware, in UTC or at a fixed offset (as a web server's clock
    gives it). Not in a `ZoneInfo` zone: Python never finds such a moment inside a
    DST-repeated hour equal to the same instant at a fixed offset, which is what it
    becomes after a trip through JSON."""
    at = YEAR_START + timedelta(seconds=draw(st.integers(0, 366 * 24 * 3600)))
    offset = draw(st.sampled_from((0, 0, -5 * 60, 3 * 60, 5 * 60 + 30, 13 * 60)))
    return at.astimezone(timezone(timedelta(minutes=offset)))


def gaps() -> st.SearchStrategy[timedelta]:
    """Time between two requests of a call."""
    return st.integers(0, 600).map(lambda s: timedelta(seconds=s))


# --- the caller ---------------------------------------------------------------------


def _garble_case(draw: st.DrawFn, text: str) -> str:
    mode = draw(st.sampled_from(("same", "upper", "lower", "title", "mixed")))
    if mode == "upper":
        return text.upper()
    if mode == "lower":
        return text.lower()
    if mode == "title":
        return text.title()
    if mode == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
        return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))
    return text


def _add_marks(draw: st.DrawFn, text: str) -> str:
    """Scatter combining accents (or Arabic short vowels) after letters."""
    out = []
    for ch in text:
        out.append(ch)
        if ch.isalpha() and draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(COMBINING)))
    return "".join(out)


def _punctuate(draw: st.DrawFn, word: str) -> str:
    before = "".join(draw(st.lists(st.sampled_from(PUNCTUATION), max_size=2)))
    after = "".join(draw(st.lists(st.sampled_from(PUNCTUATION), max_size=2)))
    return before + word + after


@st.composite
def sentence_with(draw: st.DrawFn, phrase: str, locale: str) -> str:
    """The phrase inside a longer utterance: case, accents and punctuation garbled."""
    lang = language_of(locale)
    filler = st.lists(st.sampled_from(FILLER[lang]), max_size=4)
    spoken = _garble_case(draw, phrase)
    spoken = _add_marks(draw, spoken)
    spoken = " ".join(_punctuate(draw, w) for w in spoken.split())
    return " ".join([*draw(filler), spoken, *draw(filler)])


def unicodedata_junk() -> st.SearchStrategy[str]:
    return st.text(
        st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf")),
        max_size=30,
    ).map(lambda s: unicodedata.normalize("NFC", s))


def escape_phrases_of(loaded: LoadedFlow) -> tuple[str, ...]:
    flow = loaded.flow
    return escape_phrases(flow.locale, flow.escape.phrases)


@st.composite
def caller_turns(
    draw: st.DrawFn, loaded: LoadedFlow, listen: Listen, escapes: bool = True
) -> CallerEvent:
    """What a caller does at a prompt: keys, words, nothing, or noise."""
    flow = loaded.flow
    node = flow.nodes[listen.node]
    option_digits = (
        [o.digit for o in node.menu.options if o.digit] if isinstance(node, MenuNode) else []
    )
    option_phrases = (
        [p for o in node.menu.options for p in o.phrases] if isinstance(node, MenuNode) else []
    )
    choices = ["silence", "keys", "garbage", "junk", "empty"]
    if option_digits:
        choices += ["option_digit"] * 4
    if option_phrases:
        choices += ["option_phrase"] * 3
    if isinstance(node, AskNode):
        choices += ["answer"] * 4
    if escapes:
        choices += ["escape_digit", "escape_phrase"]
    kind = draw(st.sampled_from(choices))
    if kind == "silence":
        return Silence()
    if kind == "keys":
        return Digits(draw(st.text(st.sampled_from(KEYS), max_size=12)))
    if kind == "option_digit":
        return Digits(draw(st.sampled_from(option_digits)))
    if kind == "option_phrase":
        return Speech(draw(sentence_with(draw(st.sampled_from(option_phrases)), flow.locale)))
    if kind == "answer":
        assert isinstance(node, AskNode)
        spec = node.ask.digits
        if spec is not None and (node.ask.speech is None or draw(st.booleans())):
            value = draw(
                st.text(st.sampled_from("0123456789"), min_size=spec.min, max_size=spec.max)
            )
            return Digits(value + draw(st.sampled_from(("", spec.finish_key))))
        return Speech(
            " ".join(
                draw(
                    st.lists(
                        st.sampled_from(FILLER[language_of(flow.locale)]), min_size=1, max_size=5
                    )
                )
            )
        )
    if kind == "garbage":
        return Speech(
            " ".join(draw(st.lists(st.sampled_from(FILLER[language_of(flow.locale)]), max_size=5)))
        )
    if kind == "junk":
        confidence = draw(st.one_of(st.none(), st.floats(0, 1)))
        return Speech(draw(unicodedata_junk()), confidence)
    if kind == "empty":
        empty: tuple[CallerEvent, ...] = (Speech(""), Speech("   "), Digits(""))
        return draw(st.sampled_from(empty))
    if kind == "escape_digit":
        return Digits(flow.escape.digits)
    return Speech(
        draw(sentence_with(draw(st.sampled_from(escape_phrases_of(loaded))), flow.locale))
    )


def dial_results() -> st.SearchStrategy[DialResult]:
    return st.sampled_from(DIAL_STATUSES).map(DialResult)
