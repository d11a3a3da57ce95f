"""A flow drawn as a graph (Mermaid or Graphviz dot), escape routes included.

Every prompt gets a dashed edge to the person the escape hatch reaches, labelled with the
key and the words that take it, so a reviewer can see that no menu is a trap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flows.model import (
    BranchNode,
    CallbackNode,
    EndNode,
    Flow,
    HoursNode,
    MenuNode,
    QueueNode,
    TransferNode,
    VoicemailNode,
    node_kind,
)

# Not valid node names (they hold parentheses), so they can never clash with one.
PERSON = "(person)"
START = "(start)"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    escape: bool = False


def _node_label(name: str, flow: Flow) -> str:
    node = flow.nodes[name]
    match node:
        case QueueNode():
            return f"{name}\\nqueue: {node.queue}"
        case TransferNode():
            return f"{name}\\ntransfer: {node.transfer.to}"
        case CallbackNode():
            return f"{name}\\ncallback: {node.callback.queue}"
        case VoicemailNode():
            return f"{name}\\nvoicemail"
        case EndNode():
            return f"{name}\\nend ({'resolved' if node.end.resolved else 'unresolved'})"
    return f"{name}\\n{node_kind(node)}"


def _person_label(flow: Flow) -> str:
    escape = flow.escape
    where = f"queue: {escape.queue}" if escape.queue else f"transfer: {escape.transfer}"
    return f"person\\n{where}"


def edges(flow: Flow) -> list[Edge]:
    result: list[Edge] = []
    escape_label = f"{flow.escape.digits} / agent / {flow.escape.after_failures + 1} failures"
    for name, node in flow.nodes.items():
        match node:
            case MenuNode():
                for option in node.menu.options:
                    said = option.phrases[0] if option.phrases else ""
                    label = " / ".join(x for x in (option.digit or "", said) if x)
                    result.append(Edge(name, option.goto, label))
            case HoursNode():
                result.append(Edge(name, node.open, "open"))
                result.append(Edge(name, node.closed, "closed"))
            case BranchNode():
                for i, case in enumerate(node.branch.cases, 1):
                    result.append(Edge(name, case.goto, f"case {i}"))
                result.append(Edge(name, node.branch.otherwise, "otherwise"))
            case TransferNode():
                result.append(Edge(name, node.transfer.on_fail or PERSON, "no answer"))
            case _:
                nxt = getattr(node, "next", None)
                if isinstance(nxt, str):
                    result.append(Edge(name, nxt, ""))
        if node_kind(node) in ("menu", "ask"):
            result.append(Edge(name, PERSON, escape_label, escape=True))
    return result


def _mermaid_ids(names: list[str]) -> dict[str, str]:
    """Readable Mermaid ids (n_main_menu); main-menu and main_menu still get two."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = "n_" + "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        ids[name] = candidate
    return ids


def to_mermaid(flow: Flow) -> str:
    ids = _mermaid_ids(list(flow.nodes)) | {PERSON: "person", START: "start"}
    lines = ["flowchart TD"]
    lines.append(f'  person(["{_person_label(flow)}"])'.replace("\\n", "<br/>"))
    for name in flow.nodes:
        text = _node_label(name, flow).replace("\\n", "<br/>").replace('"', "'")
        lines.append(f'  {ids[name]}["{text}"]')
    lines.append(f"  start((start)) --> {ids[flow.start]}")
    for edge in edges(flow):
        arrow = "-.->" if edge.escape else "-->"
        label = f"|{edge.label.replace('|', '/')}|" if edge.label else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    lines.append("  classDef person fill:#d4f7d4,stroke:#2a7a2a;")
    lines.append("  class person person;")
    return "\n".join(lines) + "\n"


def to_dot(flow: Flow) -> str:
    q = json.dumps  # a JSON string is a valid, escaped dot string
    lines = [f"digraph {q(flow.id)} {{", "  rankdir=TB;", "  node [shape=box];"]
    lines.append(
        f"  {q(PERSON)} [label={q(_person_label(flow)).replace(chr(92) * 2, chr(92))}, "
        'shape=ellipse, style=filled, fillcolor="#d4f7d4"];'
    )
    for name in flow.nodes:
        label = q(_node_label(name, flow)).replace("\\\\n", "\\n")
        lines.append(f"  {q(name)} [label={label}];")
    lines.append(f'  {q(START)} [shape=circle, label="start"];')
    lines.append(f"  {q(START)} -> {q(flow.start)};")
    for edge in edges(flow):
        style = ", style=dashed, color=darkgreen" if edge.escape else ""
        lines.append(f"  {q(edge.source)} -> {q(edge.target)} [label={q(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
