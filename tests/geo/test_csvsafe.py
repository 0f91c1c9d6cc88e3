"""Every CSV obsmap writes is safe to open in a spreadsheet (OWASP CSV injection), and reads back exactly."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from geo.csvsafe import neutralise, restore, restore_frame, safe_frame, to_safe_csv
from geo.forms_import import read_forms
from geo.importer import SET_ASIDE_FILE, import_mission
from geo.mission import FORMS_FILE, STATIONS_FILE, TEAMS_FILE, build_mission, load_mission
from geo.schema import STATION_COLUMNS
from tests.conftest import form_rows, two_regions

CALC = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://x","y")'


def raw_cells(path: Path) -> list[dict[str, str]]:
    """A CSV's cells exactly as a spreadsheet gets them: no pandas, no NA handling, no stripping."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------- cells
@pytest.mark.parametrize("value", ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", LINK, CALC, "=", "+", "-", "@", "\t", "\r"])
def test_each_dangerous_start_gets_an_apostrophe(value):
    assert neutralise(value) == "'" + value
    assert restore(neutralise(value)) == value


@pytest.mark.parametrize("value", ["-12.5", "+3", "12", "-0", "0.25", "-.5", "+7.", "-2005"])
def test_plain_numbers_are_left_alone(value):
    assert neutralise(value) == value == restore(value)


@pytest.mark.parametrize("value", ["-2+3", "-1e3", "+1 ", "- 1", "-1,5", "-١٢", "+3)", "-12.5.1", "--1"])
def test_numbers_with_anything_more_are_neutralised(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["plain text", "", "a=b", " =1+1", "1+1", "'", "'quoted'", "''", "{}", "http://x"])
def test_other_text_is_left_alone_or_escaped_reversibly(value):
    assert restore(neutralise(value)) == value
    if not value.startswith("'"):
        assert neutralise(value) == value
    else:
        assert neutralise(value) == "'" + value  # an apostrophe gets one more, so restore is exact


@given(st.text())
@example("'=a")
@example("''")
@example("-2+3")
@example("'-12.5")
def test_restore_undoes_neutralise_for_all_text(value):
    safe = neutralise(value)
    assert restore(safe) == value
    assert not safe or safe[0] not in "=+-@\t\r" or safe == value  # only a plain number may start with + or -


@given(st.text())
def test_a_neutralised_cell_never_starts_a_formula(value):
    safe = neutralise(value)
    if safe[:1] in ("=", "@", "\t", "\r"):
        pytest.fail(f"{safe!r} starts a formula")
    if safe[:1] in ("+", "-"):
        assert safe == value and safe[1:].replace(".", "", 1).isdigit()


# ------------------------------------------------------------------------------------------ frames
def test_safe_frame_touches_text_columns_and_header_only_and_copies():
    frame = pd.DataFrame(
        {
            "obj": ["=1+1", "ok", None, 3],
            "str": pd.array(["@x", "-2+3", pd.NA, "-4"], dtype="string"),
            "cat": pd.Categorical(["+a", "b", "+a", None]),
            "num": [-1.5, 2.0, np.nan, -3.0],
            "int": [-1, 2, 3, -4],
            "=evil": ["x", "y", "z", "w"],
        }
    )
    before = frame.copy()
    safe = safe_frame(frame)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is untouched
    assert safe["obj"].tolist() == ["'=1+1", "ok", None, 3]
    assert safe["str"].tolist()[:2] == ["'@x", "'-2+3"] and safe["str"].isna().tolist() == [False, False, True, False]
    assert safe["str"].iloc[3] == "-4" and safe["str"].dtype == frame["str"].dtype
    assert safe["cat"].astype(object).tolist()[:3] == ["'+a", "b", "'+a"] and pd.isna(safe["cat"].iloc[3])
    pd.testing.assert_series_equal(safe["num"], frame["num"])
    pd.testing.assert_series_equal(safe["int"], frame["int"])
    assert list(safe.columns) == ["obj", "str", "cat", "num", "int", "'=evil"]
    back = restore_frame(safe)
    assert list(back.columns) == list(frame.columns)
    assert back["obj"].tolist() == frame["obj"].tolist() and back["str"].tolist()[:2] == ["@x", "-2+3"]


def test_to_safe_csv_writes_like_to_csv_without_index_and_with_unix_line_ends(tmp_path):
    frame = pd.DataFrame({"a": ["x", LINK], "b": [1.5, -2.0]})
    text = to_safe_csv(frame)
    assert text == 'a,b\nx,1.5\n"\'=HYPERLINK(""http://x"",""y"")",-2.0\n'
    assert to_safe_csv(frame, tmp_path / "f.csv") is None and (tmp_path / "f.csv").read_text(encoding="utf-8") == text
    buf = io.StringIO()
    to_safe_csv(frame, buf)
    assert buf.getvalue() == text
    back = restore_frame(pd.read_csv(io.StringIO(text), dtype="string"))
    assert back["a"].tolist() == ["x", LINK]


def test_ordinary_data_is_written_byte_for_byte_as_before():
    """A mission without formula-like cells keeps its bytes, hence its version digest."""
    frame = form_rows([{"form_type": "voting", "region_code": "AA", "overall": "good", "latitude": -0.5, "comments": "all fine, 1+1"}])
    assert to_safe_csv(frame) == frame.to_csv(index=False, lineterminator="\n")


# ------------------------------------------------------------------------- through a mission folder
HOSTILE = [LINK, "@SUM(A1:A9)", "+7 701 555 0101", "-2+3", "'=already quoted", CALC]


def hostile_mission(tmp_path: Path):
    rows = [
        {"form_type": "voting", "region_code": "AA", "overall": "bad", "comments": c, "team_id": t, "observer_org": o, "ps_id": p}
        for c, t, o, p in zip(
            HOSTILE, ["=T1", "@T2", "+T3", "-T4", "'T5", "T6"], ["=Org", "@Org", "+Org", "-Org", "'Org", "Org"], HOSTILE, strict=True
        )
    ]
    rows.append({"form_type": "voting", "region_code": "BB", "overall": "good", "comments": "\t=tab first", "team_id": "-12.5"})
    stations = pd.DataFrame({c: [None, None] for c in STATION_COLUMNS})
    stations["ps_id"] = [LINK, "@S2"]
    stations["region_code"] = ["AA", "BB"]
    stations["name"] = ["=School 1", "\tSchool 2"]
    stations["latitude"], stations["longitude"] = [0.5, 0.5], [0.5, 1.5]
    teams = pd.DataFrame({"team_id": ["=T1", "@T2", "-T4"], "observer_org": ["=Org", "\t@Org", "-12.5"], "observers": ["2", "3", "-1"]})
    meta = {"name": "=Mission"}
    mission = build_mission(tmp_path / "mission", two_regions(), form_rows(rows), meta, stations=stations, teams=teams)
    return mission, rows, stations, teams


def test_formula_like_values_round_trip_exactly_through_a_mission_folder(tmp_path):
    mission, rows, stations, teams = hostile_mission(tmp_path)
    forms = mission.forms.set_index("form_id")
    given_ = form_rows(rows).set_index("form_id")
    for col in ("comments", "team_id", "observer_org", "ps_id"):
        # Exactly as given; a form's cells are trimmed on reading as they always were (the tab before "=tab first").
        expected = {k: v.strip() if isinstance(v, str) else None for k, v in given_[col].items()}
        assert {k: None if pd.isna(v) else v for k, v in forms[col].items()} == expected, col
    assert mission.teams.astype(object).to_dict("list") == teams.to_dict("list")
    assert mission.stations["ps_id"].tolist() == [LINK, "@S2"] and mission.stations["name"].tolist() == ["=School 1", "\tSchool 2"]
    assert mission.meta["name"] == "=Mission"  # JSON, not a spreadsheet's concern


def test_the_mission_files_hold_no_formula_a_spreadsheet_would_run(tmp_path):
    mission, *_ = hostile_mission(tmp_path)
    for name in (FORMS_FILE, STATIONS_FILE, TEAMS_FILE):
        for row in raw_cells(mission.path / name):
            for col, value in row.items():
                assert value[:1] not in ("=", "@", "\t", "\r"), (name, col, value)
                if value[:1] in ("+", "-"):
                    assert value in ("-12.5", "-1"), (name, col, value)
    forms = {r["comments"] for r in raw_cells(mission.path / FORMS_FILE)}
    assert "'" + LINK in forms and "''=already quoted" in forms and "'" + CALC in forms and "'\t=tab first" in forms
    assert {r["team_id"] for r in raw_cells(mission.path / TEAMS_FILE)} == {"'=T1", "'@T2", "'-T4"}


def test_a_rebuilt_folder_has_the_same_version(tmp_path):
    """The digest follows the bytes: the same hostile data twice gives the same version, and it loads again unchanged."""
    mission, *_ = hostile_mission(tmp_path)
    again = load_mission(mission.path)
    assert again.version == mission.version
    pd.testing.assert_frame_equal(again.forms, mission.forms)


# ------------------------------------------------------------------------------------ from an import
def test_set_aside_csv_of_an_import_is_neutralised(tmp_path):
    regions = tmp_path / "regions.geojson"
    two_regions().to_file(regions, driver="GeoJSON")
    forms = tmp_path / "forms.csv"
    lines = [
        "form_id,form_type,region_code,overall,comments",
        f'"{CALC}",lunch,AA,good,x',  # unknown form_type: set aside
        f'ok1,voting,AA,good,"{LINK.replace(chr(34), chr(34) * 2)}"',
        'ok2,voting,ZZ,bad,"@SUM(1)"',  # unknown region: set aside
    ]
    forms.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = import_mission(regions, [forms], out)
    assert result.report["set_aside"] == 2
    aside = raw_cells(out / SET_ASIDE_FILE)
    by_id = {r["form_id"]: r for r in aside}
    assert "'" + CALC in by_id and by_id["'" + CALC]["form_id"].startswith("'=")
    assert json.loads(by_id["'" + CALC]["original_values"])["form_id"] == CALC  # the JSON keeps the value as it came
    for row in aside:
        assert all(v[:1] not in ("=", "+", "-", "@", "\t", "\r") for v in row.values()), row
    # The accepted form: neutralised in forms.csv, exact in the mission (its live store holds the forms).
    assert {r["comments"] for r in raw_cells(out / FORMS_FILE)} == {"'" + LINK}
    assert result.mission.forms.set_index("form_id").at["ok1", "comments"] == LINK
    # A user's own export is read as it is: an apostrophe the user typed is the user's.
    user = tmp_path / "user.csv"
    user.write_text("form_id,form_type,comments\nu1,voting,'=not ours\n", encoding="utf-8")
    assert read_forms(user).rows.at[0, "comments"] == "'=not ours"


def test_set_aside_live_csv_of_a_sync_is_neutralised(tmp_path):
    from geo.store import Store
    from geo.sync import SET_ASIDE_LIVE, _write_set_aside

    with Store(tmp_path / "store.sqlite") as store:
        store.ingest([], "odk:" + CALC, set_aside=[{"row": "=1+1", "reason": "unknown form_type", "detail": "@x", "original": "{}"}])
        _write_set_aside(store, tmp_path)
    (row,) = raw_cells(tmp_path / SET_ASIDE_LIVE)
    assert row["row"] == "'=1+1" and row["detail"] == "'@x" and row["source"] == "odk:" + CALC
