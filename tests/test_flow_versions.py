"""Keeping flow versions across reloads: new calls get the new version, calls in progress
find the one they started on, a broken edit changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.catalog import Catalog
from flows.loader import load_text
from flows.problems import FlowError
from flows.versions import ServedFlows, next_catalog

FLOW = """
id: {id}
escape: {{queue: support}}
queues: {{support: {{callback: {{offer_after: 30s}}}}}}
start: menu
nodes:
  menu:
    menu:
      prompt: "{prompt} Press 0 or say agent for a person."
      options: [{{digit: "1", goto: bye}}]
  bye: {{end: {{say: "Bye.", resolved: true}}}}
"""


def flow_text(prompt: str, flow_id: str = "shop") -> str:
    return FLOW.format(id=flow_id, prompt=prompt)


def test_a_reload_keeps_the_old_version_for_calls_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(flow_text("Press 1 to leave."))
    served = ServedFlows([str(path)])
    v1 = served.catalog().by_id("shop")
    assert v1 is not None

    path.write_text(flow_text("Press 1 to say goodbye."))
    result = served.reload()

    assert result.accepted and [f.flow.id for f in result.changed] == ["shop"]
    now = served.catalog()
    v2 = now.by_id("shop")
    assert v2 is not None and v2.version != v1.version
    assert now.for_number("+15005550006") is v2  # new calls
    assert now.for_call("shop", v1.version) is v1  # the call that started on v1
    assert now.for_call("shop", v2.version) is v2


def test_a_broken_edit_is_refused_with_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(flow_text("Press 1 to leave."))
    served = ServedFlows([str(path)])
    before = served.catalog()

    path.write_text(flow_text("Press 1 to leave.").replace("prompt:", "promt:"))
    result = served.reload()

    assert not result.accepted
    assert str(result.errors[0]).startswith(f"{path}:9:7: F102 unknown key 'promt'")
    assert served.catalog() is before


def test_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(flow_text("Press 1 to leave."))
    served = ServedFlows([str(path)])
    result = served.reload()
    assert result.accepted and result.changed == () and result.removed == ()
    assert served.catalog().earlier == {}


def test_a_flow_removed_from_the_folder_takes_no_new_calls_but_finishes_its_calls(
    tmp_path: Path,
) -> None:
    (tmp_path / "shop.yaml").write_text(flow_text("Shop.") + 'numbers: ["+15005550001"]\n')
    (tmp_path / "desk.yaml").write_text(flow_text("Desk.", "desk"))
    served = ServedFlows([str(tmp_path)])
    shop = served.catalog().by_id("shop")
    assert shop is not None

    (tmp_path / "shop.yaml").unlink()
    result = served.reload()

    assert result.accepted and result.removed == ("shop",)
    now = served.catalog()
    assert now.by_id("shop") is None
    assert now.for_number("+15005550001") is now.by_id("desk")
    assert now.for_call("shop", shop.version) is shop


def test_serving_starts_only_from_good_files(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("id: [")
    with pytest.raises(FlowError) as err:
        ServedFlows([str(path)])
    assert str(err.value).startswith(f"{path}:1:")


def test_only_the_newest_versions_are_kept() -> None:
    catalog = Catalog(())
    versions = [load_text(flow_text(f"Version {n}."), "shop.yaml") for n in range(6)]
    for loaded in versions:
        catalog = next_catalog(catalog, [loaded], keep=3)
    assert catalog.flows == (versions[5],)
    assert list(catalog.earlier) == [("shop", v.version) for v in versions[2:5]]


def test_going_back_to_an_earlier_version_serves_it_again() -> None:
    one, two = (load_text(flow_text(p), "shop.yaml") for p in ("One.", "Two."))
    catalog = next_catalog(next_catalog(next_catalog(Catalog(()), [one]), [two]), [one])
    assert catalog.flows == (one,)
    assert list(catalog.earlier) == [("shop", two.version)]
