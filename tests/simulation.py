"""Run a simulation through the real server in-process, on a test database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_text
from ivr.ports import CallLog, MemoryCallLog
from simulator.contact_centre import Scenario, Tally
from simulator.run import Clock, in_process
from webhooks.app import create_app
from webhooks.settings import Settings

TOKEN = "simulation-token"
MONDAY_NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def simulate(
    flow_text: str,
    db_url: str,
    tmp_path: Path,
    seconds_per_word: float = 0.4,
    **scenario: object,
) -> tuple[Tally, CallLog]:
    loaded = load_text(flow_text, "sim.yaml")
    call_log: CallLog = (
        MemoryCallLog() if db_url == "memory://" else StoreCallLog.open(db_url, tmp_path / "spool")
    )
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN})

    def make_app(clock: Clock) -> object:
        return create_app(settings, lambda: Catalog((loaded,)), call_log, clock)

    tally = in_process(
        Scenario(loaded.flow, **scenario),  # type: ignore[arg-type]
        make_app,
        auth_token=TOKEN,
        start=MONDAY_NOON,
        seconds_per_word=seconds_per_word,
    )
    return tally, call_log
