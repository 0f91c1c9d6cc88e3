"""Times have a window: forms observed outside the mission's election window are set aside with the value shown;
naive and offset times follow one rule; a date without a time is set aside, never taken as midnight."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import MissionDataError
from geo.forms_import import REASONS, WINDOW_HOURS, ElectionWindow, canonicalise, local_times, read_forms
from geo.importer import REPORT_FILE, SET_ASIDE_FILE, import_mission
from geo.mission import MISSION_FILE, load_mission
from tests.geo.test_import import squares, write_csv

HEAD = "form_id,form_type,region_code,overall,observed_at\n"


@pytest.fixture
def geojson(tmp_path) -> Path:
    path = tmp_path / "regions.geojson"
    squares().to_file(path, driver="GeoJSON")
    return path


def _bulk(n: int = 6) -> str:
    return "".join(f"ok{i},voting,AA,good,2005-12-04T{8 + i:02d}:15\n" for i in range(n))


@pytest.mark.parametrize("year", ["0005", "2050", "2262", "9999", "0001"])
def test_a_typed_year_is_set_aside_with_its_value(tmp_path, geojson, year):
    forms = write_csv(tmp_path / "forms.csv", HEAD + _bulk() + f"typo,voting,AA,bad,{year}-12-04T09:00\n")
    result = import_mission(geojson, [forms], tmp_path / "out")
    r = result.report
    assert r["read"] == 7 == r["accepted"] + r["set_aside"] and r["accepted"] == 6
    assert r["reasons"] == {REASONS["window"]: 1}
    aside = pd.read_csv(tmp_path / "out" / SET_ASIDE_FILE, dtype=str).iloc[0]
    assert aside["form_id"] == "typo" and aside["reason"] == "observed_at outside the election window"
    assert aside["detail"] == f"observed_at = {year}-12-04T09:00; window 2005-12-03 00:00 – 2005-12-06 00:00"
    assert r["time_window"] == {
        "election_date": "2005-12-04",
        "from": "2005-12-03T00:00",
        "to": "2005-12-06T00:00",
        "window_hours": list(WINDOW_HOURS),
        "inferred": True,
    }
    assert any("No election date given" in w and "2005-12-04" in w for w in r["warnings"])
    hours = result.mission.forms["hour"]
    assert hours.min() >= WINDOW_HOURS[0] and hours.max() < WINDOW_HOURS[1]


def test_the_window_edges_and_the_window_written_into_mission_json(tmp_path, geojson):
    rows = _bulk() + "early,voting,AA,good,2005-12-03T00:00\nlate,voting,AA,good,2005-12-05T23:59\nafter,voting,AA,good,2005-12-06T00:00\n"
    out = tmp_path / "out"
    r = import_mission(geojson, [write_csv(tmp_path / "forms.csv", HEAD + rows)], out).report
    aside = pd.read_csv(out / SET_ASIDE_FILE, dtype=str)
    assert list(aside["form_id"]) == ["after"] and r["accepted"] == 8  # [from, to): the end is out
    meta = json.loads((out / MISSION_FILE).read_text())
    assert meta["election_date"] == "2005-12-04" and meta["window_hours"] == [-24, 48] and meta["time_window"] == r["time_window"]


def test_a_declared_window_beats_the_forms_and_a_re_import_keeps_it(tmp_path, geojson):
    # The commonest date is a wrong year; the mission says when the election was.
    rows = "".join(f"w{i},voting,AA,good,2050-12-04T10:0{i}\n" for i in range(3)) + "r1,voting,AA,good,2005-12-04T23:30\n"
    rows += "r2,voting,AA,good,2005-12-05T05:59\nr3,voting,AA,good,2005-12-03T18:00\nr4,voting,AA,good,2005-12-04T07:00\n"
    forms = write_csv(tmp_path / "forms.csv", HEAD + rows)
    out = tmp_path / "out"
    r = import_mission(geojson, [forms], out, meta={"election_date": "2005-12-04", "window_hours": [-6, 30]}).report
    assert r["time_window"] == {
        "election_date": "2005-12-04",
        "from": "2005-12-03T18:00",
        "to": "2005-12-05T06:00",
        "window_hours": [-6, 30],
        "inferred": False,
    }
    assert r["accepted"] == 4 and r["reasons"] == {REASONS["window"]: 3}
    assert not any("No election date given" in w for w in r["warnings"])
    # A re-import into the same folder reads the declared window from its mission.json.
    r = import_mission(geojson, [forms], out).report
    assert r["time_window"]["inferred"] is False and r["time_window"]["window_hours"] == [-6, 30] and r["accepted"] == 4


def test_an_inferred_window_is_inferred_again_on_re_import(tmp_path, geojson):
    out = tmp_path / "out"
    import_mission(geojson, [write_csv(tmp_path / "a.csv", HEAD + _bulk())], out)
    other = HEAD + "".join(f"n{i},voting,AA,good,2006-03-0{1 + i % 2}T10:00\n" for i in range(5))
    r = import_mission(geojson, [write_csv(tmp_path / "b.csv", other)], out).report
    assert r["time_window"]["election_date"] == "2006-03-01" and r["time_window"]["inferred"] is True


def test_a_bad_declared_window_is_one_sentence(tmp_path, geojson):
    from geo.errors import InputError

    forms = write_csv(tmp_path / "forms.csv", HEAD + _bulk())
    with pytest.raises(InputError, match=r"window_hours \[48, -24\] should be two whole numbers"):
        import_mission(geojson, [forms], tmp_path / "out", meta={"election_date": "2005-12-04", "window_hours": [48, -24]})
    assert not (tmp_path / "out").exists()


def test_a_date_without_a_time_is_set_aside_not_midnight(tmp_path, geojson):
    rows = _bulk() + "d1,voting,AA,good,2005-12-04\nd2,voting,AA,good,2005-12\nblank,voting,AA,good,\n"
    out = tmp_path / "out"
    r = import_mission(geojson, [write_csv(tmp_path / "forms.csv", HEAD + rows)], out).report
    assert r["reasons"] == {"observed_at has a date but no time": 2}
    aside = pd.read_csv(out / SET_ASIDE_FILE, dtype=str).set_index("form_id")
    assert aside.loc["d1", "detail"] == "observed_at = 2005-12-04"
    assert r["accepted"] == 7  # a form without any time is kept, its time unknown, as before


def test_naive_and_offset_times_mix_in_one_file(tmp_path, geojson):
    """One rule: the wall-clock time as written; a tool's offset (Z, +06, +06:00, +0600) and fractions are dropped."""
    values = [
        "2005-12-04T09:00",
        "2005-12-04T09:00+06:00",
        "2005-12-04T09:00+06",
        "2005-12-04 09:00:00.123+0600",
        "2005-12-04T09:00:00Z",
        "2005-12-04T09:00:00-05:30",
        "2005-12-04T09:00 +06:00",
    ]
    rows = "".join(f"t{i},voting,AA,good,{v}\n" for i, v in enumerate(values))
    out = tmp_path / "out"
    r = import_mission(geojson, [write_csv(tmp_path / "mixed.csv", HEAD + rows)], out).report
    assert r["accepted"] == len(values) and r["set_aside"] == 0
    forms = load_mission(out).forms
    assert set(forms["observed_at"].dt.strftime("%Y-%m-%dT%H:%M")) == {"2005-12-04T09:00"}


def test_local_times_never_fail_on_an_unknown_offset_among_naive_times():
    when, has_time = local_times(pd.Series(["2005-12-04T09:00", "2005-12-04T09:00+6", "2005-12-04T10:00+06:00:00", None], dtype="string"))
    assert when.iloc[0] == pd.Timestamp("2005-12-04T09:00") and when.iloc[1] == pd.Timestamp("2005-12-04T09:00")
    assert pd.isna(when.iloc[3]) and list(has_time) == [True, True, True, False]


def test_the_ingestor_applies_the_missions_window(tmp_path, geojson):
    from geo.ingest import Delivery, Ingestor
    from geo.store import Store

    out = tmp_path / "out"
    import_mission(geojson, [write_csv(tmp_path / "forms.csv", HEAD + _bulk())], out)
    page = pd.DataFrame(
        {
            "form_id": ["s1", "s2", "s3"],
            "form_type": ["voting"] * 3,
            "region_code": ["AA"] * 3,
            "overall": ["bad"] * 3,
            "observed_at": ["2005-12-04T15:00:00+06:00", "0005-12-04T15:00:00+06:00", "2005-12-04"],
        }
    )
    deliveries = [Delivery(k, "2005-12-04T09:00:00Z", k) for k in page["form_id"]]
    with Ingestor(out) as ingestor:
        assert ingestor.window is not None and ingestor.window.describe() == "2005-12-03 00:00 – 2005-12-06 00:00"
        result = ingestor.ingest(page, deliveries, "odk:test")
    assert result.new == 1 and result.set_aside == 2
    with Store(out / "store.sqlite") as store:
        aside = store.set_aside_rows().set_index("row")
    assert aside.loc["s2", "reason"] == REASONS["window"]
    assert aside.loc["s2", "detail"] == "observed_at = 0005-12-04T15:00; window 2005-12-03 00:00 – 2005-12-06 00:00"
    assert aside.loc["s3", "reason"] == "observed_at has a date but no time"
    forms = load_mission(out).forms
    assert "s1" in set(forms["form_id"]) and not {"s2", "s3"} & set(forms["form_id"])


def test_the_ingestor_refuses_an_unusable_window_in_one_sentence(tmp_path, geojson):
    from geo.ingest import Ingestor

    out = tmp_path / "out"
    import_mission(geojson, [write_csv(tmp_path / "forms.csv", HEAD + _bulk())], out)
    meta = json.loads((out / MISSION_FILE).read_text())
    (out / MISSION_FILE).write_text(json.dumps({**meta, "window_hours": "all week"}))
    with pytest.raises(MissionDataError, match="window_hours 'all week' should be two whole numbers"):
        Ingestor(out)


def test_canonicalise_with_a_window_and_read_forms_without():
    table = pd.DataFrame({"form_id": ["a", "b"], "form_type": ["voting"] * 2, "observed_at": ["2005-12-04T09:00", "2050-12-04T09:00"]})
    window = ElectionWindow(pd.Timestamp("2005-12-04"))
    rows = canonicalise(table.astype("string"), "test", window=window).rows
    assert list(rows["_reason"].fillna("")) == ["", REASONS["window"]]
    assert rows["_detail"].iloc[1] == "observed_at = 2050-12-04T09:00; window 2005-12-03 00:00 – 2005-12-06 00:00"
    assert canonicalise(table.astype("string"), "test").rows["_reason"].isna().all()  # no window given: no window checked


def test_a_report_file_states_the_window(tmp_path, geojson):
    out = tmp_path / "out"
    import_mission(geojson, [write_csv(tmp_path / "forms.csv", HEAD + _bulk())], out)
    assert json.loads((out / REPORT_FILE).read_text())["time_window"]["election_date"] == "2005-12-04"
    assert read_forms(tmp_path / "forms.csv").rows["_reason"].isna().all()


def test_no_times_at_all_means_no_window_and_a_sentence(tmp_path, geojson):
    forms = write_csv(tmp_path / "forms.csv", "form_id,form_type,region_code,overall\na,voting,AA,good\nb,voting,BB,bad\n")
    r = import_mission(geojson, [forms], tmp_path / "out").report
    assert r["time_window"] is None and r["accepted"] == 2
    assert any("no election window is checked" in w for w in r["warnings"])
