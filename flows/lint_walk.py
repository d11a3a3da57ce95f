"""The node graph of a flow, as the linter walks it: edges, paths, cycles, saved variables.

Pure functions over plain data. An edge is a reference (`next`, `goto`, `open`, `closed`,
`otherwise`, `on_fail`) to a node that exists; references to missing nodes are the
linter's L101 and take no part here. Queue, transfer (without `on_fail`), callback,
voicemail and end nodes have no edges: the call leaves the flow there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable

from flows.model import AskNode, Flow, node_targets

Graph = dict[str, list[str]]


def graph_of(flow: Flow) -> Graph:
    """Each node's successors, in file order, without repeats or missing nodes."""
    graph: Graph = {}
    for name, node in flow.nodes.items():
        targets = [t for _, t in node_targets(node) if t in flow.nodes]
        graph[name] = list(dict.fromkeys(targets))
    return graph


def reachable(graph: Graph, roots: Iterable[str]) -> set[str]:
    """Every node some path from a root reaches (the roots included)."""
    seen = {r for r in roots if r in graph}
    todo = list(seen)
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def distances(graph: Graph, start: str) -> dict[str, int]:
    """Hops from start to each node it reaches."""
    if start not in graph:
        return {}
    seen = {start: 0}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        for target in graph[name]:
            if target not in seen:
                seen[target] = seen[name] + 1
                queue.append(target)
    return seen


def shortest_path(
    graph: Graph, source: str, goal: Callable[[str], bool], through: Callable[[str], bool]
) -> list[str] | None:
    """A shortest path from `source` to a node where `goal` holds, passing only through
    nodes where `through` holds (the goal itself excepted)."""
    parent: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        name = queue.popleft()
        if goal(name):
            path = [name]
            while (before := parent[path[-1]]) is not None:
                path.append(before)
            return path[::-1]
        if not through(name):
            continue
        for target in graph[name]:
            if target not in parent:
                parent[target] = name
                queue.append(target)
    return None


def path_to(graph: Graph, source: str, target: str) -> list[str] | None:
    return shortest_path(graph, source, lambda n: n == target, lambda _: True)


def unsaved_path(
    graph: Graph, start: str, target: str, savers: Collection[str]
) -> list[str] | None:
    """A path from `start` to `target` that passes no node in `savers`."""
    return shortest_path(graph, start, lambda n: n == target, lambda n: n not in savers)


def components(graph: Graph) -> list[list[str]]:
    """Strongly connected components (Tarjan, without recursion), in file order of their
    first node; each component's nodes in file order."""
    order = {name: i for i, name in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            name, i = work.pop()
            if i == 0:
                index[name] = low[name] = len(index)
                stack.append(name)
                on_stack.add(name)
            targets = graph[name]
            if i < len(targets):
                work.append((name, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[name] = min(low[name], index[target])
                continue
            if low[name] == index[name]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == name:
                        break
                found.append(sorted(component, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
    return sorted(found, key=lambda c: order[c[0]])


def cycles(graph: Graph) -> list[tuple[list[str], list[str]]]:
    """One cycle per strongly connected component that has one: the nodes in the order a
    call goes round, the first repeated at the end; and the whole component."""
    result = []
    for component in components(graph):
        members = set(component)
        first = component[0]
        if len(component) == 1 and first not in graph[first]:
            continue
        sub = {n: [t for t in graph[n] if t in members] for n in component}
        back = min(
            (path for t in sub[first] if (path := path_to(sub, t, first)) is not None),
            key=len,
        )
        result.append(([first, *back], component))
    return result


def definitely_saved(flow: Flow, graph: Graph, start: str) -> dict[str, frozenset[str]]:
    """For each node reachable from `start`: the variables saved (by `ask.save_as`) on
    every path from `start` to it, before it runs (a forward must-analysis)."""
    live = reachable(graph, [start])
    preds: dict[str, list[str]] = {name: [] for name in live}
    for name in live:
        for target in graph[name]:
            preds[target].append(name)
    saves = {
        name: frozenset({node.ask.save_as}) if isinstance(node, AskNode) else frozenset()
        for name, node in flow.nodes.items()
    }
    everything = frozenset[str]().union(*saves.values())
    before: dict[str, frozenset[str]] = {name: everything for name in live}
    before[start] = frozenset()
    changed = True
    while changed:
        changed = False
        for name in graph:
            if name not in live or name == start:
                continue
            value = frozenset.intersection(*(before[p] | saves[p] for p in preds[name]))
            if value != before[name]:
                before[name] = value
                changed = True
    return before
