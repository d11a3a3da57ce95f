"""Lint rules that keep a flow from trapping callers.

Every rule is a pure function of the flow, returning `Finding`s located by their path in
the YAML document; the loader turns them into `path:line:col: CODE message`. Codes are
stable (docs/lint-rules.md): L1xx are errors, L2xx warnings, and L110/L111 warnings too.
Graph rules (paths, cycles, opening hours) live in flows/lint_walk.py and
flows/lint_paths.py; prompt rules in flows/lint_prompts.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flows.model import AskNode, CallbackNode, Flow, HoursNode, MenuNode, QueueNode, node_targets
from flows.phrases import contains_phrase, escape_phrases, language_of, same_phrase
from flows.problems import Loc, Severity

WARNINGS = frozenset({"L110", "L111"})
MAX_OPTIONS = 5
MAX_LISTED = 10  # names listed when none is close to a misspelt one


@dataclass(frozen=True)
class Finding:
    loc: Loc
    code: str
    message: str
    severity: Severity = "error"
    at_key: bool = False


def finding(loc: Loc, code: str, message: str, *, at_key: bool = False) -> Finding:
    """A finding with the severity its code carries: L2xx, L110 and L111 are warnings."""
    warning = code.startswith("L2") or code in WARNINGS
    return Finding(loc, code, message, "warning" if warning else "error", at_key)


def close_match(name: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return close[0] if close else None


def quoted(name: str) -> str:
    return f"'{name}'"


def suggest(name: str, choices: Iterable[str], show: Callable[[str], str] = quoted) -> str:
    """'; did you mean 'x'?' when a choice is close to the name, else ''."""
    close = close_match(name, choices)
    return f"; did you mean {show(close)}?" if close is not None else ""


def and_list(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def show_path(path: list[str]) -> str:
    """`a -> b -> c`, long paths shortened in the middle."""
    if len(path) > MAX_LISTED:
        hidden = len(path) - MAX_LISTED
        path = [*path[:5], f"... ({hidden} more)", *path[-(MAX_LISTED - 5) :]]
    return " -> ".join(path)


def some_of(names: list[str]) -> list[str]:
    """At most MAX_LISTED names, and how many more there are."""
    if len(names) <= MAX_LISTED:
        return names
    return [*names[:MAX_LISTED], f"{len(names) - MAX_LISTED} more"]


def option_label(menu: str, index: int) -> str:
    return f"option {index + 1} of menu '{menu}'"


def lint(flow: Flow) -> list[Finding]:
    # Imported here: those modules build their findings with `finding` from this one.
    from flows.lint_paths import path_findings
    from flows.lint_prompts import prompt_findings

    return [
        *unknown_targets(flow),
        *menu_findings(flow),
        *unknown_hours(flow),
        *queue_findings(flow),
        *ask_escape_digit(flow),
        *prompt_findings(flow),
        *path_findings(flow),
    ]


# --- L101 unknown targets --------------------------------------------------------------


def _reference(name: str, flow: Flow, where: Loc, target: str) -> str:
    node = flow.nodes[name]
    match where:
        case ("next",):
            return f"'{name}' goes next to '{target}'"
        case ("menu", "options", int(i), "goto"):
            return f"{option_label(name, i)} goes to '{target}'"
        case ("open",) | ("closed",) if isinstance(node, HoursNode):
            return f"'{name}' goes to '{target}' when '{node.hours}' hours are {where[0]}"
        case ("branch", "cases", int(i), "goto"):
            return f"case {i + 1} of branch '{name}' goes to '{target}'"
        case ("branch", "otherwise"):
            return f"branch '{name}' otherwise goes to '{target}'"
        case ("transfer", "on_fail"):
            return f"transfer '{name}' goes to '{target}' when no one answers (on_fail)"
    return f"'{name}' goes to '{target}'"  # pragma: no cover - every reference is above


def _no_such_node(flow: Flow, target: str) -> str:
    hint = suggest(target, flow.nodes)
    if hint:
        return f", but there is no node '{target}'{hint}"
    names = list(flow.nodes)
    shown = ", ".join(names[:MAX_LISTED]) + (", ..." if len(names) > MAX_LISTED else "")
    return f", but there is no node '{target}' (nodes: {shown})"


def unknown_targets(flow: Flow) -> list[Finding]:
    """L101: a reference to a node that does not exist."""
    found = []
    if flow.start not in flow.nodes:
        message = f"the flow starts at '{flow.start}'" + _no_such_node(flow, flow.start)
        found.append(finding(("start",), "L101", message))
    for name, node in flow.nodes.items():
        for where, target in node_targets(node):
            if target not in flow.nodes:
                message = _reference(name, flow, where, target) + _no_such_node(flow, target)
                found.append(finding(("nodes", name, *where), "L101", message))
    return found


# --- menus: L102 escape digit, L107 duplicate digit, L108 phrases, L204 size -------------


def menu_findings(flow: Flow) -> list[Finding]:
    found: list[Finding] = []
    lang = language_of(flow.locale)
    escapes = escape_phrases(flow.locale, flow.escape.phrases)
    key = flow.escape.digits
    for name, node in flow.nodes.items():
        if not isinstance(node, MenuNode):
            continue
        base: Loc = ("nodes", name, "menu", "options")
        options = node.menu.options
        digits: dict[str, int] = {}
        phrases: list[tuple[int, str]] = []
        for i, option in enumerate(options):
            at: Loc = (*base, i)
            if option.digit == key:
                found.append(
                    finding(
                        (*at, "digit"),
                        "L102",
                        f'{option_label(name, i)} takes key "{key}", the escape key that '
                        "reaches a person from every prompt (escape.digits); choose another key",
                    )
                )
            elif option.digit is not None and option.digit in digits:
                first = digits[option.digit]
                found.append(
                    finding(
                        (*at, "digit"),
                        "L107",
                        f'{option_label(name, i)} takes key "{option.digit}", like option '
                        f"{first + 1}; pressing it always chooses option {first + 1}",
                    )
                )
            elif option.digit is not None:
                digits[option.digit] = i
            for j, phrase in enumerate(option.phrases):
                message = _phrase_problem(name, i, phrase, phrases, escapes, lang)
                if message:
                    found.append(finding((*at, "phrases", j), "L108", message))
            phrases += [(i, p) for p in option.phrases]
        if len(options) > MAX_OPTIONS:
            found.append(
                finding(
                    base,
                    "L204",
                    f"menu '{name}' has {len(options)} options; callers remember about "
                    f"{MAX_OPTIONS}: move some into a second menu",
                )
            )
    return found


def _phrase_problem(
    menu: str,
    index: int,
    phrase: str,
    earlier: list[tuple[int, str]],
    escapes: tuple[str, ...],
    lang: str,
) -> str | None:
    where = f"the phrase '{phrase}' of {option_label(menu, index)}"
    for escape in escapes:
        if same_phrase(phrase, escape, lang):
            return f"{where} is an escape phrase: saying it reaches a person, never this option"
        if contains_phrase(phrase, escape, lang):
            return (
                f"{where} contains the escape phrase '{escape}': saying it reaches a person, "
                "never this option"
            )
    for other, said in earlier:
        if other != index and same_phrase(phrase, said, lang):
            return (
                f"{where} repeats '{said}' of option {other + 1}; saying it always chooses "
                f"option {other + 1}"
            )
    return None


# --- L109 unknown hours ----------------------------------------------------------------


def _no_such_hours(flow: Flow, hours: str) -> str:
    if not flow.hours:
        return f"'{hours}', but no hours are defined (add them under hours:)"
    hint = suggest(hours, flow.hours)
    if hint:
        return f"'{hours}', which are not defined under hours{hint}"
    return f"'{hours}', which are not defined under hours (defined: {', '.join(flow.hours)})"


def unknown_hours(flow: Flow) -> list[Finding]:
    found = []
    for name, node in flow.nodes.items():
        if isinstance(node, HoursNode) and node.hours not in flow.hours:
            message = f"'{name}' checks the opening hours " + _no_such_hours(flow, node.hours)
            found.append(finding(("nodes", name, "hours"), "L109", message))
    for queue, settings in flow.queues.items():
        if settings.hours is not None and settings.hours not in flow.hours:
            message = f"queue '{queue}' has the opening hours " + _no_such_hours(
                flow, settings.hours
            )
            found.append(finding(("queues", queue, "hours"), "L109", message))
    return found


# --- queues: L202 no callback offer, L110 an agent's queue no caller reaches ------------


def queue_findings(flow: Flow) -> list[Finding]:
    found: list[Finding] = []
    holding: dict[str, Loc] = {}  # queues callers wait in, at their first use
    if flow.escape.queue is not None:
        holding[flow.escape.queue] = ("escape", "queue")
    reached = set(holding)  # queues an agent can find a caller or a callback in
    for name, node in flow.nodes.items():
        if isinstance(node, QueueNode):
            holding.setdefault(node.queue, ("nodes", name, "queue"))
            reached.add(node.queue)
        elif isinstance(node, CallbackNode):
            reached.add(node.callback.queue)
    for queue, where in holding.items():
        settings = flow.queues.get(queue)
        offer = "add callback: {offer_after: 2m} so that callers are not left on hold"
        if settings is None:
            message = (
                f"queue '{queue}' is not defined under queues, so it has no callback offer; "
                f"define it and {offer}"
            )
            found.append(finding(where, "L202", message))
        elif settings.callback is None:
            message = f"queue '{queue}' has no callback offer; {offer}"
            found.append(finding(("queues", queue), "L202", message, at_key=True))
    for i, agent in enumerate(flow.agents):
        for j, queue in enumerate(agent.queues):
            if queue not in reached:
                message = (
                    f"agent {agent.id} answers queue '{queue}' that no caller can reach "
                    "(no queue node, callback or escape uses it)"
                ) + suggest(queue, sorted(reached))
                found.append(finding(("agents", i, "queues", j), "L110", message))
    return found


# --- L111 an ask whose one-key answer is the escape key ----------------------------------


def ask_escape_digit(flow: Flow) -> list[Finding]:
    key = flow.escape.digits
    found: list[Finding] = []
    if key not in "0123456789":
        return found
    for name, node in flow.nodes.items():
        if isinstance(node, AskNode) and node.ask.digits is not None and node.ask.digits.min == 1:
            message = (
                f"ask '{name}' takes answers of one key (digits min 1), but the answer "
                f'"{key}" alone is the escape key and reaches a person; set min to 2 or more '
                "if answers are longer"
            )
            found.append(finding(("nodes", name, "ask", "digits", "min"), "L111", message))
    return found
