"""Lint rules about where calls can go: dead ends, loops, closed hours, unreachable nodes."""

from __future__ import annotations

from flows.lint import Finding, and_list, finding, show_path, some_of
from flows.lint_walk import Graph, cycles, distances, graph_of, path_to, reachable
from flows.model import INPUT_KINDS, EndNode, Flow, HoursNode, node_kind, node_targets


def path_findings(flow: Flow) -> list[Finding]:
    graph = graph_of(flow)
    found = [*loops(flow, graph), *closed_hours(flow, graph)]
    if flow.start in flow.nodes:
        found += [*dead_ends(flow, graph), *unreachable(flow, graph)]
    return found


def dead_ends(flow: Flow, graph: Graph) -> list[Finding]:
    """L103: an `end` that is not resolved, reachable from start."""
    found = []
    for name in sorted(reachable(graph, [flow.start]), key=list(flow.nodes).index):
        node = flow.nodes[name]
        if isinstance(node, EndNode) and not node.end.resolved:
            path = path_to(graph, flow.start, name) or [name]
            message = (
                f"a call can end at '{name}' without reaching a person: {show_path(path)}; "
                "set resolved: true if the caller's need is met there, or send the call to "
                "a queue, transfer, callback or voicemail"
            )
            found.append(finding(("nodes", name), "L103", message, at_key=True))
    return found


def loops(flow: Flow, graph: Graph) -> list[Finding]:
    """L104: a cycle of nodes that never ask the caller anything."""
    quiet = {
        name: [t for t in targets if node_kind(flow.nodes[t]) not in INPUT_KINDS]
        for name, targets in graph.items()
        if node_kind(flow.nodes[name]) not in INPUT_KINDS
    }
    hops = distances(graph, flow.start)
    order = list(flow.nodes)
    found = []
    for cycle, component in cycles(quiet):
        ring = cycle[:-1]
        first = min(range(len(ring)), key=lambda i: (hops.get(ring[i], len(order)), i))
        ring = ring[first:] + ring[:first]
        last = ring[-1]
        where = next(w for w, t in node_targets(flow.nodes[last]) if t == ring[0])
        others = some_of([f"'{n}'" for n in component if n not in ring])
        also = f"; {and_list(others)} loop with them too" if others else ""
        message = (
            "these nodes loop forever without asking the caller anything: "
            f"{show_path([*ring, ring[0]])}{also}; put a menu or ask on the loop, or let it end"
        )
        found.append(finding(("nodes", last, *where), "L104", message))
    return found


def closed_hours(flow: Flow, graph: Graph) -> list[Finding]:
    """L105: the closed side of an hours node never offers a callback or voicemail."""
    found = []
    for name, node in flow.nodes.items():
        if not isinstance(node, HoursNode) or node.closed not in flow.nodes:
            continue
        after = reachable(graph, [node.closed])
        if any(node_kind(flow.nodes[n]) in ("callback", "voicemail") for n in after):
            continue
        message = (
            f"when '{node.hours}' hours are closed, '{name}' goes to '{node.closed}', from "
            "where no callback or voicemail can be reached; offer callers one outside "
            "opening hours"
        )
        found.append(finding(("nodes", name, "closed"), "L105", message))
    return found


def unreachable(flow: Flow, graph: Graph) -> list[Finding]:
    """L201: nodes that no path from start reaches."""
    live = reachable(graph, [flow.start])
    return [
        finding(
            ("nodes", name),
            "L201",
            f"node '{name}' is never reached from start '{flow.start}'; remove it or go to "
            "it from another node",
            at_key=True,
        )
        for name in flow.nodes
        if name not in live
    ]
