"""The threads webhook handlers run on, off the event loop.

A plain executor, handed work with `loop.run_in_executor`: the hand-over costs a fraction
of anyio's worker threads (`run_in_threadpool`), which showed in profiles of every webhook.
The request's context variables (its log context) go along, as they do with anyio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
A = TypeVar("A")
THREADS = 40  # as many as anyio's default: a handler may wait on the database for a while


class HandlerThreads:
    def __init__(self, threads: int = THREADS) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="ivr-hook")

    async def run(self, function: Callable[[A], T], argument: A) -> T:
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, argument)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
