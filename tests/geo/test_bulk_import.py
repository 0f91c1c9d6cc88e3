"""The import's fast paths give what the careful ones give: each is compared with an independent computation.

- the store's set-based ingest (``Store.ingest`` of rows, ``Store.ingest_frame``) against one submission at a time
  (``Store._apply``, the reference), on batches with repeats, older versions, reviews, restores and re-imports;
- the rows' JSON and hashes against ``json.dumps`` and ``content_hash`` row by row;
- pyarrow's CSV reading against Python's csv module (the careful path), and the column-wise CSV writer against
  ``DataFrame.to_csv``;
- locating points region by region against a GeoPandas spatial join;
- an import's set-aside rows keep their original values, and the snapshot it writes from memory is the one the
  store gives back.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import geo.forms_import as forms_import
from geo.csvsafe import safe_frame, write_csv_fast
from geo.importer import SET_ASIDE_FILE, import_mission
from geo.join import join_points_to_regions
from geo.mission import SNAPSHOT_FILE, _typed_live, load_mission
from geo.schema import FORM_COLUMNS
from geo.store import IngestResult, Store, Submission, content_hash, rows_json

# ------------------------------------------------------------------------------------------- the store


DUMP = {
    "versions": "SELECT id, form_key, version_id, source, content_hash, submitted_at, data_version, row_json "
    "FROM form_versions ORDER BY id",
    "current": "SELECT * FROM forms_current ORDER BY form_key",
    "aside": "SELECT source, row_ref, reason, detail, original_json, data_version FROM set_aside ORDER BY id",
    "cursors": "SELECT source, value FROM cursors ORDER BY source",
    "meta": "SELECT key, value FROM store_meta WHERE key != 'store_id' ORDER BY key",
}


def dump(store: Store) -> dict[str, list[tuple]]:
    """Everything the store holds but the clock's time stamps."""
    db = sqlite3.connect(store.path)
    try:
        return {part: db.execute(query).fetchall() for part, query in DUMP.items()}
    finally:
        db.close()


def outcome(result: IngestResult) -> tuple:
    return (
        result.new,
        result.updated,
        result.unchanged,
        result.older,
        result.reviewed,
        result.deleted,
        result.set_aside,
        result.data_version,
    )


def full_row(form_id: str, rng: random.Random) -> dict:
    row = dict.fromkeys(FORM_COLUMNS)
    row.update(form_id=form_id, form_type=rng.choice(["voting", "counting"]), region_code="AA")
    row["overall"] = rng.choice(["good", "bad", None])
    row["comments"] = rng.choice([None, 'said "no"', "line\nbreak", "тест", "back\\slash", "tab\there"])
    return row


def batches(seed: int) -> list[list[Submission]]:
    """Batches a sync or re-imports could bring: new forms, repeats within a batch, edits, older versions arriving late,
    identical resubmissions, review changes and a restore of a deleted form."""
    rng = random.Random(seed)
    keys = [f"F{i}" for i in range(40)]
    out = []
    for b in range(6):
        batch = []
        for _ in range(60):
            key = rng.choice(keys)
            hour = rng.randint(8, 20)
            row = full_row(key, rng)
            review = rng.choice([None, None, "approved", "rejected", "flagged", "bogus"])
            batch.append(
                Submission(key, row, f"2005-12-04T{hour:02d}:00:00{rng.choice(['Z', '+06:00', ''])}", f"v{b}-{key}", review=review)
            )
        out.append(batch)
    out.append(list(out[2]))  # a batch again, exactly: all unchanged
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_set_based_ingest_leaves_the_store_as_one_submission_at_a_time_does(tmp_path, seed, monkeypatch):
    bulk, single, framed = Store(tmp_path / "bulk.sqlite"), Store(tmp_path / "single.sqlite"), Store(tmp_path / "framed.sqlite")
    monkeypatch.setattr(single, "_bulk_ok", lambda: False)  # the reference: Store._apply, row by row
    aside = [{"row": "r1", "reason": "unknown form_type", "detail": None, "original": '{"a": "b"}'}]
    for i, batch in enumerate(batches(seed)):
        if i == 4:  # a deletion between batches (on each store alike), restored by a later delivery
            for s in (bulk, single, framed):
                s.ingest([Submission(batch[0].form_key, None, "2005-12-04T07:00:00Z", deleted=True)], "odk")
        got = bulk.ingest(batch, "odk", cursor=f"c{i}", set_aside=aside)
        want = single.ingest(batch, "odk", cursor=f"c{i}", set_aside=aside)
        frame = pd.DataFrame([s.row for s in batch]).astype("string")
        frame["form_key"] = [s.form_key for s in batch]
        frame["submitted_at"] = [s.submitted_at for s in batch]
        frame["version_id"] = [s.version_id for s in batch]
        frame["review"] = [s.review for s in batch]
        framed_got = framed.ingest_frame(frame, "odk", cursor=f"c{i}", set_aside=aside)
        assert outcome(got) == outcome(want) == outcome(framed_got)
        assert dump(bulk) == dump(single) == dump(framed)
    assert bulk.counts() == single.counts() and bulk.counts()["versions"] > 40


def test_a_kobo_edit_chain_or_a_deletion_takes_the_careful_path(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    rng = random.Random(0)
    store.ingest([Submission("F1", full_row("F1", rng), "2005-12-04T09:00:00Z", "uuid:a")], "kobo")
    edit = Submission("other", full_row("F1", rng), "2005-12-04T10:00:00Z", "uuid:b", previous_id="uuid:a")
    result = store.ingest([edit, Submission("F2", full_row("F2", rng), "2005-12-04T10:00:00Z")], "kobo")
    assert (result.new, result.updated) == (1, 1) and store.keys_for_versions(["uuid:b"]) == {"uuid:b": "F1"}


def test_rows_json_is_json_dumps_of_each_row_and_its_hash_is_content_hash():
    rng = random.Random(5)
    alphabet = ['"', "\\", "\n", "\r", "\t", "\x01", "\x1f", "é", "Ж", "😀", "a", " ", "/", "\u2028"]
    rows = [{"b": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))), "a": rng.choice([None, "x"])} for _ in range(300)]
    frame = pd.DataFrame(rows).astype("string")
    frame["lat"] = [rng.choice([np.nan, 43.72806, 1e16, 1e-05, -0.0, 0.1 + 0.2]) for _ in range(len(frame))]
    expected_rows = [
        {"b": r["b"], "a": r["a"], "lat": None if np.isnan(v) else str(v)} for r, v in zip(rows, frame["lat"].tolist(), strict=True)
    ]
    texts = rows_json(frame)
    assert texts == [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in expected_rows]
    import hashlib

    assert [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts] == [content_hash(r) for r in expected_rows]


# ------------------------------------------------------------------------------------------- reading and writing


def careful(path: Path) -> pd.DataFrame | Exception:
    """read_table the careful way (Python's csv module), for comparison."""
    fast = forms_import._fast_csv
    forms_import._fast_csv = lambda path, data: None
    try:
        return forms_import.read_table(path)
    except Exception as exc:  # the same sentence either way
        return exc
    finally:
        forms_import._fast_csv = fast


FILES = {
    "quotes.csv": 'form_id,form_type,comments\n1,voting,"a, b"\n2,counting,x"y\n3,voting,"q""r"\n4,voting,"a"b\n5,voting, "c"\n',
    "semicolon_crlf.csv": 'form_id;form_type;comments\r\n1;voting;"a; b"\r\n2;counting;  \r\n',
    "bom.csv": "\ufeffform_id,form_type\n1,voting\n2,counting",
    "unnamed.csv": "form_id,form_type,,x,\n1,voting,,,\n2,counting,,z,\n",
    "repeated.csv": "form_id,form_type,note,note\n1,voting,a,b\n",
    "twice.csv": "form_id,form_type,overall,overall\n1,voting,good,bad\n",
    "blank_line.csv": "form_id,form_type\n1,voting\n\n2,counting\n",
    "blank_values.csv": "form_id,form_type\n1,voting\n , \n2,counting\n",
    "multiline.csv": 'form_id,form_type,comments\n1,voting,"two\nlines"\n2,counting,x\n',
    "ragged.csv": "form_id,form_type\n1,voting,,\n2\n",
    "spaces.csv": "form_id,form_type,comments\n1,voting,\u00a0\u3000\n2,counting,кириллица\n",
    "control.csv": "form_id,form_type,comments\n1,voting,a\x01b\n",
    "header_only.csv": "form_id,form_type\n",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_reading_a_csv_with_pyarrow_gives_what_the_csv_module_gives(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(FILES[name].encode("utf-8"))
    want = careful(path)
    try:
        got = forms_import.read_table(path)
    except Exception as exc:
        got = exc
    if isinstance(want, Exception):
        assert type(got) is type(want) and str(got) == str(want)
        return
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs


def test_the_fast_reader_reads_the_plain_files_itself(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text('form_id,form_type,comments\n1,voting,"a, b"\n2,counting,\n', encoding="utf-8")
    assert forms_import._fast_csv(path, path.read_bytes()) is not None
    for name in ("multiline.csv", "blank_line.csv", "control.csv", "ragged.csv"):
        (tmp_path / name).write_bytes(FILES[name].encode("utf-8"))
        assert forms_import._fast_csv(tmp_path / name, (tmp_path / name).read_bytes()) is None  # left to the careful path


def test_writing_a_csv_a_column_at_a_time_is_to_csv_byte_for_byte(tmp_path):
    rng = random.Random(9)
    n = 500
    frame = pd.DataFrame(
        {
            "form_id": [f"F{i}" for i in range(n)],
            "comments": [rng.choice([None, "", "a, b", 'say "x"', "two\nlines", "cr\ronly", "=1+1", "-3", "ünï"]) for _ in range(n)],
            "latitude": pd.array([rng.choice([None, 43.72806, 1e16, -0.0, 0.30000000000000004]) for _ in range(n)], dtype="Float64"),
            "row": np.arange(n),
            "odd name, quoted": ["x"] * n,
        }
    ).astype({"form_id": "string", "comments": "string", "odd name, quoted": "string"})
    safe = safe_frame(frame)
    assert write_csv_fast(safe, tmp_path / "fast.csv")
    safe.to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_local_times_of_distinct_values_are_those_of_every_value():
    values = pd.Series(
        ["2005-12-04T09:00", "2005-12-04 10:30:15.5+06:00", None, "2005-12-04", "junk", "2005-12-04T09:00", " 2005-12-05T01:02Z ", None],
        dtype="string",
    )
    when, has_time = forms_import.local_times(values)
    # The rule applied to the whole column at once, as it was before values were taken once each.
    local = values.str.strip().str.replace(forms_import._LOCAL_TIME, r"\g<date>T\g<time>", regex=True)
    expected = pd.to_datetime(local, errors="coerce", format="ISO8601")
    pd.testing.assert_series_equal(when, expected, check_names=False)
    assert has_time.tolist() == local.str.contains("T", regex=False).fillna(False).astype(bool).tolist()


# ------------------------------------------------------------------------------------------- locating


def test_locating_region_by_region_is_the_spatial_join_keeping_the_first_region():
    # Overlapping regions (the first listed wins), shared borders, a hole, points outside, blanks and text.
    regions = gpd.GeoDataFrame(
        {"code": ["A", "B", "C", "D"]},
        geometry=[box(0, 0, 2, 2), box(1, 1, 3, 3), box(2, 0, 4, 1), box(10, 10, 11, 11).difference(box(10.4, 10.4, 10.6, 10.6))],
        crs=4326,
    )
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(-1, 12, 3000), [2.0, 1.0, 3.0, 10.5, 2.0, np.nan, 4.0]])
    lat = np.concatenate([rng.uniform(-1, 12, 3000), [1.0, 1.0, 3.0, 10.5, 0.0, 1.0, np.nan]])
    points = pd.DataFrame({"latitude": lat, "longitude": lon}).astype("string")
    points.loc[5, "latitude"] = "not a number"
    got = join_points_to_regions(points, regions)
    pts = gpd.GeoDataFrame(
        {"_row": range(len(points))},
        geometry=gpd.points_from_xy(pd.to_numeric(points.longitude, errors="coerce"), pd.to_numeric(points.latitude, errors="coerce")),
        crs=4326,
    )
    joined = gpd.sjoin(pts, regions.assign(_order=range(len(regions))), how="left", predicate="intersects")
    first = joined.sort_values(["_row", "_order"]).drop_duplicates("_row").set_index("_row")["code"]
    assert got.fillna("-").tolist() == first.reindex(range(len(points))).fillna("-").tolist()
    assert got.dtype == "string" and got.notna().sum() > 100


# ------------------------------------------------------------------------------------------- an import


def test_an_import_keeps_originals_of_rows_set_aside_and_writes_the_snapshot_the_store_gives(tmp_path):
    bounds = tmp_path / "regions.geojson"
    gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326).to_file(
        bounds, driver="GeoJSON"
    )
    rng = random.Random(11)
    lines = ["form_id,form_type,observed_at,latitude,longitude,overall,comments,phone"]
    for i in range(300):
        kind = rng.choice(["voting", "counting"] * 5 + ["bogus"])
        lon = rng.choice(["0.5", "1.5"] * 5 + ["5.5", "x"])
        comment = rng.choice(["", '"a, ""quoted"" b"', "fine"])
        overall = rng.choice(["good", "bad"] * 5 + ["meh"])
        lines.append(f"F{i % 280},{kind},2005-12-04T{rng.randint(7, 20):02d}:00,0.5,{lon},{overall},{comment},+7 700")
    forms = tmp_path / "forms.csv"
    forms.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "mission"
    result = import_mission(bounds, [forms], out)
    aside = pd.read_csv(out / SET_ASIDE_FILE, dtype="string", keep_default_na=False)
    assert len(aside) == result.report["set_aside"] > 20
    with forms.open(encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    for _, r in aside.iterrows():
        raw = records[int(r["row"]) - 2]
        expected = {k: v for k, v in raw.items() if k != "phone" and v.strip()}  # the personal column never kept
        assert json.loads(r["original_values"]) == expected
    assert re.search(r"duplicate form_id", " ".join(aside["reason"]))

    # The snapshot written from the rows in memory is what the store gives back.
    store_file = out / "store.sqlite"
    written = pd.read_parquet(store_file.resolve().parent / SNAPSHOT_FILE)
    with Store(store_file) as store:
        from_store = _typed_live(store.current_forms())
    pd.testing.assert_frame_equal(written.reset_index(drop=True), from_store.reset_index(drop=True), check_categorical=True)
    first = load_mission(out).forms
    (store_file.resolve().parent / SNAPSHOT_FILE).unlink()
    pd.testing.assert_frame_equal(load_mission(out).forms, first)

    again = import_mission(bounds, [forms], out)  # a re-import of the same file: nothing changes
    assert again.report["store"]["unchanged"] == result.report["accepted"] and again.report["store"]["new"] == 0


def test_an_error_while_the_rows_are_made_rolls_the_batch_back(tmp_path, monkeypatch):
    import threading

    import geo.store

    store = Store(tmp_path / "s.sqlite")
    frame = pd.DataFrame({c: pd.array([f"F{i}" if c == "form_id" else None for i in range(120_000)], dtype="string") for c in FORM_COLUMNS})
    frame["form_key"], frame["submitted_at"] = frame["form_id"], "2005-12-04T09:00:00Z"
    made = []

    def failing(part):
        made.append(len(part))
        if len(made) == 2:
            raise ValueError("broken")
        return rows_json(part)

    monkeypatch.setattr(geo.store, "rows_json", failing)
    with pytest.raises(ValueError, match="broken"):
        store.ingest_frame(frame, "import:f.csv")
    assert store.counts()["versions"] == 0 and store.data_version() == 0  # nothing of the batch kept
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # a new store's batch written directly, then WAL again
    monkeypatch.undo()
    assert store.ingest_frame(frame, "import:f.csv").new == len(frame) and store.counts()["forms"] == len(frame)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not [t for t in threading.enumerate() if t.name == "obsmap-bulk-json"]  # the helper thread is gone


@pytest.mark.parametrize("review", [None, "approved"])
def test_a_first_import_into_a_new_store_is_what_one_submission_at_a_time_gives(tmp_path, monkeypatch, review):
    rng = random.Random(4)
    batch = [Submission(f"F{i}", full_row(f"F{i}", rng), "2005-12-04T09:00:00+06:00", review=review if i % 3 else None) for i in range(500)]
    bulk, single = Store(tmp_path / "bulk.sqlite"), Store(tmp_path / "single.sqlite")
    monkeypatch.setattr(single, "_bulk_ok", lambda: False)
    assert outcome(bulk.ingest(batch, "import:f.csv")) == outcome(single.ingest(batch, "import:f.csv"))
    assert dump(bulk) == dump(single)
    again = bulk.ingest(batch, "import:f.csv")  # the same file again: nothing changes
    assert again.unchanged == 500 and not again.changed and dump(bulk) == dump(single)


def pg_dump(url: str) -> dict[str, list[tuple]]:
    """:func:`dump` of a PostgreSQL store: the same queries, on its database (form keys in byte order, as SQLite's)."""
    import psycopg

    with psycopg.connect(url) as db:
        return {
            part: db.execute(query.replace("ORDER BY form_key", 'ORDER BY form_key COLLATE "C"')).fetchall() for part, query in DUMP.items()
        }


def test_postgresql_writes_by_copy_what_one_submission_at_a_time_gives(tmp_path, pg_url, monkeypatch):
    """PostgreSQL's set-based ingest sends its rows by COPY (text with tabs, line breaks, backslashes, Cyrillic), and a
    first import larger than a chunk takes that path too (it once failed there, on SQLite's journal PRAGMA)."""
    import geo.store as store_module
    from geo.store import connect_store

    monkeypatch.setattr(store_module, "BULK_CHUNK", 100)
    rng = random.Random(7)
    first = [Submission(f"F{i}", full_row(f"F{i}", rng), "2005-12-04T09:00:00+06:00", f"v-{i}") for i in range(250)]
    single = Store(tmp_path / "single.sqlite")
    monkeypatch.setattr(single, "_bulk_ok", lambda: False)  # the reference: Store._apply, row by row
    aside = [{"row": "r1", "reason": "unknown form_type", "detail": "tab\there", "original": '{"a": "back\\\\slash"}'}]
    with connect_store(pg_url) as pg:
        for i, batch in enumerate([first, *batches(5)]):
            frame = pd.DataFrame([s.row for s in batch]).astype("string")
            frame["form_key"] = [s.form_key for s in batch]
            frame["submitted_at"] = [s.submitted_at for s in batch]
            frame["version_id"] = [s.version_id for s in batch]
            frame["review"] = [s.review for s in batch]
            got = pg.ingest_frame(frame, "odk", cursor=f"c{i}", set_aside=aside) if i % 2 == 0 else pg.ingest(batch, "odk", cursor=f"c{i}")
            want = single.ingest(batch, "odk", cursor=f"c{i}", set_aside=aside if i % 2 == 0 else ())
            assert outcome(got) == outcome(want), i
            reference = dump(single)
            assert pg_dump(pg_url) == reference, i
    assert reference["versions"][0][-1] == json.dumps(first[0].row, ensure_ascii=False, sort_keys=True)
