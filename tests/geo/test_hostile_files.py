"""Hostile and careless forms files: how a file is read (issue 11).

Each file is built here, small: a quote left open, bytes that are not UTF-8, a CP1251 export, XLSX
formulas with and without calculated values, a hidden first sheet, merged cells, two ``overall``
columns, NUL bytes, and columns holding observers' names and phones. Each case states its outcome:
the one-sentence refusal (exit code 2 at the command line), or read / accepted / set aside and the
report's lines, and that no personal value reaches any file of the mission folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError
from geo.forms_import import looks_personal, read_forms, read_table
from geo.importer import import_mission
from tests.conftest import ROOT

HEADER = "form_id,form_type,region_code,overall,comments\n"


@pytest.fixture
def geojson(tmp_path) -> Path:
    path = tmp_path / "regions.geojson"
    gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326).to_file(
        path, driver="GeoJSON"
    )
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], capture_output=True, text=True, cwd=ROOT)


def counts(report: dict) -> tuple[int, int, int]:
    return report["read"], report["accepted"], report["set_aside"]


def every_file_bytes(*folders: Path) -> bytes:
    """Every byte written under the mission folder (through its symlink) and its live store."""
    out = b""
    for folder in folders:
        for p in Path(folder).resolve().rglob("*"):
            if p.is_file():
                out += p.read_bytes()
    return out


# ------------------------------------------------------------------------- rows read are the records
def forms_lines(n: int) -> list[str]:
    return [f"f{i},voting,AA,good,fine\n" for i in range(1, n + 1)]


def test_unbalanced_quote_is_refused_naming_the_line(tmp_path, geojson):
    lines = forms_lines(100)
    lines[10] = 'f11,voting,AA,good,"he said stop\n'  # file line 12 opens a quote ...
    lines[20] = 'f21,voting,AA,good,queue" long\n'  # ... a stray quote on line 22 closes it, 10 forms swallowed
    path = tmp_path / "quote.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match=r"line 12 opens a quote in column comments that closes only on line 22") as exc:
        read_table(path)
    assert str(path) in str(exc.value) and len(str(exc.value).splitlines()) == 1
    out = tmp_path / "out"
    proc = run_cli("import", "--boundaries", str(geojson), "--forms", str(path), "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("obsmap:")]
    assert len(errors) == 1 and "line 12 opens a quote" in errors[0]
    assert not out.exists()


def test_quote_never_closed_is_refused_naming_the_line(tmp_path):
    lines = forms_lines(5)
    lines[2] = 'f3,voting,AA,good,"never closed\n'
    path = tmp_path / "open.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match=r"line 4 opens a quote that is never closed"):
        read_table(path)


def test_legit_multiline_comment_imports_and_rows_are_file_lines(tmp_path, geojson):
    text = HEADER + 'm1,voting,AA,good,"Queue long,\nno ink at desk 2"\nm2,voting,BB,bad,ok\n\nm3,voting,AA,,"a ""quoted"" word"\n'
    path = tmp_path / "multi.csv"
    path.write_text(text, encoding="utf-8")
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (3, 3, 0)
    f = result.mission.forms.set_index("form_id")
    assert f.loc["m1", "comments"] == "Queue long,\nno ink at desk 2"
    assert f.loc["m3", "comments"] == 'a "quoted" word'
    # Rows are named by the line where they start: m2 on line 4, m3 on line 6 (after a blank line).
    read = read_forms(path)
    assert read.rows.set_index("form_id")["_row"].to_dict() == {"m1": 2, "m2": 4, "m3": 6}


# ------------------------------------------------------------------------------------------ encodings
def test_utf8_with_one_bad_byte_stays_utf8_and_names_the_line(tmp_path, geojson):
    text = (
        "form_id,form_type,region_code,overall,comments\n"
        "r1,voting,AA,плохо,Давление на студентов\n"
        "r2,voting,BB,хорошо,ОЧЕРЕДЬ\n"
        "r3,voting,AA,очень плохо,сломано\n"
    )
    data = text.encode("utf-8").replace("ОЧЕРЕДЬ".encode(), "ОЧЕ".encode() + b"\xff" + "РЕДЬ".encode())
    path = tmp_path / "bad_byte.csv"
    path.write_bytes(data)
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (3, 3, 0)
    f = result.mission.forms.set_index("form_id")
    assert f["overall"].astype("string").tolist() == ["bad", "good", "very bad"]
    assert f.loc["r1", "comments"] == "Давление на студентов"
    assert f.loc["r2", "comments"] == "ОЧЕ\ufffdРЕДЬ"
    notes = [w for w in result.report["warnings"] if "not valid UTF-8" in w]
    assert len(notes) == 1 and "1 byte(s)" in notes[0] and "line(s) 3 " in notes[0] and "comments" in notes[0]
    assert not any("CP1251" in w for w in result.report["warnings"])


def test_real_cp1251_file_is_read_as_cp1251_and_said_so(tmp_path, geojson):
    text = "form_id;form_type;region_code;overall;comments\nc1;voting;AA;плохо;Давление\nc2;voting;BB;хорошо;Нет бюллетеней\n"
    path = tmp_path / "cp.csv"
    path.write_bytes(text.encode("cp1251"))
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (2, 2, 0)
    f = result.mission.forms.set_index("form_id")
    assert f["overall"].astype("string").tolist() == ["bad", "good"] and f.loc["c2", "comments"] == "Нет бюллетеней"
    assert any("read as CP1251" in w for w in result.report["warnings"])


def test_utf16_with_bom_still_accepted(tmp_path, geojson):
    path = tmp_path / "u16.txt"
    path.write_text("form_id\tform_type\tregion_code\toverall\r\nu1\tvoting\tAA\tплохо\r\n", encoding="utf-16", newline="")
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (1, 1, 0) and result.mission.forms["overall"].astype("string").tolist() == ["bad"]


# ----------------------------------------------------------------------------------------------- XLSX
def cache_values(path: Path, cached: dict[str, str]) -> None:
    """Write the values Excel would have calculated into openpyxl's formula cells (openpyxl writes none)."""
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in cached.items():
        xml, n = re.subn(rf'<c r="{ref}"><f>(.*?)</f><v></v></c>', rf'<c r="{ref}" t="str"><f>\1</f><v>{value}</v></c>', xml)
        assert n == 1, ref
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def formula_book(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "forms"
    ws.append(["form_id", "form_type", "region_code", "overall"])
    ws.append(['="x"&"1"', "voting", "AA", "=1+2"])
    ws.append(["x2", "voting", "BB", "good"])
    wb.save(path)


def test_xlsx_formulas_read_from_their_cached_values(tmp_path, geojson):
    path = tmp_path / "calc.xlsx"
    formula_book(path)
    cache_values(path, {"A2": "x1", "D2": "3"})
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (2, 2, 0)
    f = result.mission.forms.set_index("form_id")
    assert f.index.tolist() == ["x1", "x2"] and f["overall"].astype("string").tolist() == ["bad", "good"]  # 3 on the 1-4 scale


def test_xlsx_formulas_never_calculated_are_refused_naming_the_cells(tmp_path, geojson):
    path = tmp_path / "uncalc.xlsx"
    formula_book(path)
    with pytest.raises(InputError, match=r"sheet 'forms' has formulas without a calculated value \(A2, D2\)"):
        read_table(path)
    proc = run_cli("import", "--boundaries", str(geojson), "--forms", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "A2, D2" in proc.stderr


def test_xlsx_hidden_first_sheet_and_merged_cells(tmp_path, geojson):
    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "old draft"
    old.append(["form_id", "form_type", "region_code"])
    old.append(["draft1", "voting", "AA"])
    old.sheet_state = "hidden"
    ws = wb.create_sheet("forms")
    ws.append(["form_id", "form_type", "region_code", "overall"])
    for row in (["h1", "voting", "AA", "good"], ["h2", "voting", None, "bad"], ["h3", "counting", "BB", "good"]):
        ws.append(row)
    ws.merge_cells("C2:C3")  # region AA written once for two forms
    path = tmp_path / "hidden.xlsx"
    wb.save(path)
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (3, 3, 0)
    f = result.mission.forms.set_index("form_id")
    assert f["region_code"].to_dict() == {"h1": "AA", "h2": "AA", "h3": "BB"}
    warnings = result.report["warnings"]
    assert any("hidden sheet(s) 'old draft' not read" in w and "'forms'" in w for w in warnings)
    assert any("merged cells C2:C3" in w for w in warnings)


# --------------------------------------------------------------------------------------- silent drops
def test_two_overall_columns_are_refused_naming_both(tmp_path, geojson):
    path = tmp_path / "dup.csv"
    path.write_text("form_id,form_type,overall,region_code,overall\nd1,voting,good,AA,bad\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"columns C and E are both named 'overall'"):
        read_table(path)
    proc = run_cli("import", "--boundaries", str(geojson), "--forms", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "columns C and E are both named 'overall'" in proc.stderr


def test_two_group_columns_giving_overall_are_refused_or_chosen_by_mapping(tmp_path, geojson):
    path = tmp_path / "groups.csv"
    path.write_text("form_id,form_type,region_code,g1/overall,g2/overall\ng1,voting,AA,good,bad\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"columns 'g1/overall' and 'g2/overall' both give overall"):
        read_forms(path)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\n"g2/overall" = "overall"\n', encoding="utf-8")
    result = import_mission(geojson, [path], tmp_path / "out", mapping=mapping)
    assert result.mission.forms["overall"].astype("string").tolist() == ["bad"]
    assert result.report["files"][0]["ignored_columns"] == ["g1/overall"]


def test_repeated_header_that_feeds_nothing_is_renamed_and_said(tmp_path, geojson):
    path = tmp_path / "notes.csv"
    path.write_text("form_id,form_type,region_code,note,note\nn1,voting,AA,a,b\n", encoding="utf-8")
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (1, 1, 0)
    assert any("column E repeats the header 'note' of column D" in w for w in result.report["warnings"])
    assert set(result.report["files"][0]["ignored_columns"]) == {"note", "note (E)"}


def test_nul_bytes_are_stripped_counted_and_reported(tmp_path, geojson):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"form_id,form_type,region_code,comments\nn\x001,voting,AA,ok\x00\x00\nn2,voting,BB,bell\x07 rang\n")
    result = import_mission(geojson, [path], tmp_path / "out")
    assert counts(result.report) == (2, 2, 0)
    f = result.mission.forms.set_index("form_id")
    assert f.index.tolist() == ["n1", "n2"] and f["comments"].tolist() == ["ok", "bell rang"]
    notes = [w for w in result.report["warnings"] if "control character(s)" in w]
    assert len(notes) == 1 and "4 control character(s)" in notes[0] and "line(s) 2, 3" in notes[0]
    text_files = [p for p in (tmp_path / "out").resolve().rglob("*") if p.suffix in (".csv", ".json")]
    assert text_files and not any(b"\x00" in p.read_bytes() for p in text_files)


def test_mostly_nul_file_is_still_refused_as_binary(tmp_path):
    path = tmp_path / "utf16_no_bom.csv"
    path.write_bytes("form_id,form_type\n1,voting\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="found binary data"):
        read_table(path)


def test_personal_columns_in_forms_and_teams_never_reach_the_mission_folder(tmp_path, geojson):
    forms = tmp_path / "forms.csv"
    forms.write_text(
        "form_id,form_type,region_code,overall,team_id,observer_name,Observer Phone,grp/email,leaderName,comments\n"
        "p1,voting,AA,good,T1,Aigerim Nurlanovna,+77011234567,aigerim@example.org,Bolat Sultanov,fine\n"
        "p2,voting,AA,terrible,T1,Aigerim Nurlanovna,+77011234567,aigerim@example.org,Bolat Sultanov,\n",
        encoding="utf-8",
    )
    teams = tmp_path / "teams.csv"
    teams.write_text(
        "team_id,observer_org,observers,countries,leader_name,leader_phone,team_name\nT1,ODIHR,2,FR;DE,Jean Dupont,+33612345678,Alpha\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = import_mission(geojson, [forms], out, teams=teams)
    assert counts(result.report) == (2, 1, 1)  # p2 set aside (overall), its original values kept without the personal ones
    warnings = result.report["warnings"]
    forms_line = [w for w in warnings if w.startswith(str(forms)) and "look personal" in w]
    teams_line = [w for w in warnings if w.startswith(str(teams)) and "look personal" in w]
    assert len(forms_line) == 1 and "observer_name, Observer Phone, grp/email, leaderName" in forms_line[0]
    assert len(teams_line) == 1 and "leader_name, leader_phone" in teams_line[0]
    assert {"observer_name", "Observer Phone", "grp/email", "leaderName"} <= set(result.report["files"][0]["ignored_columns"])
    written = pd.read_csv(out / "teams.csv", dtype=str)
    assert written.columns.tolist() == ["team_id", "observer_org", "observers", "countries", "team_name"]
    assert (tmp_path / ".out-store").is_dir()  # the live store beside the folder is checked too
    everything = every_file_bytes(out, tmp_path / ".out-store")
    for value in ("Aigerim", "Nurlanovna", "77011234567", "aigerim@example.org", "Bolat", "Jean Dupont", "33612345678"):
        assert value.encode() not in everything, value
    assert b"terrible" in everything  # the set-aside row itself is kept


@pytest.mark.parametrize(
    ("column", "personal"),
    [
        ("leader_name", True),
        ("leader_phone", True),
        ("observer1_name", True),
        ("Mobile", True),
        ("passport_no", True),
        ("ФИО наблюдателя", True),
        ("visit/observer_org", False),
        ("observers", False),
        ("region_name", False),
        ("station_name", False),
        ("team_name", False),
        ("comments", False),
        ("form_type", False),
    ],
)
def test_what_looks_personal(column, personal):
    assert looks_personal(column) is personal
