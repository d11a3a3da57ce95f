"""Lint rules about what callers hear: variables, long prompts, the escape announcement."""

from __future__ import annotations

import re
from collections.abc import Iterator

from flows.lint import Finding, and_list, close_match, finding, show_path, suggest
from flows.lint_walk import Graph, definitely_saved, graph_of, shortest_path, unsaved_path
from flows.model import (
    BUILTIN_VARIABLES,
    INPUT_KINDS,
    AskNode,
    BranchNode,
    CallbackNode,
    Condition,
    EndNode,
    Flow,
    MenuNode,
    Model,
    QueueNode,
    SayNode,
    TransferNode,
    VoicemailNode,
    node_kind,
    prompt_variables,
)
from flows.phrases import contains_phrase, escape_phrases, language_of
from flows.problems import Loc

Prompt = str | dict[str, str]
MAX_WORDS = 30
PASS_THROUGH = frozenset({"say", "hours", "branch"})  # take no input, lead to another node


def prompts_of(node: Model) -> list[tuple[Loc, str, Prompt]]:
    """Every prompt of a node: its place inside the node, its key, its text(s)."""
    found: list[tuple[Loc, str, Prompt | None]]
    match node:
        case SayNode() | QueueNode():
            found = [(("say",), "say", node.say)]
        case MenuNode(menu=menu):
            found = [
                (("menu", "prompt"), "prompt", menu.prompt),
                (("menu", "no_match"), "no_match", menu.no_match),
                (("menu", "no_input"), "no_input", menu.no_input),
            ]
        case AskNode(ask=ask):
            found = [(("ask", "prompt"), "prompt", ask.prompt)]
        case TransferNode(transfer=transfer):
            found = [(("transfer", "whisper"), "whisper", transfer.whisper)]
        case CallbackNode(callback=callback):
            found = [(("callback", "say"), "say", callback.say)]
        case VoicemailNode(voicemail=voicemail):
            found = [(("voicemail", "say"), "say", voicemail.say)]
        case EndNode(end=end):
            found = [(("end", "say"), "say", end.say)]
        case _:
            found = []
    return [(loc, key, prompt) for loc, key, prompt in found if prompt is not None]


def texts(node_name: str, node: Model) -> Iterator[tuple[Loc, str, str]]:
    """Each text of each prompt of a node: where, how to name it, the text."""
    for loc, key, prompt in prompts_of(node):
        what = {"say": "the say text", "prompt": "the prompt", "whisper": "the whisper"}.get(
            key, f"the {key} text"
        )
        label = f"{what} of '{node_name}'"
        if isinstance(prompt, str):
            yield ("nodes", node_name, *loc), label, prompt
        else:
            for locale, text in prompt.items():
                yield ("nodes", node_name, *loc, locale), f"{label} ({locale})", text


def condition_variables(cond: Condition, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if cond.var is not None:
        yield (*loc, "var"), cond.var
    for key, group in (("all", cond.all), ("any", cond.any)):
        for i, sub in enumerate(group or ()):
            yield from condition_variables(sub, (*loc, key, i))
    if cond.not_ is not None:
        yield from condition_variables(cond.not_, (*loc, "not"))


def prompt_findings(flow: Flow) -> list[Finding]:
    found = [*undefined_variables(flow), *long_prompts(flow)]
    if flow.start in flow.nodes:
        graph = graph_of(flow)
        found += [*maybe_unsaved(flow, graph), *no_announcement(flow, graph)]
    return found


def _braced(name: str) -> str:
    return "{" + name + "}"


def undefined_variables(flow: Flow) -> list[Finding]:
    """L106: a `{variable}` or a branch `var:` that is neither built in nor saved."""
    saved = {n.ask.save_as for n in flow.nodes.values() if isinstance(n, AskNode)}
    known = sorted(BUILTIN_VARIABLES | saved)
    known_list = f"(known variables: {', '.join(known)})"
    found = []
    for name, node in flow.nodes.items():
        for loc, label, text in texts(name, node):
            unknown = sorted(prompt_variables(text) - set(known))
            if not unknown:
                continue
            pairs = [(u, c) for u in unknown if (c := close_match(u, known)) is not None]
            hint = ""
            if len(unknown) == 1 and pairs:
                hint = f"; did you mean {_braced(pairs[0][1])}?"
            elif pairs:
                hint = (
                    "; did you mean "
                    + ", ".join(f"{_braced(c)} for {_braced(u)}" for u, c in pairs)
                    + "?"
                )
            which = and_list([_braced(u) for u in unknown])
            message = f"{label} uses {which}, which no ask saves {known_list}{hint}"
            found.append(finding(loc, "L106", message))
        if isinstance(node, BranchNode):
            for i, case in enumerate(node.branch.cases):
                at: Loc = ("nodes", name, "branch", "cases", i, "if")
                for loc, var in condition_variables(case.if_, at):
                    if var not in known:
                        message = (
                            f"case {i + 1} of branch '{name}' tests the variable '{var}', "
                            f"which no ask saves {known_list}" + suggest(var, known)
                        )
                        found.append(finding(loc, "L106", message))
    return found


def long_prompts(flow: Flow) -> list[Finding]:
    """L203: a prompt text longer than about 30 words."""
    found = []
    for name, node in flow.nodes.items():
        for loc, label, text in texts(name, node):
            count = len(text.split())
            if count > MAX_WORDS:
                message = (
                    f"{label} is {count} words long; callers forget the start of prompts "
                    f"longer than about {MAX_WORDS} words: shorten or split it"
                )
                found.append(finding(loc, "L203", message))
    return found


def maybe_unsaved(flow: Flow, graph: Graph) -> list[Finding]:
    """L205: a prompt uses a saved variable that some path from start has not saved yet."""
    before = definitely_saved(flow, graph, flow.start)
    savers: dict[str, list[str]] = {}
    for name, node in flow.nodes.items():
        if isinstance(node, AskNode):
            savers.setdefault(node.ask.save_as, []).append(name)
    found = []
    for name, node in flow.nodes.items():
        if name not in before:
            continue  # unreachable: L201
        for loc, label, text in texts(name, node):
            for var in sorted(prompt_variables(text)):
                if var not in savers or var in before[name]:
                    continue  # built in (or unknown: L106), or always saved by now
                path = unsaved_path(graph, flow.start, name, savers[var]) or [name]
                by = " or ".join(f"'{s}'" for s in savers[var])
                message = (
                    f"{label} uses {_braced(var)}, but a call can get there without passing "
                    f"{by}, which saves it: {show_path(path)}; the caller would hear "
                    "nothing in its place"
                )
                found.append(finding(loc, "L205", message))
    return found


def heard(prompt: Prompt, locale: str) -> str:
    """The text a caller of the flow's locale hears: exact locale, language, or first."""
    if isinstance(prompt, str):
        return prompt
    if locale in prompt:
        return prompt[locale]
    lang = language_of(locale)
    same = (text for key, text in prompt.items() if language_of(key) == lang)
    return next(same, next(iter(prompt.values())))


def announces_escape(flow: Flow, text: str) -> bool:
    """Does the text tell the caller the escape key or an escape phrase?"""
    key = re.escape(flow.escape.digits)
    if re.search(rf"(?<![0-9]){key}(?![0-9])", text):
        return True
    lang = language_of(flow.locale)
    phrases = escape_phrases(flow.locale, flow.escape.phrases)
    return any(contains_phrase(text, phrase, lang) for phrase in phrases)


def no_announcement(flow: Flow, graph: Graph) -> list[Finding]:
    """L206: the caller is asked for input before hearing how to reach a person."""
    quiet: dict[str, Loc | None] = {}  # nodes that do not announce it: where their prompt is
    for name, node in flow.nodes.items():
        kind = node_kind(node)
        if kind in PASS_THROUGH or kind in INPUT_KINDS:
            spoken = prompts_of(node)
            if not spoken:
                quiet[name] = None
            elif not announces_escape(flow, heard(spoken[0][2], flow.locale)):
                quiet[name] = ("nodes", name, *spoken[0][0])
    path = shortest_path(
        graph,
        flow.start,
        lambda n: n in quiet and node_kind(flow.nodes[n]) in INPUT_KINDS,
        lambda n: n in quiet and node_kind(flow.nodes[n]) in PASS_THROUGH,
    )
    if path is None:
        return []
    loc = next(where for n in path if (where := quiet[n]) is not None)
    phrase = escape_phrases(flow.locale, flow.escape.phrases)[0]
    message = (
        f"callers are asked for input before they hear how to reach a person: "
        f"{show_path(path)}; mention the escape key {flow.escape.digits} or a phrase such "
        f"as '{phrase}' before the first question (Texas HB 3762 asks for that at the "
        "start of each call)"
    )
    return [finding(loc, "L206", message)]
