"""The live forms' columnar snapshot: a start reads it and only the forms changed since; figures never differ."""

from __future__ import annotations

import pandas as pd
import pytest

from geo import mission as mission_module
from geo.mission import SNAPSHOT_FILE, load_mission
from geo.store import Store, Submission
from tests.geo.test_store import EXPORT, _import


def fresh_forms(out) -> pd.DataFrame:
    """The forms as read from the store alone, no snapshot: the reference."""
    snapshot = (out / "store.sqlite").resolve().parent / SNAPSHOT_FILE
    snapshot.unlink(missing_ok=True)
    forms = load_mission(out).forms
    snapshot.unlink(missing_ok=True)
    return forms


def row(form_id: str, overall: str, region: str = "AA", ps_id: str = "P1") -> dict:
    return {"form_id": form_id, "form_type": "counting", "region_code": region, "ps_id": ps_id, "overall": overall}


def test_a_start_from_the_snapshot_and_the_changes_since_equals_a_read_of_the_whole_store(tmp_path, monkeypatch):
    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    first = load_mission(out)  # writes the snapshot
    snapshot = (out / "store.sqlite").resolve().parent / SNAPSHOT_FILE
    assert snapshot.is_file()
    pd.testing.assert_frame_equal(load_mission(out).forms, first.forms)  # read back: the same frame, types included
    with Store(out / "store.sqlite") as store:
        store.ingest(
            [
                Submission("N1", row("N1", "very bad"), "2005-12-04T20:00:00Z"),  # new
                Submission("N2", row("N2", "good"), "2005-12-04T20:05:00Z"),  # new, in conflict with N1 at P1
                Submission("F1", None, "2005-12-04T21:00:00Z", review="rejected"),  # reviewed
                Submission("F2", None, "2005-12-04T21:00:00Z", deleted=True),  # deleted
            ],
            "test",
        )
    reads = []
    monkeypatch.setattr(mission_module, "_write_snapshot", lambda *a: reads.append(a))  # few changes: not rewritten
    updated = load_mission(out)
    assert reads == []
    monkeypatch.undo()
    pd.testing.assert_frame_equal(updated.forms, fresh_forms(out))
    forms = updated.forms.set_index("form_id")
    assert "F2" not in forms.index and forms.loc["F1", "review"] == "rejected"
    assert forms.loc["N1", "conflict"] and forms.loc["N2", "conflict"]


def test_many_changes_rewrite_the_snapshot_at_the_new_version(tmp_path, monkeypatch):
    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    load_mission(out)
    monkeypatch.setattr(mission_module, "SNAPSHOT_REWRITE_SHARE", 0.0)
    with Store(out / "store.sqlite") as store:
        store.ingest([Submission(f"N{i}", row(f"N{i}", "bad", "BB", f"Q{i}"), "2005-12-04T20:00:00Z") for i in range(1_001)], "test")
        version = store.data_version()
    load_mission(out)
    with Store(out / "store.sqlite") as store:
        store_id = store.store_id()
    held = mission_module._read_snapshot((out / "store.sqlite").resolve().parent / SNAPSHOT_FILE, store_id, version)
    assert held is not None and held[1] == version and len(held[0]) == 1_003


@pytest.mark.parametrize("content", [b"", b"not parquet at all", None])
def test_a_broken_or_foreign_snapshot_is_rebuilt_not_an_error(tmp_path, content):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    reference = fresh_forms(out)
    snapshot = (out / "store.sqlite").resolve().parent / SNAPSHOT_FILE
    if content is None:  # a Parquet file, but not one this obsmap wrote (another format tag)
        pq.write_table(pa.table({"form_id": ["X"]}), snapshot)
    else:
        snapshot.write_bytes(content)
    pd.testing.assert_frame_equal(load_mission(out).forms, reference)
    with Store(out / "store.sqlite") as store:
        assert mission_module._read_snapshot(snapshot, store.store_id(), store.data_version()) is not None  # rebuilt


def test_a_snapshot_of_another_store_is_never_taken_for_this_one(tmp_path):
    """A store made again (deleted, then a new import) counts its versions from 1 again: the old snapshot, of a
    later version of another store, must not stand in for it."""
    import shutil

    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    with Store(out / "store.sqlite") as store:
        store.ingest([Submission(f"N{i}", row(f"N{i}", "bad"), "2005-12-04T20:00:00Z") for i in range(3)], "test")
    home = (out / "store.sqlite").resolve().parent
    (home / SNAPSHOT_FILE).unlink()
    load_mission(out)  # a snapshot at version 2, with N0-N2
    snapshot = (home / SNAPSHOT_FILE).read_bytes()
    shutil.rmtree(home)
    (out / "store.sqlite").unlink()
    _import(tmp_path, EXPORT, out)  # a new store, version 1 ...
    with Store(out / "store.sqlite") as store:
        store.ingest([Submission("Z1", row("Z1", "good"), "2005-12-04T20:00:00Z")], "test")  # ... then 2, as the old one was
        assert store.data_version() == 2
    home = (out / "store.sqlite").resolve().parent
    (home / SNAPSHOT_FILE).write_bytes(snapshot)
    assert sorted(load_mission(out).forms["form_id"]) == ["F1", "F2", "Z1"]


def test_two_stores_at_the_same_data_version_are_other_data(tmp_path):
    """The mission's version names its store: a copy of the folder whose store was made again (its versions from 1) is
    not taken for the same data, whatever the files and the data version say (a shared cache keys figures by it)."""
    import shutil

    from geo.schema import FORM_COLUMNS

    a, b = tmp_path / "a", tmp_path / "b"
    _import(tmp_path, EXPORT, a)
    shutil.copytree(a, b, symlinks=False)  # the same files, and a copy of the same store...
    (b / "store.sqlite").unlink()
    (b / SNAPSHOT_FILE).unlink(missing_ok=True)
    with Store(a / "store.sqlite") as old, Store(b / "store.sqlite") as new:  # ...made again, from the same forms
        current = old.current_forms()
        rows = [{c: r[c] for c in FORM_COLUMNS if isinstance(r[c], str)} for r in current.to_dict("records")]
        new.ingest([Submission(r["form_id"], r, "2005-12-04T20:00:00Z") for r in rows], "again")
        assert new.data_version() == old.data_version() and new.store_id() != old.store_id()
    first, second = load_mission(a), load_mission(b)
    assert len(first.forms) == len(second.forms) and first.store_version == second.store_version
    assert first.version != second.version
