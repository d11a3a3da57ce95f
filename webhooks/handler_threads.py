"""The threads webhook handlers run on, off the event loop.

Each handler call is put in a queue that the threads take from, and its result is set on
an asyncio future from the thread (`call_soon_threadsafe`). A thread pool's hand-over
(`run_in_executor`: a `concurrent.futures.Future` with its own lock and condition, then
chained to an asyncio one) took a tenth of the event loop's time in profiles under load;
anyio's worker threads (`run_in_threadpool`) cost more still. The request's context
variables (its log context) go along, as they do with both.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")
THREADS = 40  # as many as anyio's default: a handler may wait on the database for a while

_Work = tuple[
    contextvars.Context, Callable[[Any], Any], Any, asyncio.AbstractEventLoop, asyncio.Future[Any]
]


class HandlerThreads:
    def __init__(self, threads: int = THREADS) -> None:
        self.threads = threads
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._started: list[threading.Thread] = []
        self._idle = 0  # threads waiting for work
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, function: Callable[[A], T], argument: A) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_thread()
        self._work.put((contextvars.copy_context(), function, argument, loop, future))
        return await future

    def close(self) -> None:
        """The threads end once the work already handed over is done."""
        with self._lock:
            self._closed = True
            count = len(self._started)
        for _ in range(count):
            self._work.put(None)

    def _ensure_thread(self) -> None:
        """One more thread while none is idle, up to `threads` (started as needed)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the handler threads are closed")
            if self._idle > 0 or len(self._started) >= self.threads:
                self._idle -= 1 if self._idle > 0 else 0
                return
            thread = threading.Thread(
                target=self._serve, name=f"ivr-hook_{len(self._started)}", daemon=True
            )
            self._started.append(thread)
        thread.start()

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            context, function, argument, loop, future = work
            try:
                result = context.run(function, argument)
            except BaseException as err:  # handed to the request, which decides
                _settle(loop, future, None, err)
            else:
                _settle(loop, future, result, None)
            with self._lock:
                self._idle += 1


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():  # the request was cancelled (the client went away)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it now
        loop.call_soon_threadsafe(settle)
