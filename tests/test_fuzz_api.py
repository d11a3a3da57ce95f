"""The JSON API against its own OpenAPI document (schemathesis), over real HTTP.

Every operation the app publishes is called with generated path, query and header values:
never a 5xx, and every response matches the schema (status code, content type, body).
IVR_FUZZ_EXAMPLES raises the number of cases per operation, as for the webhook fuzz.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from analytics.call_log import StoreCallLog
from flows.catalog import Catalog
from flows.loader import load_path
from tests.twilio_caller import FakeTwilio, serve
from webhooks.app import create_app
from webhooks.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "60"))
TOKEN = "api-fuzz-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, object]]]:
    folder = tmp_path_factory.mktemp("api")
    log = StoreCallLog.open(f"sqlite:///{folder / 'ivr.db'}", folder / "spool")
    catalog = Catalog((load_path(ROOT / "flows.example.yaml"),))
    app = create_app(Settings.from_env({"TWILIO_AUTH_TOKEN": TOKEN}), lambda: catalog, log)
    try:
        with serve(app) as base, FakeTwilio(base, TOKEN) as twilio:
            twilio.dial(["1", "123456#"])  # one known call, so lookups can find something
            yield base, app.openapi()
    finally:
        log.close()


def operations(spec: dict[str, object]) -> list[schemathesis.APIOperation]:  # type: ignore[type-arg]
    found = schemathesis.openapi.from_dict(spec).get_all_operations()
    return [result.ok() for result in found if isinstance(result, Ok)]


def test_the_json_api_keeps_to_its_schema(api: tuple[str, dict[str, object]]) -> None:
    base, spec = api
    found = operations(spec)
    assert "GET /api/calls/{call_sid}" in [op.label for op in found]
    for operation in found:
        # schemathesis's own pytest plugin does not load on this pytest; its strategies do.
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(case=operation.as_strategy())
        def keeps_to_schema(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call(base_url=base)
            assert response.status_code < 500, f"{case.path}: {response.status_code}"
            assert "Traceback" not in response.text
            case.validate_response(response)

        keeps_to_schema()
