"""`obsmap import`: every kind of file a mission brings, every reason a row is set aside, nothing lost.

Fixtures are made here: two unit squares for regions (AA at lon 0..1, BB at lon 1..2), and forms
whose expected region and fate are known by construction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from dashboard.summary import mission_summary
from geo.boundaries import load_boundaries
from geo.errors import InputError
from geo.importer import REPORT_FILE, SET_ASIDE_FILE, import_mission
from geo.mission import load_mission
from tests.conftest import DEMO, ROOT

# ---------------------------------------------------------------------------------------- fixtures


def squares(columns=("code", "name"), codes=("AA", "BB"), names=("Alpha", "Beta")) -> gpd.GeoDataFrame:
    code_col, name_col = columns
    return gpd.GeoDataFrame({code_col: list(codes), name_col: list(names)}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)


@pytest.fixture
def geojson(tmp_path) -> Path:
    path = tmp_path / "regions.geojson"
    squares().to_file(path, driver="GeoJSON")
    return path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], capture_output=True, text=True, cwd=ROOT)


# ------------------------------------------------------------------------------------- boundaries


def test_boundaries_natural_earth_gpkg_with_layers(tmp_path):
    path = tmp_path / "ne.gpkg"
    squares(("iso_3166_2", "name")).to_file(path, layer="states_provinces", driver="GPKG")
    gpd.GeoDataFrame({"x": [1]}, geometry=[Point(0, 0)], crs=4326).to_file(path, layer="places", driver="GPKG")
    b = load_boundaries(path)  # the only polygon layer is chosen
    assert b.regions["code"].tolist() == ["AA", "BB"] and b.code_column == "iso_3166_2"
    squares(("iso_3166_2", "name"), codes=("X1", "X2")).to_file(path, layer="other_polygons", driver="GPKG")
    with pytest.raises(InputError, match="--layer"):
        load_boundaries(path)
    assert load_boundaries(path, layer="other_polygons").regions["code"].tolist() == ["X1", "X2"]


def test_boundaries_zipped_shapefile_in_projected_crs(tmp_path):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    squares(("shapeISO", "shapeName")).to_crs(32631).to_file(shp_dir / "adm1.shp")
    zpath = tmp_path / "adm1.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"geoBoundaries/{f.name}")
    b = load_boundaries(zpath)
    assert b.code_column == "shapeISO" and b.regions.crs.to_epsg() == 4326
    assert "32631" in b.source_crs
    minx, miny, maxx, maxy = b.regions.total_bounds
    assert minx == pytest.approx(0, abs=1e-6) and maxx == pytest.approx(2, abs=1e-6)


@pytest.mark.parametrize("columns", [("ADM1_PCODE", "ADM1_EN"), ("GID_1", "NAME_1")])
def test_boundaries_geoparquet_ocha_and_gadm_columns(tmp_path, columns):
    path = tmp_path / "adm1.parquet"
    squares(columns).to_parquet(path)
    b = load_boundaries(path)
    assert (b.code_column, b.name_column) == columns
    assert b.regions["name"].tolist() == ["Alpha", "Beta"]


def test_boundaries_columns_named_by_flags(tmp_path):
    path = tmp_path / "r.geojson"
    squares(("kod", "nazvanie")).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="--code-column"):
        load_boundaries(path)
    b = load_boundaries(path, code_column="kod", name_column="nazvanie")
    assert b.regions["name"].tolist() == ["Alpha", "Beta"]


def test_boundaries_duplicate_and_empty_codes_name_the_features(tmp_path):
    path = tmp_path / "dup.geojson"
    squares(codes=("AA", "AA")).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match=r"duplicated: AA \(features 1, 2\)"):
        load_boundaries(path)
    squares(codes=("AA", "")).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match=r"empty for feature\(s\) 2"):
        load_boundaries(path)


def test_boundaries_without_polygons_or_file(tmp_path):
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"code": ["A"]}, geometry=[Point(0, 0)], crs=4326).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="expected polygons of regions, found Point"):
        load_boundaries(path)
    with pytest.raises(InputError, match="file not found"):
        load_boundaries(tmp_path / "none.geojson")
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match="could not be read"):
        load_boundaries(junk)


def test_invalid_geometry_is_repaired_and_reported(tmp_path):
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    path = tmp_path / "bowtie.geojson"
    gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["a", "b"]}, geometry=[bowtie, box(1, 0, 2, 1)], crs=4326).to_file(
        path, driver="GeoJSON"
    )
    b = load_boundaries(path)
    assert b.repaired == ["AA"]
    assert b.regions.is_valid.all() and b.regions.geometry.iloc[0].area == pytest.approx(0.5)
    assert f"{path}: invalid geometry of AA repaired (shapely make_valid, polygons kept)." in b.notes


def test_districts_get_their_parent_region(tmp_path, geojson):
    dpath = tmp_path / "adm2.geojson"
    d = gpd.GeoDataFrame(
        {"ADM2_PCODE": ["AA01", "AA02", "BB01"], "ADM2_EN": ["a1", "a2", "b1"]},
        geometry=[box(0, 0, 0.5, 1), box(0.5, 0, 1.02, 1), box(1.02, 0, 2, 1)],  # AA02 spills 0.02 into BB
        crs=4326,
    )
    d.to_file(dpath, driver="GeoJSON")
    forms = write_csv(tmp_path / "f.csv", "form_id,form_type,latitude,longitude\n1,voting,0.5,0.7\n2,voting,0.5,1.5\n")
    result = import_mission(geojson, [forms], tmp_path / "out", districts=dpath)
    features = json.loads((tmp_path / "out" / "districts.geojson").read_text())["features"]
    assert {f["id"]: f["properties"]["parent"] for f in features} == {"AA01": "AA", "AA02": "AA", "BB01": "BB"}
    assert result.mission.forms["district_code"].tolist() == ["AA02", "BB01"]


# ------------------------------------------------------------------------------------------ forms

CANONICAL = """form_id,form_type,observed_at,team_id,observer_org,ps_id,region_code,latitude,longitude,\
urban_rural,evoting,overall,protocol_tampering,overcrowding,comments
c1,counting,2005-12-04T20:05,T1,ODIHR,P1,,0.5,0.5,urban,yes,4,1,,"recount, refused"
c2,Counting,2005-12-04T20:10,T2,odihr,P2,,0.5,1.5,rural,no,Very Bad,YES,,
c3,COUNTING,2005-12-04T20:15,T3,OSCE PA,P3,,0.2,1.2,rural,no,очень хорошо,нет,,
v1,voting,2005-12-04T09:00,T1,PACE,P4,BB,,,urban,да,2,,y,
v2,voting,2005-12-04T10:00,T1,EP,P5,alpha,,,urban,0,good,,false,
v3,voting,2005-12-04T11:00,T2,EP,P6,AA,,,,,,,True,
"""


def test_canonical_csv_with_value_variants_imports_without_mapping(tmp_path, geojson):
    forms = write_csv(tmp_path / "forms.csv", CANONICAL)
    result = import_mission(geojson, [forms], tmp_path / "out")
    assert result.report["read"] == 6 and result.report["set_aside"] == 0
    f = result.mission.forms.set_index("form_id")
    assert f["region_code"].to_dict() == {"c1": "AA", "c2": "BB", "c3": "BB", "v1": "BB", "v2": "AA", "v3": "AA"}
    assert f["overall"].astype("string").fillna("-").to_dict() == {
        "c1": "very bad",
        "c2": "very bad",
        "c3": "very good",
        "v1": "good",
        "v2": "good",
        "v3": "-",
    }
    assert f["protocol_tampering"].tolist()[:3] == [True, True, False]
    assert f.loc["v1", "evoting"] == "yes" and f.loc["v2", "evoting"] == "no"
    assert f["overcrowding"].tolist()[3:] == [True, False, True]
    assert f.loc["c2", "observer_org"] == "ODIHR"
    assert f.loc["c1", "comments"] == "recount, refused"


def test_figures_after_import_match_a_plain_tally(tmp_path, geojson):
    forms = write_csv(tmp_path / "forms.csv", CANONICAL)
    result = import_mission(geojson, [forms], tmp_path / "out")
    s = mission_summary(result.mission)

    def counts(cell):
        return {k: cell[k] for k in ("n", "assessed", "negative")}

    # By construction: counts c1 (AA, very bad), c2 (BB, very bad), c3 (BB, very good).
    assert counts(s["by_region"]["AA"]["counting"]) == {"n": 1, "assessed": 1, "negative": 1}
    assert counts(s["by_region"]["BB"]["counting"]) == {"n": 2, "assessed": 2, "negative": 1}
    assert counts(s["forms"]["voting"]) == {"n": 3, "assessed": 2, "negative": 0}


def test_semicolon_cp1251_csv_with_russian_labels(tmp_path, geojson):
    text = (
        "form_id;form_type;region_code;overall;pressure_on_voters;comments\n"
        "r1;voting;AA;плохо;да;Давление на студентов\nr2;voting;Beta;хорошо;нет;\n"
    )
    forms = write_csv(tmp_path / "cp1251.csv", text, encoding="cp1251")
    result = import_mission(geojson, [forms], tmp_path / "out")
    f = result.mission.forms.set_index("form_id")
    assert f["overall"].astype("string").fillna("-").tolist() == ["bad", "good"]
    assert f.loc["r1", "comments"] == "Давление на студентов"
    assert f["region_code"].tolist() == ["AA", "BB"]


def test_utf8_bom_and_xlsx(tmp_path, geojson):
    bom = write_csv(tmp_path / "bom.csv", "form_id,form_type,region_code,overall\nb1,opening,AA,good\n", encoding="utf-8-sig")
    xlsx = tmp_path / "forms.xlsx"
    pd.DataFrame(
        {"form_id": ["x1", "x2"], "form_type": ["tabulation", "tabulation"], "region_code": ["BB", "AA"], "overall": [3, 1]}
    ).to_excel(xlsx, index=False)
    result = import_mission(geojson, [bom, xlsx], tmp_path / "out")
    f = result.mission.forms.set_index("form_id")
    assert f.index.tolist() == ["b1", "x1", "x2"]
    assert f["overall"].astype("string").fillna("-").tolist() == ["good", "bad", "very good"]


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_utf16_tab_separated_excel_unicode_text(tmp_path, geojson, suffix):
    """Excel's "Unicode text" export: UTF-16 LE with a byte-order mark, tab-separated, CRLF line ends."""
    text = (
        "form_id\tform_type\tregion_code\toverall\tpressure_on_voters\tcomments\r\n"
        "u1\tголосование\tAA\tплохо\tда\tДавление, на студентов\r\n"
        "u2\tvoting\tBeta\tочень хорошо\tнет\t\r\n"
    )
    path = tmp_path / f"unicode{suffix}"
    path.write_text(text, encoding="utf-16", newline="")
    assert path.read_bytes()[:2] == b"\xff\xfe"  # the BOM Python writes for "utf-16" on this machine (LE)
    result = import_mission(geojson, [path], tmp_path / "out")
    assert result.report["set_aside"] == 0
    f = result.mission.forms.set_index("form_id")
    assert f["form_type"].tolist() == ["voting", "voting"]
    assert f["overall"].astype("string").tolist() == ["bad", "very good"]
    assert f["pressure_on_voters"].tolist() == [True, False]
    assert f.loc["u1", "comments"] == "Давление, на студентов" and f["region_code"].tolist() == ["AA", "BB"]


KOBO = (
    "start;end;form_type;visit/team_id;visit/observer_org;visit/ps_id;visit/observed_at;visit/location;"
    "_location_latitude;_location_longitude;_location_altitude;_location_precision;visit/urban_rural;"
    "checklist/protocol_tampering;checklist/procedural_violations;assessment/overall;assessment/comments;"
    "_id;_uuid;_submission_time;_validation_status;_submitted_by;_index\n"
    "2005-12-04T19:50:00.000+06:00;2005-12-04T22:10:00.000+06:00;counting;T9;ODIHR;P9;2005-12-04T19:55:00.000+06:00;"
    "0.5 0.5 0 5;0.5;0.5;0;5;urban;yes;yes;very_bad;<script>alert(1)</script>;101;uuid-1;2005-12-04T16:20:00;;obs;1\n"
    "2005-12-04T19:40:00.000+06:00;2005-12-04T21:00:00.000+06:00;counting;T8;OSCE_PA;P8;2005-12-04T19:45:00.000+06:00;"
    "0.5 1.5 0 5;0.5;1.5;0;5;rural;no;no;good;;102;uuid-2;2005-12-04T15:20:00;;obs;2\n"
)


def test_kobo_export_with_groups_imports_without_mapping(tmp_path, geojson):
    forms = write_csv(tmp_path / "kobo.csv", KOBO)
    result = import_mission(geojson, [forms], tmp_path / "out")
    f = result.mission.forms.set_index("form_id")
    assert f.index.tolist() == ["uuid-1", "uuid-2"]  # _uuid stands in for form_id
    assert f["region_code"].tolist() == ["AA", "BB"]  # from the GPS columns
    assert f["observed_at"].dt.strftime("%H:%M").tolist() == ["19:55", "19:45"]  # local time kept
    assert f["overall"].astype("string").fillna("-").tolist() == ["very bad", "good"]
    assert f.loc["uuid-2", "observer_org"] == "OSCE PA"
    assert f.loc["uuid-1", "comments"] == "<script>alert(1)</script>"  # kept as text; the UI shows it as text
    ignored = result.report["files"][0]["ignored_columns"]
    assert {"start", "end", "_id", "_submission_time", "_submitted_by", "visit/location"} <= set(ignored)


ODK = (
    "SubmissionDate,start,end,meta-instanceID,form_type,visit-team_id,visit-ps_id,visit-observed_at,"
    "visit-location-Latitude,visit-location-Longitude,visit-location-Altitude,visit-location-Accuracy,"
    "checklist-unauthorised_persons,assessment-overall,KEY,SubmitterID,SubmitterName,AttachmentsPresent,"
    "AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion\n"
    "2005-12-04T10:00:00.000Z,x,y,uuid:aaa,voting,T1,P1,2005-12-04T09:00:00.000+06:00,0.5,1.5,0,4,no,good,uuid:aaa,7,collector,0,0,,,"
    "collect:1,0,2026-11-28\n"
    "2005-12-04T11:00:00.000Z,x,y,uuid:bbb,voting,T1,P2,2005-12-04T10:00:00.000+06:00,0.5,0.5,0,4,yes,bad,uuid:bbb,7,collector,0,0,,,"
    "collect:1,0,2026-11-28\n"
    "2005-12-04T12:00:00.000Z,x,y,uuid:ccc,voting,T1,P3,2005-12-04T11:00:00.000+06:00,0.5,0.5,0,4,no,great,uuid:ccc,7,Jane Doe,0,0,,,"
    "collect:1,0,2026-11-28\n"
)


def test_odk_central_export_imports_without_mapping(tmp_path, geojson):
    forms = write_csv(tmp_path / "odk.csv", ODK)
    result = import_mission(geojson, [forms], tmp_path / "out")
    f = result.mission.forms.set_index("form_id")
    assert f.index.tolist() == ["uuid:aaa", "uuid:bbb"]
    assert f["region_code"].tolist() == ["BB", "AA"]
    assert f["unauthorised_persons"].tolist() == [False, True]
    assert "SubmitterName" in result.report["files"][0]["ignored_columns"]
    # The set-aside file keeps the row's values, but not who submitted it.
    aside = pd.read_csv(tmp_path / "out" / SET_ASIDE_FILE, dtype=str)
    assert aside["form_id"].tolist() == ["uuid:ccc"]
    original = json.loads(aside.loc[0, "original_values"])
    assert original["assessment-overall"] == "great"
    assert "Jane Doe" not in aside.to_csv() and "SubmitterName" not in original and "DeviceID" not in original
    assert "submittername" not in {c.lower() for c in result.mission.forms.columns}


def test_mapping_file_renames_columns_and_values(tmp_path, geojson):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[columns]\nStation = "ps_id"\nKind = "form_type"\nID = "form_id"\nOblast = "region_code"\nRating = "overall"\n\n'
        '[values.overall]\nExcellent = "very good"\nPoor = "bad"\n\n[values.form_type]\nE-day = "voting"\n',
        encoding="utf-8",
    )
    forms = write_csv(tmp_path / "own.csv", "ID,Kind,Station,Oblast,Rating\n1,E-day,S1,AA,Excellent\n2,E-day,S2,BB,Poor\n")
    result = import_mission(geojson, [forms], tmp_path / "out", mapping=mapping)
    assert result.report["set_aside"] == 0
    assert result.mission.forms["overall"].astype("string").fillna("-").tolist() == ["very good", "bad"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nX = "not_a_column"\n', encoding="utf-8")
    with pytest.raises(InputError, match="not canonical columns"):
        import_mission(geojson, [forms], tmp_path / "out2", mapping=bad)


def test_registry_locates_forms_by_ps_id_and_fills_station_facts(tmp_path, geojson):
    registry = write_csv(tmp_path / "stations.csv", "ps_id,latitude,longitude,urban_rural,evoting\nP1,0.5,1.5,rural,yes\nP2,,,urban,no\n")
    forms = write_csv(tmp_path / "f.csv", "form_id,form_type,ps_id,region_code\n1,voting,P1,\n2,voting,P2,AA\n3,voting,P3,\n")
    result = import_mission(geojson, [forms], tmp_path / "out", stations=registry)
    f = result.mission.forms.set_index("form_id")
    assert f["region_code"].to_dict() == {"1": "BB", "2": "AA"}
    assert f.loc["1", "urban_rural"] == "rural" and f.loc["1", "evoting"] == "yes"
    assert result.report["reasons"] == {"no location (no coordinates, known ps_id or region code)": 1}
    assert mission_summary(result.mission)["polling_stations"] == 2


BROKEN = """form_id,form_type,region_code,latitude,longitude,overall,ballot_box_stuffing
ok1,voting,AA,,,good,no
,voting,AA,,,good,no
ok1,voting,BB,,,bad,no
t1,lunch,AA,,,good,no
t2,,AA,,,good,no
o1,voting,AA,,,excellent,no
a1,voting,AA,,,good,maybe
g1,voting,,abc,0.5,good,no
g2,voting,,0.5,,good,no
x1,voting,,5,5,good,no
r1,voting,ZZ,,,good,no
n1,voting,,,,good,no
ok2,counting,,0.5,1.5,very bad,yes
"""


def test_every_reason_is_set_aside_and_nothing_is_lost(tmp_path, geojson):
    forms = write_csv(tmp_path / "broken.csv", BROKEN)
    out = tmp_path / "out"
    result = import_mission(geojson, [forms], out, report_path=tmp_path / "report.json")
    r = json.loads((tmp_path / "report.json").read_text())
    assert r == json.loads((out / REPORT_FILE).read_text())
    raw = pd.read_csv(forms, dtype=str)
    assert r["read"] == len(raw) == r["accepted"] + r["set_aside"]
    assert r["accepted"] == 2 and sorted(result.mission.forms["form_id"]) == ["ok1", "ok2"]
    assert r["reasons"] == {
        "coordinates not numbers": 2,
        "coordinates outside every region": 1,
        "duplicate form_id (first kept)": 1,
        "missing form_id": 1,
        "no location (no coordinates, known ps_id or region code)": 1,
        "no or unknown form_type": 2,
        "overall not very good/good/bad/very bad (or 1-4)": 1,
        "unknown region code": 1,
        "yes/no answer not yes or no": 1,
    }
    aside = pd.read_csv(out / SET_ASIDE_FILE, dtype=str)
    assert len(aside) == r["set_aside"]
    assert set(aside["source_file"]) == {str(forms)}
    # Row numbers as in a spreadsheet (header = row 1) and the original values, untouched.
    dup = aside[aside.reason.str.startswith("duplicate")].iloc[0]
    assert dup["row"] == "4" and json.loads(dup["original_values"])["region_code"] == "BB"
    assert "row 2" in dup["detail"]
    answer = aside[aside.reason.str.startswith("yes/no")].iloc[0]
    assert answer["detail"] == "ballot_box_stuffing = maybe"


def test_duplicates_across_files_keep_the_first(tmp_path, geojson):
    a = write_csv(tmp_path / "a.csv", "form_id,form_type,region_code\n1,voting,AA\n")
    b = write_csv(tmp_path / "b.csv", "form_id,form_type,region_code\n1,voting,BB\n2,voting,BB\n")
    result = import_mission(geojson, [a, b], tmp_path / "out")
    assert result.mission.forms["region_code"].tolist() == ["AA", "BB"]
    assert [(f["file"], f["read"], f["accepted"], f["set_aside"]) for f in result.report["files"]] == [(str(a), 1, 1, 0), (str(b), 2, 1, 1)]


# ----------------------------------------------------------------------------- whole-file errors


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        (b"\x00\x01\x02garbage", "could not be read as a forms table"),
        (b"name,phone\nBob,123\n", "expected the canonical columns form_id and form_type"),
        (b"", "empty file"),
    ],
)
def test_whole_file_errors_are_one_sentence_and_leave_the_output_as_it_was(tmp_path, geojson, content, expected):
    out = tmp_path / "out"
    good = write_csv(tmp_path / "good.csv", "form_id,form_type,region_code\n1,voting,AA\n")
    import_mission(geojson, [good], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / ("bad.xlsx" if content and content.startswith(b"\x00") else "bad.csv")
    if content is not None:
        bad.write_bytes(content)
    proc = run_cli("import", "--boundaries", str(geojson), "--forms", str(bad), "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("obsmap:")]
    assert len(error_lines) == 1 and str(bad) in error_lines[0] and expected in error_lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # Nothing left beside it but the version folder the mission's symlink points to, and the live store.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted([os.readlink(out), ".out-store"])


def test_cli_import_prints_a_summary_and_the_folder_serves_like_the_demo(tmp_path, geojson):
    forms = write_csv(tmp_path / "broken.csv", BROKEN)
    proc = run_cli("import", "--boundaries", str(geojson), "--forms", str(forms), "--out", str(tmp_path / "m"), "--name", "Testland 2026")
    assert proc.returncode == 0, proc.stderr
    assert "Imported 2 of 13 rows read" in proc.stdout and "11 set aside" in proc.stdout
    assert "reading forms" in proc.stderr  # progress goes to stderr
    summary = json.loads(run_cli("summary", "--data", str(tmp_path / "m"), "--json").stdout)
    assert summary["name"] == "Testland 2026" and summary["regions"] == 2
    assert {k: summary["forms"]["counting"][k] for k in ("n", "assessed", "negative")} == {"n": 1, "assessed": 1, "negative": 1}


def test_importing_the_demos_own_files_gives_the_demos_summary(tmp_path):
    result = import_mission(
        ROOT / "data" / "sources" / "kz_regions_2005.geojson",
        [DEMO / "forms.csv"],
        tmp_path / "kz",
        stations=DEMO / "stations.csv",
        teams=DEMO / "teams.csv",
    )
    assert result.report["set_aside"] == 0
    got = mission_summary(load_mission(tmp_path / "kz"))
    want = mission_summary(load_mission(DEMO))
    for key in ("name", "synthetic", "data_as_of"):
        got.pop(key), want.pop(key)
    assert got == want


def test_documented_mapping_example_loads(tmp_path, geojson):
    forms = write_csv(
        tmp_path / "own.csv",
        "Submission ID,Form,Oblast,General assessment,Protocol altered?\n1,Close & count,AA,Unacceptable,Observed\n",
    )
    result = import_mission(geojson, [forms], tmp_path / "out", mapping=ROOT / "docs" / "mapping-example.toml")
    f = result.mission.forms
    assert f["form_type"].tolist() == ["counting"] and f["overall"].tolist() == ["very bad"]
    assert f["protocol_tampering"].tolist() == [True]


def test_export_of_the_shipped_kobo_form_imports(tmp_path, geojson):
    """A KoboToolbox export of forms/obsmap-counting.xlsx, headers as Kobo writes them with groups."""
    from openpyxl import load_workbook

    ws = load_workbook(ROOT / "forms" / "obsmap-counting.xlsx")["survey"]
    header, *rows = [[c.value for c in r] for r in ws.iter_rows()]
    path, columns = [], []
    for row in rows:
        kind, name = row[header.index("type")], row[header.index("name")]
        if kind == "begin_group":
            path.append(name)
        elif kind == "end_group":
            path.pop()
        elif kind == "geopoint":
            columns += ["/".join([*path, name]), f"_{name}_latitude", f"_{name}_longitude", f"_{name}_altitude", f"_{name}_precision"]
        else:
            columns.append("/".join([*path, name]))
    columns += ["_id", "_uuid", "_submission_time"]
    values = {
        "form_type": "counting",
        "visit/team_id": "T1",
        "visit/observer_org": "OSCE_PA",
        "visit/ps_id": "P1",
        "visit/observed_at": "2005-12-04T19:58:00.000+06:00",
        "_location_latitude": "0.5",
        "_location_longitude": "1.5",
        "checklist/protocol_tampering": "yes",
        "assessment/overall": "very_bad",
        "_uuid": "u-1",
    }
    export = write_csv(tmp_path / "kobo.csv", ";".join(columns) + "\n" + ";".join(values.get(c, "") for c in columns) + "\n")
    result = import_mission(geojson, [export], tmp_path / "out")
    f = result.mission.forms
    assert result.report["accepted"] == 1
    assert f.loc[0, "form_id"] == "u-1" and f.loc[0, "region_code"] == "BB" and f.loc[0, "overall"] == "very bad"
    assert f.loc[0, "observer_org"] == "OSCE PA" and bool(f.loc[0, "protocol_tampering"])


def test_a_store_that_fails_during_the_import_is_said_in_one_sentence_and_the_import_again_completes(tmp_path, geojson, monkeypatch):
    """The folder is written before the forms go into the live store: a store failing then (a database gone, a full
    disk) gets one sentence saying so and what to do; its batch added nothing, and the same import again completes."""
    import sqlite3

    from geo.errors import MissionDataError
    from geo.store import Store, open_store

    forms = write_csv(tmp_path / "forms.csv", CANONICAL)
    out = tmp_path / "out"

    def full_disk(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "_insert_rows", full_disk)
        with pytest.raises(MissionDataError) as failed:
            import_mission(geojson, [forms], out)
    said = str(failed.value)
    assert said.startswith(f"{out}: the mission folder is written") and "database or disk is full" in said
    assert "run the same import again" in said and "\n" not in said
    with open_store(out) as store:
        assert store.counts()["forms"] == 0 and store.data_version() == 0  # the batch added nothing
    again = import_mission(geojson, [forms], out)
    assert again.report["store"]["new"] == 6 and len(again.mission.forms) == 6
