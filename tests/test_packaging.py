"""Our generic package names must resolve to this repository, not to a PyPI namesake."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["ivr", "flows", "webhooks", "analytics", "simulator"])
def test_package_comes_from_this_repository(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT / package)


def test_engine_imports_no_web_sql_or_twilio_library() -> None:
    forbidden = ("fastapi", "starlette", "sqlalchemy", "twilio", "uvicorn", "httpx")
    for source in (ROOT / "ivr").glob("*.py"):
        if source.name in ("cli.py", "__main__.py"):
            continue
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in forbidden, f"{source.name}: {line}"


def test_flows_is_the_bottom_layer() -> None:
    for source in (ROOT / "flows").glob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top not in ("ivr", "webhooks", "analytics"), f"{source.name}: {line}"


def test_wheel_ships_the_dashboard_files(tmp_path: Path) -> None:
    # The dashboard's page, script and chart library are data files, not Python: a wheel
    # without them would serve a blank page. Build the real wheel and look inside.
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "webhooks" / "static").rglob("*")
        if path.is_file()
    }
    assert {
        "webhooks/static/dashboard.html",
        "webhooks/static/dashboard.js",
        "webhooks/static/vendor/chart.umd.min.js",
        "webhooks/static/vendor/chart.js-LICENSE.md",
    } <= shipped
    assert shipped <= names, shipped - names


def test_the_simulator_reaches_the_server_only_over_http() -> None:
    for source in (ROOT / "simulator").glob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top not in ("ivr", "webhooks", "analytics"), f"{source.name}: {line}"
