"""How long Twilio waits for our answers, with PostgreSQL healthy and with it silently
dropping every packet (a TCP proxy that accepts and forwards nothing).

    .venv/bin/python bench/answer_latency.py [--calls 30] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints p50/p99/max of every webhook answer in milliseconds for both cases. Needs a
PostgreSQL admin URL (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from tests.tcp_proxy import TcpProxy
from tests.test_database_blackhole import FLOW
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "bench-token"


class TimedTwilio(FakeTwilio):
    def __init__(self, base: str, token: str) -> None:
        super().__init__(base, token)
        self.times: list[float] = []

    def post(
        self, url: str, params: dict[str, str], *, sign: bool = True, signature: str | None = None
    ) -> httpx.Response:
        started = time.perf_counter()
        response = super().post(url, params, sign=sign, signature=signature)
        self.times.append((time.perf_counter() - started) * 1000)
        return response


def run(twilio: TimedTwilio, calls: int) -> list[float]:
    twilio.times = []
    for n in range(calls):
        twilio.dial(["1", "", "4321#"] if n % 2 else ["0"])
    return twilio.times


def report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{name:<24} {len(times):>5} answers  p50 {statistics.median(ordered):7.1f} ms  "
        f"p99 {p99:7.1f} ms  max {ordered[-1]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    admin_url = make_url(args.pg)
    name = f"ivr_bench_{uuid.uuid4().hex}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        loaded = load_text(FLOW, "bench.yaml")
        with TcpProxy(admin_url.port or 5432) as proxy, tempfile.TemporaryDirectory() as spool:
            url = admin_url.set(database=name, port=proxy.port)
            log = StoreCallLog.open(url.render_as_string(hide_password=False), spool)
            app = create_app(
                Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}), lambda: Catalog((loaded,)), log
            )
            with serve(app) as base:
                twilio = TimedTwilio(base, TOKEN)
                report("database healthy", run(twilio, args.calls))
                proxy.blackhole()
                report("database blackholed", run(twilio, args.calls))
                proxy.restore()
                twilio.http.close()
            log.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
