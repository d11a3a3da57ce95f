"""The flow file as plain, frozen models: the only thing the engine ever sees of YAML.

Every model forbids unknown keys (typos are errors) and is strict about types, so a
YAML 1.1 surprise (`digit: 1` read as an integer) is reported instead of guessed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from flows.durations import Duration

PHONE_KEYS = "0123456789*#"  # what a phone pad can send
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_VARIABLES = frozenset({"caller", "dialed", "flow"})
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
LOCALE_RE = re.compile(LOCALE_PATTERN)
TARGET_PATTERN = r"^(\+[0-9]{6,15}|sip:.+|client:.+)$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_prompt(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a prompt cannot be empty")
        return value
    if isinstance(value, dict) and value:
        for locale, text in value.items():
            if not isinstance(locale, str) or not LOCALE_RE.match(locale):
                raise ValueError(f"'{locale}' is not a locale; write it like en-US, es or tr-TR")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"the {locale} text of this prompt must be non-empty text")
        return dict(value)
    raise ValueError("expected text, or a mapping of locale to text (en-US: ..., es: ...)")


Prompt = Annotated[
    str | dict[str, str],
    BeforeValidator(_check_prompt),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "minProperties": 1,
                },
            ],
            "description": "Text to speak; may use {variables}; or a mapping locale -> text.",
        }
    ),
]

NodeName = Annotated[str, Field(pattern=NAME_PATTERN, description="The name of another node.")]
Key = Annotated[
    str, Field(pattern=r"^[0-9*#]$", description='One phone key, quoted: "1", "*", "#".')
]


def _nonempty_phrases(value: list[str]) -> list[str]:
    for phrase in value:
        if not phrase.strip():
            raise ValueError("a phrase cannot be empty")
    return value


Phrases = Annotated[list[str], AfterValidator(_nonempty_phrases)]


def prompt_texts(prompt: str | dict[str, str]) -> list[str]:
    """Every text of a prompt, one per locale."""
    return [prompt] if isinstance(prompt, str) else list(prompt.values())


def prompt_variables(prompt: str | dict[str, str] | None) -> set[str]:
    if prompt is None:
        return set()
    return {m for text in prompt_texts(prompt) for m in VARIABLE_RE.findall(text)}


# --- flow-wide settings -------------------------------------------------------------


class Escape(Model):
    """The escape hatch: where "agent" and `0` go. It can be configured, never removed."""

    queue: str | None = Field(None, description="Queue that receives callers who ask for a person.")
    transfer: Annotated[str, Field(pattern=TARGET_PATTERN)] | None = Field(
        None, description="Or a number / sip: / client: target to dial instead of a queue."
    )
    digits: Key = Field("0", description="The key that reaches a person at every prompt.")
    phrases: Phrases = Field(
        default_factory=list, description="Extra escape phrases, added to the built-in list."
    )
    after_failures: int = Field(
        2, ge=1, le=3, description="Re-prompts after silence or no match before a person."
    )

    @model_validator(mode="after")
    def _one_route(self) -> Escape:
        if (self.queue is None) == (self.transfer is None):
            raise ValueError("escape needs exactly one of 'queue' or 'transfer'")
        return self


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{name}'; use an IANA name like Europe/Istanbul"
        ) from None


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS = "|".join(DAY_NAMES)
DAY_SPEC = rf"^({_DAYS})(-({_DAYS}))?(,({_DAYS})(-({_DAYS}))?)*$"
TIME_RANGE = r"([01][0-9]|2[0-4]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]"
RANGES_SPEC = rf"^(closed|{TIME_RANGE}(,\s*{TIME_RANGE})*)$"


class Hours(Model):
    timezone: str = Field(description="IANA time zone, e.g. America/New_York.")
    open: dict[
        Annotated[str, Field(pattern=DAY_SPEC)], Annotated[str, Field(pattern=RANGES_SPEC)]
    ] = Field(description='Days or day ranges to opening times: {mon-fri: "08:00-20:00"}.')
    closed_dates: list[Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]] = Field(
        default_factory=list, description="Dates (YYYY-MM-DD) closed all day."
    )

    @model_validator(mode="after")
    def _valid_timezone(self) -> Hours:
        _check_timezone(self.timezone)
        return self


class Agent(Model):
    id: str
    phone: str | None = Field(None, description="The number this agent calls the agent line from.")
    client: str | None = Field(None, description="Or a Twilio Client identity (client:alice).")
    queues: list[str] = Field(min_length=1, description="Queues this agent answers.")

    @model_validator(mode="after")
    def _reachable(self) -> Agent:
        if self.phone is None and self.client is None:
            raise ValueError("an agent needs a 'phone' or a 'client' identity")
        return self


DEFAULT_CALLBACK_RETRY = (600.0, 3600.0)  # 10m, 1h
MAX_CALLBACK_RETRIES = 8


class CallbackOffer(Model):
    offer_after: Duration = Field(
        description="Offer a callback once the estimated wait passes this."
    )
    digit: Key = "1"
    phrases: Phrases = Field(default_factory=lambda: ["call me back", "callback"])
    retry: list[Duration] = Field(
        default_factory=lambda: list(DEFAULT_CALLBACK_RETRY),
        max_length=MAX_CALLBACK_RETRIES,
        description="When a callback is not answered (busy, no answer), wait this long and "
        "call again, once per entry; after the last try the callback has failed.",
    )


class Queue(Model):
    hours: str | None = Field(None, description="Name of an entry under `hours`.")
    announce_every: Duration = 45.0
    callback: CallbackOffer | None = None
    max_wait: Duration | None = Field(
        None, description="Past this the caller is moved to a callback, never dropped."
    )


# --- nodes ---------------------------------------------------------------------------


class MenuOption(Model):
    digit: Key | None = None
    phrases: Phrases = Field(default_factory=list)
    goto: NodeName

    @model_validator(mode="after")
    def _some_input(self) -> MenuOption:
        if self.digit is None and not self.phrases:
            raise ValueError("a menu option needs a 'digit' or 'phrases'")
        return self


class Menu(Model):
    prompt: Prompt
    options: list[MenuOption] = Field(min_length=1)
    timeout: Duration = 5.0
    no_match: Prompt | None = Field(None, description="Said before re-prompting on no match.")
    no_input: Prompt | None = Field(None, description="Said before re-prompting on silence.")


class DigitsInput(Model):
    min: int = Field(1, ge=1, le=40)
    max: int = Field(20, ge=1, le=40)
    finish_key: Literal["#", "*", ""] = "#"

    @model_validator(mode="after")
    def _ordered(self) -> DigitsInput:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class SpeechInput(Model):
    hints: Phrases = Field(default_factory=list)


class Ask(Model):
    prompt: Prompt
    digits: DigitsInput | None = None
    speech: SpeechInput | None = None
    save_as: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    timeout: Duration = 5.0

    @model_validator(mode="after")
    def _some_input(self) -> Ask:
        if self.digits is None and self.speech is None:
            raise ValueError("ask needs 'digits', 'speech', or both")
        if self.save_as in BUILTIN_VARIABLES:
            raise ValueError(f"save_as '{self.save_as}' would hide the built-in {{{self.save_as}}}")
        return self


class Condition(Model):
    """One test on a variable (`caller`, `dialed`, `flow` or a saved value) or on the time.

    Declarative on purpose: no expression is ever evaluated.
    """

    var: str | None = None
    equals: str | None = None
    not_equals: str | None = None
    in_: list[str] | None = Field(None, alias="in")
    starts_with: str | None = None
    ends_with: str | None = None
    contains: str | None = None
    exists: bool | None = None
    greater_than: float | None = None
    less_than: float | None = None
    time: str | None = Field(
        None, pattern=rf"^{TIME_RANGE}$", description='Local time range, e.g. "12:00-13:00".'
    )
    days: str | None = Field(None, pattern=DAY_SPEC, description="Days, e.g. mon-fri or sat,sun.")
    timezone: str | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _well_formed(self) -> Condition:
        tests = [
            n
            for n in (
                "equals",
                "not_equals",
                "in_",
                "starts_with",
                "ends_with",
                "contains",
                "exists",
                "greater_than",
                "less_than",
            )
            if getattr(self, n) is not None
        ]
        groups = [n for n in ("all", "any", "not_") if getattr(self, n) is not None]
        timed = self.time is not None or self.days is not None
        if self.var is not None:
            if len(tests) != 1 or groups or timed:
                raise ValueError(
                    "a 'var' condition needs exactly one test: equals, not_equals, in, "
                    "starts_with, ends_with, contains, exists, greater_than or less_than"
                )
        elif timed:
            if tests or groups:
                raise ValueError("a time condition takes only time, days and timezone")
            if self.timezone is None:
                raise ValueError("a time condition needs a 'timezone'")
            _check_timezone(self.timezone)
        elif len(groups) != 1 or tests:
            raise ValueError("a condition is one of: var + a test, time/days, all, any or not")
        return self


class BranchCase(Model):
    model_config = ConfigDict(populate_by_name=False)
    if_: Condition = Field(alias="if")
    goto: NodeName


class Branch(Model):
    cases: list[BranchCase] = Field(min_length=1)
    otherwise: NodeName


class Transfer(Model):
    to: Annotated[str, Field(pattern=TARGET_PATTERN)] = Field(
        description="An E.164 number, a sip: URI or a client: identity."
    )
    timeout: Duration = 30.0
    whisper: Prompt | None = Field(None, description="Said to the person answering.")
    on_fail: NodeName | None = Field(
        None, description="Where to go on busy/no answer; default: the escape route."
    )


class Callback(Model):
    queue: str
    say: Prompt | None = None


class Voicemail(Model):
    say: Prompt
    max_length: Duration = 120.0
    queue: str | None = Field(None, description="Whose voicemail box this is.")


class End(Model):
    say: Prompt | None = None
    resolved: bool = Field(
        False, description="True when the caller's need was met without a person."
    )


class SayNode(Model):
    say: Prompt
    next: NodeName


class MenuNode(Model):
    menu: Menu


class AskNode(Model):
    ask: Ask
    next: NodeName


class HoursNode(Model):
    hours: str = Field(description="Name of an entry under the flow's `hours`.")
    open: NodeName
    closed: NodeName


class BranchNode(Model):
    branch: Branch


class QueueNode(Model):
    queue: str
    say: Prompt | None = None


class TransferNode(Model):
    transfer: Transfer


class CallbackNode(Model):
    callback: Callback


class VoicemailNode(Model):
    voicemail: Voicemail


class EndNode(Model):
    end: End


NODE_KINDS: dict[str, type[Model]] = {
    "menu": MenuNode,
    "ask": AskNode,
    "hours": HoursNode,
    "branch": BranchNode,
    "queue": QueueNode,
    "transfer": TransferNode,
    "callback": CallbackNode,
    "voicemail": VoicemailNode,
    "end": EndNode,
    "say": SayNode,
}
NODE_TAG_PREFIX = "node:"


def node_kind_of(value: Any) -> str | None:
    """The kind a node mapping declares; `say` alone is a say node, `say` beside a kind is
    that kind's own prompt."""
    if isinstance(value, Model):
        return next(k for k, cls in NODE_KINDS.items() if isinstance(value, cls))
    if not isinstance(value, dict):
        return None
    kinds = [k for k in NODE_KINDS if k != "say" and k in value]
    if len(kinds) == 1:
        return kinds[0]
    if not kinds and "say" in value:
        return "say"
    return None


def _node_tag(value: Any) -> str | None:
    kind = node_kind_of(value)
    return None if kind is None else NODE_TAG_PREFIX + kind


Node = Annotated[
    Annotated[MenuNode, Tag("node:menu")]
    | Annotated[AskNode, Tag("node:ask")]
    | Annotated[HoursNode, Tag("node:hours")]
    | Annotated[BranchNode, Tag("node:branch")]
    | Annotated[QueueNode, Tag("node:queue")]
    | Annotated[TransferNode, Tag("node:transfer")]
    | Annotated[CallbackNode, Tag("node:callback")]
    | Annotated[VoicemailNode, Tag("node:voicemail")]
    | Annotated[EndNode, Tag("node:end")]
    | Annotated[SayNode, Tag("node:say")],
    Discriminator(
        _node_tag,
        custom_error_type="node_kind",
        custom_error_message=(
            "a node needs exactly one kind: say (+next), menu, ask, hours, branch, queue, "
            "transfer, callback, voicemail or end"
        ),
    ),
]


class Flow(Model):
    """One flow file."""

    id: Annotated[str, Field(pattern=NAME_PATTERN)]
    numbers: list[Annotated[str, Field(pattern=r"^\+[0-9]{6,15}$")]] = Field(
        default_factory=list,
        description="Dialed numbers (Twilio `To`) this flow answers; empty = the default flow.",
    )
    locale: str = Field("en-US", pattern=LOCALE_PATTERN)
    voice: str | None = None
    escape: Escape
    hours: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Hours] = Field(default_factory=dict)
    agents: list[Agent] = Field(default_factory=list)
    queues: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Queue] = Field(default_factory=dict)
    start: NodeName
    nodes: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Node] = Field(min_length=1)

    @property
    def language(self) -> str:
        return self.locale.split("-")[0]

    def queue(self, name: str) -> Queue:
        """A queue's settings; a queue named only in nodes gets the defaults."""
        return self.queues.get(name) or Queue()


def node_kind(node: Model) -> str:
    kind = node_kind_of(node)
    assert kind is not None
    return kind


def node_targets(node: Model) -> list[tuple[tuple[str | int, ...], str]]:
    """Every node name a node can go to, with the location of the reference inside it."""
    match node:
        case SayNode(next=nxt) | AskNode(next=nxt):
            return [(("next",), nxt)]
        case MenuNode(menu=menu):
            return [(("menu", "options", i, "goto"), o.goto) for i, o in enumerate(menu.options)]
        case HoursNode(open=open_, closed=closed):
            return [(("open",), open_), (("closed",), closed)]
        case BranchNode(branch=branch):
            refs: list[tuple[tuple[str | int, ...], str]] = [
                (("branch", "cases", i, "goto"), c.goto) for i, c in enumerate(branch.cases)
            ]
            return [*refs, (("branch", "otherwise"), branch.otherwise)]
        case TransferNode(transfer=Transfer(on_fail=str(on_fail))):
            return [(("transfer", "on_fail"), on_fail)]
    return []


INPUT_KINDS = frozenset({"menu", "ask"})
