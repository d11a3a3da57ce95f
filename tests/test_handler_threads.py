"""The threads webhook handlers run on: answers, errors and the log context come back to
the request; a handler waiting on the database holds up no other."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from webhooks.handler_threads import HandlerThreads

REQUEST = contextvars.ContextVar("request", default="none")


def test_a_handler_answers_on_another_thread_with_the_requests_context() -> None:
    threads = HandlerThreads()

    def handler(name: str) -> tuple[str, str, bool]:
        return name.upper(), REQUEST.get(), threading.current_thread() is threading.main_thread()

    async def request() -> tuple[str, str, bool]:
        REQUEST.set("CA123")
        return await threads.run(handler, "gather")

    try:
        assert asyncio.run(request()) == ("GATHER", "CA123", False)
    finally:
        threads.close()


def test_a_handlers_error_reaches_the_request() -> None:
    threads = HandlerThreads()

    def handler(_: object) -> str:
        raise LookupError("no such call")

    try:
        with pytest.raises(LookupError, match="no such call"):
            asyncio.run(threads.run(handler, None))
    finally:
        threads.close()


def test_a_waiting_handler_does_not_hold_up_the_others() -> None:
    """The first waits for what only the second can do: one thread would never finish."""
    threads = HandlerThreads(threads=4)
    released = threading.Event()

    def waits(_: object) -> str:
        return "released" if released.wait(timeout=10) else "timed out"

    def releases(_: object) -> str:
        released.set()
        return "done"

    async def both() -> list[str]:
        first = asyncio.ensure_future(threads.run(waits, None))
        await asyncio.sleep(0.05)
        return [await threads.run(releases, None), await first]

    try:
        assert asyncio.run(both()) == ["done", "released"]
    finally:
        threads.close()


def test_no_more_threads_than_allowed_and_queued_work_still_done() -> None:
    threads = HandlerThreads(threads=3)
    seen: set[str] = set()
    lock = threading.Lock()

    def handler(n: int) -> int:
        with lock:
            seen.add(threading.current_thread().name)
        return n * n

    async def many() -> list[int]:
        return list(await asyncio.gather(*(threads.run(handler, n) for n in range(50))))

    try:
        assert asyncio.run(many()) == [n * n for n in range(50)]
        assert 1 <= len(seen) <= 3
    finally:
        threads.close()


def test_a_request_that_went_away_does_not_break_the_thread() -> None:
    threads = HandlerThreads(threads=1)
    go = threading.Event()

    def slow(_: object) -> str:
        go.wait(timeout=10)
        return "late"

    errors: list[dict[str, object]] = []

    async def scenario() -> str:
        asyncio.get_running_loop().set_exception_handler(lambda _, error: errors.append(error))
        gone = asyncio.ensure_future(threads.run(slow, None))
        await asyncio.sleep(0.05)
        gone.cancel()  # the client hung up
        go.set()
        return await threads.run(lambda _: "next", None)  # the same (only) thread

    try:
        assert asyncio.run(scenario()) == "next"
        assert errors == []  # the late answer was dropped, not set on a cancelled future
    finally:
        threads.close()
