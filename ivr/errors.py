"""Errors raised inside the engine. They never reach a caller: the step function turns
each into a route to a person, and the CLI into a message and an exit code."""


class EngineError(Exception):
    """The engine cannot go on from this state (unknown node, impossible input...)."""
