"""The live store: versions, the current one, review, deletions, cursors and the data version.

Every behaviour is checked on both stores, the embedded SQLite one and PostgreSQL (a real server the tests start:
tests/pg.py), through the ``location`` fixture; what only one of them has is tested with that one.
"""

import sqlite3

import pandas as pd
import pytest

from geo.errors import MissionDataError
from geo.mission import load_mission
from geo.store import Store, Submission, connect_store, open_store

BACKENDS = ["sqlite", "postgresql"]


def row(form_id: str, overall: str = "good", **extra) -> dict:
    return {"form_id": form_id, "form_type": "voting", "region_code": "AA", "overall": overall, **extra}


@pytest.fixture(params=BACKENDS)
def location(request, tmp_path):
    """Where a new, empty store is: an SQLite file, or a database on the tests' PostgreSQL server."""
    return tmp_path / "store.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture()
def store(location):
    with connect_store(location) as s:
        yield s


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """A mission folder's store: SQLite beside the folder, or PostgreSQL named by $OBSMAP_STORE (what --store sets)."""
    if request.param == "postgresql":
        monkeypatch.setenv("OBSMAP_STORE", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("OBSMAP_STORE", raising=False)
    return request.param


def test_a_form_its_resubmission_and_its_edit(store):
    first = store.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z", "uuid:a")], "odk")
    assert (first.new, first.data_version) == (1, 1)
    again = store.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z", "uuid:a")], "odk")
    assert again.unchanged == 1 and not again.changed and store.data_version() == 1  # identical: a no-op
    edit = store.ingest([Submission("F1", row("F1", "bad"), "2005-12-04T10:00:00Z", "uuid:b")], "odk")
    assert edit.updated == 1 and store.data_version() == 2
    forms = store.current_forms()
    assert list(forms.form_id) == ["F1"] and list(forms.overall) == ["bad"]
    assert [v["row"]["overall"] for v in store.history("F1")] == ["good", "bad"]  # every version kept


def test_an_older_version_arriving_late_is_kept_but_not_shown(store):
    store.ingest([Submission("F1", row("F1", "bad"), "2005-12-04T10:00:00Z")], "odk")
    late = store.ingest([Submission("F1", row("F1", "good"), "2005-12-04T09:00:00Z")], "kobo")
    assert late.older == 1 and list(store.current_forms().overall) == ["bad"] and len(store.history("F1")) == 2


def test_review_deletion_and_return(store):
    store.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z"), Submission("F2", row("F2"), "2005-12-04T09:05:00Z")], "odk")
    reviewed = store.ingest([Submission("F1", None, "2005-12-04T11:00:00Z", review="rejected")], "odk")
    assert reviewed.reviewed == 1
    assert dict(zip(store.current_forms().form_id, store.current_forms().review, strict=True)) == {"F1": "rejected", "F2": "pending"}
    gone = store.ingest([Submission("F2", None, "2005-12-04T12:00:00Z", deleted=True)], "odk")
    assert gone.deleted == 1 and list(store.current_forms().form_id) == ["F1"]
    assert store.counts() == {"forms": 1, "versions": 2, "deleted": 1, "rejected": 1, "set_aside": 0}


def test_a_kobo_edit_finds_its_form_through_the_replaced_version(store):
    store.ingest([Submission("uuid-1", row("uuid-1"), "2005-12-04T09:00:00Z", version_id="uuid-1")], "kobo")
    # Kobo gives the edit a new _uuid; meta/deprecatedID names the version it replaces.
    for uuid, previous, overall, at in (("uuid-2", "uuid-1", "very bad", "09:30"), ("uuid-3", "uuid-2", "bad", "09:40")):
        store.ingest([Submission(uuid, row("uuid-1", overall), f"2005-12-04T{at}:00Z", version_id=uuid, previous_id=previous)], "kobo")
    forms = store.current_forms()
    assert list(forms.form_key) == ["uuid-1"] and list(forms.overall) == ["bad"] and len(store.history("uuid-1")) == 3


def test_the_cursor_moves_with_its_rows_or_not_at_all(store, monkeypatch):
    store.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z")], "odk", cursor="2005-12-04T09:00:00Z")

    class Boom(Exception):
        pass

    def rows():
        yield Submission("F2", row("F2"), "2005-12-04T09:10:00Z")
        raise Boom  # the process dies in the middle of a batch

    with pytest.raises(Boom):
        store.ingest(rows(), "odk", cursor="2005-12-04T09:10:00Z")
    assert store.cursor("odk") == "2005-12-04T09:00:00Z" and list(store.current_forms().form_id) == ["F1"] and store.data_version() == 1


def test_set_aside_rows_are_kept_once_with_their_reason(store):
    bad = {"row": 7, "reason": "overall not in the allowed set", "detail": "overall = meh", "original": '{"overall": "meh"}'}
    assert store.ingest([], "file:a.csv", set_aside=[bad]).set_aside == 1
    assert store.ingest([], "file:a.csv", set_aside=[bad]).set_aside == 0
    assert list(store.set_aside_rows().reason) == ["overall not in the allowed set"]


def test_the_store_survives_a_reopen_and_a_second_reader_sees_each_commit(location):
    with connect_store(location) as writer, connect_store(location) as reader:
        made = writer.store_id()
        writer.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z")], "odk")
        assert reader.data_version() == 1 and len(reader.current_forms()) == 1 and reader.store_id() == made
    with connect_store(location) as again:
        assert again.data_version() == 1 and again.store_id() == made
    if not isinstance(location, str):  # SQLite: in WAL mode, so readers never wait for the writer
        assert sqlite3.connect(location).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_forms_come_in_the_same_order_from_either_store(store):
    """Text sorts by code point in both (PostgreSQL's columns are in the "C" collation, whatever the database's locale)."""
    keys = ["b", "a", "Z", "É", "é", "10", "9", "ß"]
    store.ingest([Submission(k, row(k), "2005-12-04T09:00:00Z") for k in keys], "odk")
    assert list(store.current_forms().form_key) == sorted(keys)


def test_a_batch_applied_set_based_and_one_applied_row_by_row_share_the_version_ids(store):
    """An import's set-based path numbers the versions itself; a later row-by-row batch (a deletion, a review, a Kobo
    edit through its replaced version) goes on from there, in PostgreSQL as in SQLite, and ends where ingest would."""
    from tests.conftest import form_rows

    frame = form_rows([row(k, "bad" if k == "F2" else "good") for k in ("F1", "F2", "F3")])
    frame["form_key"], frame["submitted_at"], frame["version_id"] = frame["form_id"], "2005-12-04T09:00:00Z", ["v1", "v2", "v3"]
    first = store.ingest_frame(frame, "import:a.csv")
    assert (first.new, first.data_version) == (3, 1)
    again = store.ingest_frame(frame, "import:a.csv")
    assert again.unchanged == 3 and store.data_version() == 1
    later = store.ingest(
        [
            Submission("F1", None, "2005-12-04T10:00:00Z", deleted=True),
            Submission("F2", None, "2005-12-04T10:00:00Z", review="approved"),
            Submission("x", row("F3", "very bad"), "2005-12-04T10:00:00Z", version_id="v3b", previous_id="v3"),
            Submission("F4", row("F4"), "2005-12-04T10:00:00Z"),
        ],
        "kobo",
    )
    assert (later.deleted, later.reviewed, later.updated, later.new) == (1, 1, 1, 1)
    forms = store.current_forms().set_index("form_key")
    assert forms.to_dict()["overall"] == {"F2": "bad", "F3": "very bad", "F4": "good"} and forms.loc["F2", "review"] == "approved"
    assert store.counts() == {"forms": 3, "versions": 5, "deleted": 1, "rejected": 0, "set_aside": 0}
    older = store.ingest_frame(frame.assign(overall="very good"), "import:b.csv")  # set-based again, after row-by-row ids
    assert older.older == 1 and older.updated == 2  # F3's edit is newer; F1 (deleted) comes back; F2's review kept its time
    assert store.counts()["versions"] == 8 and [v["row"]["overall"] for v in store.history("F3")] == ["good", "very good", "very bad"]


def test_a_file_that_is_not_a_store_is_named(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(MissionDataError, match="store.sqlite: expected obsmap's SQLite store"):
        Store(path)


# ---------------------------------------------------------------------------- the store in a mission
def _import(tmp_path, csv_text: str, out):
    import geopandas as gpd

    from geo.importer import import_mission
    from tests.conftest import two_regions

    bounds = tmp_path / "adm1.geojson"
    if not bounds.exists():
        gpd.GeoDataFrame(two_regions()).to_file(bounds)
    forms = tmp_path / "forms.csv"
    forms.write_text(csv_text, encoding="utf-8")
    return import_mission(bounds, [forms], out)


EXPORT = "form_id,form_type,region_code,overall\nF1,voting,AA,good\nF2,voting,BB,bad\nF3,counting,AA,oops\n"


def test_importing_the_same_export_twice_changes_nothing_and_an_edit_is_a_new_version(tmp_path, backend):
    out = tmp_path / "mission"
    first = _import(tmp_path, EXPORT, out)
    assert first.report["store"]["new"] == 2 and len(first.mission.forms) == 2 and first.mission.store_version == 1
    again = _import(tmp_path, EXPORT, out)
    assert again.report["store"]["new"] == 0 and again.report["store"]["unchanged"] == 2
    assert again.mission.store_version == first.mission.store_version == 1  # nothing changed: no new data version
    edited = _import(tmp_path, EXPORT.replace("F1,voting,AA,good", "F1,voting,AA,very bad"), out)
    assert edited.report["store"]["updated"] == 1 and edited.mission.version != first.mission.version
    forms = edited.mission.forms.set_index("form_id")
    assert forms.loc["F1", "overall"] == "very bad" and len(forms) == 2
    with open_store(out) as store:
        assert [v["row"]["overall"] for v in store.history("F1")] == ["good", "very bad"]
        assert list(store.set_aside_rows().reason) == ["overall not very good/good/bad/very bad (or 1-4)"]  # kept once


def test_a_sync_and_an_import_mix_in_one_store_that_outlives_re_imports(tmp_path, backend):
    from geo.ingest import Delivery, Ingestor

    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    kobo = pd.DataFrame(
        {"_uuid": ["k1"], "grp/form_type": ["voting"], "grp/overall": ["плохо"], "_q_latitude": ["0.5"], "_q_longitude": ["1.5"]}
    )
    with Ingestor(out) as ingestor:
        result = ingestor.ingest(kobo, [Delivery("k1", "2005-12-04T10:00:00Z", "k1")], "kobo:test", cursor="2005-12-04T10:00:00Z")
    assert result.new == 1
    _import(tmp_path, EXPORT, out)  # a re-import writes a new version of the folder: the store goes with it
    mission = load_mission(out)
    forms = mission.forms.set_index("form_id")
    assert sorted(forms.index) == ["F1", "F2", "k1"] and forms.loc["k1", "region_code"] == "BB" and forms.loc["k1", "overall"] == "bad"
    with open_store(out) as store:
        assert store.cursor("kobo:test") == "2005-12-04T10:00:00Z"


def test_rejected_forms_and_station_conflicts_reach_the_snapshot(tmp_path, backend):
    from geo.ingest import Delivery, Ingestor

    out = tmp_path / "mission"
    _import(
        tmp_path,
        "form_id,form_type,region_code,ps_id,overall\nF1,counting,AA,P1,good\nF2,counting,AA,P1,very bad\nF3,counting,AA,P2,bad\n",
        out,
    )
    with Ingestor(out) as ingestor:
        ingestor.ingest(
            pd.DataFrame({"form_id": ["F3"]}), [Delivery("F3", "2099-01-01T00:00:00Z", review="rejected", has_row=False)], "review"
        )
    forms = load_mission(out).forms.set_index("form_id")
    assert forms.loc["F3", "review"] == "rejected" and forms.loc["F1", "review"] == "pending"
    assert forms["conflict"].to_dict() == {"F1": True, "F2": True, "F3": False}  # P1: good against very bad


def test_an_odk_export_imported_twice_keys_forms_by_their_root_and_orders_versions_by_the_tools_time(tmp_path, backend):
    """ODK's KEY is the form; meta-instanceID changes at each edit. An edited export brings a new version of the same
    form, and an older export imported later does not override it."""
    head = "SubmissionDate,meta-instanceID,form_type,region_code,overall,KEY\n"
    first = head + "2005-12-04T10:00:00.000Z,uuid:v1,voting,AA,good,uuid:root1\n"
    edited = head + "2005-12-04T12:00:00.000Z,uuid:v2,voting,AA,very bad,uuid:root1\n"
    out = tmp_path / "mission"
    assert _import(tmp_path, first, out).report["store"]["new"] == 1
    assert _import(tmp_path, edited, out).report["store"]["updated"] == 1
    late = _import(tmp_path, first, out)  # yesterday's export, imported again tonight
    assert late.report["store"]["updated"] == 0
    forms = load_mission(out).forms
    assert list(forms.form_id) == ["uuid:root1"] and list(forms.overall) == ["very bad"]


def test_a_re_import_keeps_the_folders_sync_config_and_watch_folder(tmp_path):
    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    (out / "sync.toml").write_text('[[watch]]\nfolder = "incoming"\n', encoding="utf-8")
    (out / "incoming").mkdir()
    (out / "incoming" / "waiting.csv").write_text(EXPORT, encoding="utf-8")
    _import(tmp_path, EXPORT, out)
    assert (out / "sync.toml").read_text(encoding="utf-8").startswith("[[watch]]")
    assert (out / "incoming" / "waiting.csv").read_text(encoding="utf-8") == EXPORT


def test_a_page_the_import_cannot_read_is_kept_aside_and_the_source_moves_on(tmp_path, backend):
    """Kobo leaves unanswered questions out: a page where no record names the phase cannot be read as forms. Its rows are
    kept aside with the sentence that says why, and the cursor moves past them (no source stuck on election night)."""
    from geo.ingest import Delivery, Ingestor

    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    page = pd.DataFrame({"_uuid": ["k1", "k2"], "grp/overall": ["good", "bad"]})
    with Ingestor(out) as ingestor:
        result = ingestor.ingest(page, [Delivery(k, "2005-12-04T10:00:00Z", k) for k in ("k1", "k2")], "kobo:x", cursor="c1")
        assert result.set_aside == 2 and result.new == 0 and ingestor.store.cursor("kobo:x") == "c1"
        aside = ingestor.store.set_aside_rows()
    kobo = aside[aside.source == "kobo:x"]
    assert list(kobo.row) == ["k1", "k2"] and kobo.reason.str.contains("form_type").all()


def test_names_and_phones_from_a_tool_never_reach_the_store(tmp_path):
    from geo.ingest import Delivery, Ingestor

    out = tmp_path / "mission"
    _import(tmp_path, EXPORT, out)
    page = pd.DataFrame(
        {
            "_uuid": ["k9"],
            "form_type": ["voting"],
            "overall": ["good"],
            "region_code": ["AA"],
            "leader_name": ["Ivan Petrov"],
            "leader_phone": ["+7 701 555"],
        }
    )
    with Ingestor(out) as ingestor:
        assert ingestor.ingest(page, [Delivery("k9", "2005-12-04T10:00:00Z", "k9")], "kobo:x").new == 1
    store_dir = tmp_path / ".mission-store"
    assert all(b"Petrov" not in f.read_bytes() and b"701 555" not in f.read_bytes() for f in store_dir.iterdir() if f.is_file())
