"""Reports as rows: the CSV of the API and `ivr report --format csv`, and the text tables of
`ivr report`. Plain data in, plain text out (no web or SQL here)."""

from __future__ import annotations

import csv
import io
from typing import Any

# The list each report's CSV holds (REPORTS_CONTRACT); the summary is one flattened row.
CSV_LIST = {
    "summary": None,
    "abandonment": "by_node",
    "time-to-agent": "histogram",
    "callbacks": "by_queue",
    "funnel": "nodes",
}
REPORTS = tuple(CSV_LIST)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}; lists are dropped."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif not isinstance(value, list):
            flat[name] = value
    return flat


def csv_rows(report: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a report's CSV: the summary as one row, the others their main list."""
    key = CSV_LIST[report]
    if key is None:
        return [flatten(data)]
    rows = data.get(key, [])
    if report == "funnel":  # where callers went next does not fit one row
        rows = [{k: v for k, v in row.items() if k != "next"} for row in rows]
    return [flatten(row) for row in rows]


def to_csv(report: str, data: dict[str, Any]) -> str:
    rows = csv_rows(report, data)
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_table(report: str, data: dict[str, Any]) -> str:
    """A report for people: its figures as `name: value` lines, each list as a table."""
    lines = [f"{report}"]
    for name, value in flatten(data).items():
        lines.append(f"  {name}: {_text(value)}")
    for name, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append("")
            lines.append(name)
            lines.extend(_grid([flatten(row) for row in value]))
    return "\n".join(lines) + "\n"


def _grid(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    cells = [list(columns)] + [[_text(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    ]
