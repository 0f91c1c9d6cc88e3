"""A corpus of hostile and careless inputs to `obsmap import`, each with the outcome a user should get.

    python -m tests.geo.hostile_corpus DIR      # writes every case's files into DIR/<case>/ (nothing large is committed)

Each case builds its own small files in a folder and says what must happen: the exit code, the one
sentence on stderr (a regular expression), the rows read / accepted / set aside when it imports, and
whether a mission that was there before must be left exactly as it was. ``tests/geo/test_hostile_corpus.py``
runs every case through the command line and checks it, and that no file the user owns is touched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

HEADER = "form_id,form_type,observed_at,latitude,longitude,overall,comments\n"
GOOD_ROWS = [
    "1,voting,2005-12-04T09:00,0.5,0.5,good,",
    "2,voting,2005-12-04T10:00,0.5,1.5,bad,",
    "3,counting,2005-12-04T20:00,0.4,0.6,very bad,",
    "4,counting,2005-12-04T21:00,0.6,1.4,good,",
]


@dataclass
class Case:
    name: str
    args: list[str]  # after `obsmap import`; {dir} is the case's folder
    code: int  # exit code
    message: str = ""  # a regular expression the `obsmap:` line matches (refusals)
    counts: tuple[int, int, int] | None = None  # read, accepted, set aside (imports)
    reason: str | None = None  # a set-aside reason that must appear
    previous: bool = False  # a mission is imported first, and must be intact after a refusal
    user_files: dict[str, str] = field(default_factory=dict)  # files the user owns, which must be left as they were


def regions(folder: Path, name: str = "regions.geojson", crs: int | None = 4326) -> Path:
    path = folder / name
    gdf = gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=crs)
    gdf.to_file(path)
    return path


def write(folder: Path, name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding)
    return path


def forms(rows: list[str]) -> str:
    return HEADER + "\n".join(rows) + "\n"


BUILDERS: dict[str, Callable[[Path], Case]] = {}


def case(build: Callable[[Path], Case]) -> Callable[[Path], Case]:
    BUILDERS[build.__name__] = build
    return build


def _import(folder: Path, forms_file: str = "forms.csv", out: str = "mission", *extra: str) -> list[str]:
    return ["--boundaries", str(folder / "regions.geojson"), "--forms", str(folder / forms_file), "--out", str(folder / out), *extra]


@case
def out_is_a_folder_of_other_files(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    write(d, "mission/thesis.txt", "chapter 1")
    return Case("out_is_a_folder_of_other_files", _import(d), 2, "is not a mission folder", user_files={"mission/thesis.txt": "chapter 1"})


@case
def out_is_a_file(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    write(d, "mission", "my notes")
    return Case("out_is_a_file", _import(d), 2, "is a file, not a mission folder", user_files={"mission": "my notes"})


@case
def forms_inside_the_output(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    text = forms(GOOD_ROWS[:3])
    args = ["--boundaries", str(d / "regions.geojson"), "--forms", str(d / "mission/raw/kobo.csv"), "--out", str(d / "mission")]
    # The raw export lives in the mission folder; a mission is imported first, then the raw file is written there.
    return Case("forms_inside_the_output", args, 0, counts=(3, 3, 0), previous=True, user_files={"mission/raw/kobo.csv": text})


@case
def years_out_of_the_window(d: Path) -> Case:
    regions(d)
    odd = [f"{9 + i},voting,{y}-12-04T09:00,0.5,0.5,good," for i, y in enumerate(("0005", "2050", "0001", "9999", "2262"))]
    write(d, "forms.csv", forms(GOOD_ROWS + odd))
    return Case("years_out_of_the_window", _import(d), 0, counts=(9, 4, 5), reason="observed_at outside the election window")


@case
def a_date_without_a_time(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms([*GOOD_ROWS, "9,voting,2005-12-04,0.5,0.5,good,"]))
    return Case("a_date_without_a_time", _import(d), 0, counts=(5, 4, 1), reason="observed_at has a date but no time")


@case
def an_offset_among_naive_times(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms([*GOOD_ROWS, "9,voting,2005-12-04T11:00+06,0.5,0.5,good,"]))
    return Case("an_offset_among_naive_times", _import(d), 0, counts=(5, 5, 0))


@case
def an_unbalanced_quote(d: Path) -> Case:
    regions(d)
    rows = [
        *GOOD_ROWS[:2],
        '5,voting,2005-12-04T09:00,0.5,0.5,good,"an open quote',
        *[f"{10 + i},voting,2005-12-04T09:00,0.5,0.5,good," for i in range(8)],
    ]
    write(d, "forms.csv", forms(rows))
    return Case("an_unbalanced_quote", _import(d), 2, r"line 4 opens a quote", previous=False)


@case
def one_bad_byte_in_russian_utf8(d: Path) -> Case:
    regions(d)
    text = forms([*GOOD_ROWS[:2], "7,voting,2005-12-04T09:00,0.5,0.5,плохо,Наблюдатели видели"]).encode("utf-8")
    write(d, "forms.csv", text.replace("видели".encode(), b"\xff" + "видели".encode()))
    return Case("one_bad_byte_in_russian_utf8", _import(d), 0, counts=(3, 3, 0))


@case
def cp1251_file(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms([*GOOD_ROWS[:2], "7,voting,2005-12-04T09:00,0.5,0.5,плохо,Всё спокойно"]), encoding="cp1251")
    return Case("cp1251_file", _import(d), 0, counts=(3, 3, 0))


@case
def xlsx_formulas_without_values(d: Path) -> Case:
    from openpyxl import Workbook

    regions(d)
    book = Workbook()
    sheet = book.active
    sheet.append(["form_id", "form_type", "latitude", "longitude", "overall"])
    sheet.append(["=1+1", "voting", 0.5, 0.5, "good"])
    book.save(d / "forms.xlsx")  # openpyxl writes no cached value for a formula
    return Case("xlsx_formulas_without_values", _import(d, "forms.xlsx"), 2, "formulas without a calculated value")


@case
def xlsx_declaring_a_million_rows(d: Path) -> Case:
    """A 6 KB spreadsheet with fifty forms and one styled cell at row 1,000,000, column 200: read in a blink, not minutes."""
    from openpyxl import Workbook

    regions(d)
    book = Workbook()
    sheet = book.active
    sheet.append(["form_id", "form_type", "latitude", "longitude", "overall"])
    for i in range(50):
        sheet.append([str(i), "voting", 0.5, 0.5, "good"])
    sheet.cell(row=1_000_000, column=200).number_format = "0.00"
    book.save(d / "forms.xlsx")
    return Case("xlsx_declaring_a_million_rows", _import(d, "forms.xlsx"), 0, counts=(50, 50, 0))


@case
def xlsx_with_a_huge_merge(d: Path) -> Case:
    """Merged cells spanning the whole sheet: refused before a spreadsheet library expands them into gigabytes."""
    import zipfile

    from openpyxl import Workbook

    regions(d)
    book = Workbook()
    sheet = book.active
    sheet.append(["form_id", "form_type", "latitude", "longitude", "overall"])
    sheet.append(["1", "voting", 0.5, 0.5, "good"])
    sheet.merge_cells("F2:G3")
    book.save(d / "small.xlsx")
    with zipfile.ZipFile(d / "small.xlsx") as src, zipfile.ZipFile(d / "forms.xlsx", "w") as out:
        for item in src.infolist():  # the huge range written into the XML, as another program would
            data = src.read(item.filename)
            out.writestr(item, data.replace(b'ref="F2:G3"', b'ref="A3:XFD1048576"') if item.filename.endswith("sheet1.xml") else data)
    return Case("xlsx_with_a_huge_merge", _import(d, "forms.xlsx"), 2, r"merges A3:XFD1048576")


@case
def report_onto_the_forms_file(d: Path) -> Case:
    regions(d)
    text = forms(GOOD_ROWS)
    write(d, "forms.csv", text)
    return Case(
        "report_onto_the_forms_file",
        [*_import(d), "--report", str(d / "forms.csv")],
        2,
        "is one of the import's own input files",
        user_files={"forms.csv": text},
    )


@case
def a_one_digit_hour(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms([*GOOD_ROWS, "9,voting,2005-12-04 9:00,0.5,0.5,good,"]))
    return Case("a_one_digit_hour", _import(d), 0, counts=(5, 5, 0))


@case
def one_tool_id_for_several_forms(d: Path) -> Case:
    """Distinct form_ids sharing one _uuid (a copy-paste in a spreadsheet): every accepted form is served."""
    regions(d)
    rows = "form_id,_uuid,form_type,latitude,longitude,overall\n" + "".join(f"F{i},same-uuid,voting,0.5,0.5,good\n" for i in range(4))
    write(d, "forms.csv", rows)
    return Case("one_tool_id_for_several_forms", _import(d), 0, counts=(4, 4, 0))


@case
def boundaries_with_a_null_and_an_empty_geometry(d: Path) -> Case:
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    other = {"type": "Polygon", "coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]}
    features = [
        {"type": "Feature", "properties": {"code": "AA", "name": "Alpha"}, "geometry": square},
        {"type": "Feature", "properties": {"code": "BB", "name": "Beta"}, "geometry": other},
        {"type": "Feature", "properties": {"code": "CC", "name": "Gamma"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "DD", "name": "Delta"}, "geometry": {"type": "Polygon", "coordinates": []}},
    ]
    write(d, "regions.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    write(d, "forms.csv", forms(GOOD_ROWS))
    return Case("boundaries_with_a_null_and_an_empty_geometry", _import(d), 0, counts=(4, 4, 0))


@case
def mapping_columns_not_a_table(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    write(d, "mapping.toml", 'columns = "ID"\n')
    return Case("mapping_columns_not_a_table", [*_import(d), "--mapping", str(d / "mapping.toml")], 2, r"\[columns\] must be a table")


@case
def mapping_values_not_a_table(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    write(d, "mapping.toml", "values = 3\n")
    return Case("mapping_values_not_a_table", [*_import(d), "--mapping", str(d / "mapping.toml")], 2, r"\[values\] must hold one table")


@case
def report_into_a_missing_folder(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    args = [*_import(d), "--report", str(d / "nowhere/report.json")]
    return Case("report_into_a_missing_folder", args, 2, "its folder does not exist", previous=True)


@case
def boundaries_in_metres_without_a_crs(d: Path) -> Case:
    gdf = gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["A", "B"]}, geometry=[box(0, 0, 1e5, 1e5), box(1e5, 0, 2e5, 1e5)])
    write(d, "regions.geojson", gdf.to_json())  # metres, and no CRS said
    write(d, "forms.csv", forms(GOOD_ROWS))
    return Case("boundaries_in_metres_without_a_crs", _import(d), 2, "not longitude/latitude degrees", previous=False)


@case
def latitude_and_longitude_swapped(d: Path) -> Case:
    regions(d)
    swapped = [
        "1,voting,2005-12-04T09:00,0.5,0.5,good,",
        "2,voting,2005-12-04T10:00,1.5,0.5,bad,",
        "3,voting,2005-12-04T11:00,1.4,0.6,bad,",
        "4,voting,2005-12-04T12:00,1.6,0.4,good,",
    ]
    write(d, "forms.csv", forms(swapped))
    return Case("latitude_and_longitude_swapped", _import(d), 2, "latitude and longitude look swapped", previous=True)


@case
def header_only(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", HEADER)
    return Case("header_only", _import(d), 2, "a header and no rows", previous=True)


@case
def a_second_overall_column(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", "form_id,form_type,latitude,longitude,overall,overall\n1,voting,0.5,0.5,good,bad\n")
    return Case("a_second_overall_column", _import(d), 2, "both named 'overall'")


@case
def nul_bytes_in_ids_and_comments(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms([*GOOD_ROWS[:3], "7\x00,voting,2005-12-04T09:00,0.5,0.5,good,see\x00 me"]))
    return Case("nul_bytes_in_ids_and_comments", _import(d), 0, counts=(4, 4, 0))


@case
def team_leaders_names_and_phones(d: Path) -> Case:
    regions(d)
    write(d, "forms.csv", forms(GOOD_ROWS))
    write(d, "teams.csv", "team_id,observer_org,leader_name,leader_phone\nT1,ODIHR,Ivan Petrov,+7 701 555 0101\n")
    return Case("team_leaders_names_and_phones", [*_import(d), "--teams", str(d / "teams.csv")], 0, counts=(4, 4, 0))


def build(folder: Path) -> list[Case]:
    """Every case's files, each in ``folder/<case>/``."""
    cases = []
    for name, builder in BUILDERS.items():
        here = folder / name
        here.mkdir(parents=True, exist_ok=True)
        cases.append(builder(here))
    return cases


if __name__ == "__main__":
    for built in build(Path(sys.argv[1])):
        print(f"{built.name}: exit {built.code} {built.message or built.counts}")
