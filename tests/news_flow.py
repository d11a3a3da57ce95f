"""The smallest flow the HTTP tests call: a menu with one option, and the escape to a
queue that offers callbacks."""

from __future__ import annotations

_FLOW = """
id: {id}
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "Press 1 for news. Press 0 or say agent for a person."
      options: [{digit: "1", goto: news}]
  news: {end: {say: "No news.", resolved: true}}
"""


def news_flow(flow_id: str) -> str:
    """The flow's YAML, under this id."""
    return _FLOW.replace("{id}", flow_id, 1)
