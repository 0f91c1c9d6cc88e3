"""A user's files are never deleted or moved, and a mission is not replaced by nothing."""

import geopandas as gpd
import pytest

from geo.errors import InputError
from geo.importer import import_lock, import_mission
from geo.mission import load_mission
from tests.conftest import two_regions

GOOD = "form_id,form_type,latitude,longitude,overall\n1,voting,0.5,0.5,good\n2,voting,0.5,1.5,bad\n3,voting,0.2,1.2,good\n"


@pytest.fixture()
def bounds(tmp_path):
    path = tmp_path / "adm1.geojson"
    gpd.GeoDataFrame(two_regions()).to_file(path)
    return path


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_inputs_inside_the_output_survive_a_re_import(tmp_path, bounds):
    out = tmp_path / "mission"
    first = tmp_path / "first.csv"
    first.write_text(GOOD, encoding="utf-8")
    import_mission(bounds, [first], out)
    (out / "raw").mkdir()
    raw = out / "raw" / "kobo.csv"
    raw.write_text(GOOD, encoding="utf-8")
    import_mission(bounds, [raw], out)
    assert raw.read_text(encoding="utf-8") == GOOD  # the export the user keeps in the mission folder is still there


def test_a_second_import_into_the_same_folder_meanwhile_is_refused(tmp_path, bounds):
    forms = tmp_path / "f.csv"
    forms.write_text(GOOD, encoding="utf-8")
    with import_lock(tmp_path / "mission"), pytest.raises(InputError, match="another import into this folder is running"):
        import_mission(bounds, [forms], tmp_path / "mission")
    assert len(import_mission(bounds, [forms], tmp_path / "mission").mission.forms) == 3  # the lock is released after


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("form_id,form_type,latitude,longitude,overall\n", "the forms files hold a header and no rows"),
        (
            "form_id,form_type,latitude,longitude,overall\n1,voting,0.5,0.5,good\n2,voting,1.5,0.5,bad\n3,voting,1.2,0.2,good\n",
            r"latitude and longitude look swapped \(2 of 2 rows",
        ),
        (
            "form_id,form_type,latitude,longitude,overall\n1,voting,5530000,7330000,good\n2,voting,5540000,7340000,good\n",
            "like metres of a projected CRS",
        ),
    ],
)
def test_a_mission_is_not_replaced_by_nothing_and_the_cause_is_named(tmp_path, bounds, csv, message):
    out = tmp_path / "mission"
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    import_mission(bounds, [good], out)
    before = _files(out)
    bad = tmp_path / "bad.csv"
    bad.write_text(csv, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        import_mission(bounds, [bad], out)
    assert _files(out) == before and len(load_mission(out).forms) == 3


def test_force_imports_what_there_is(tmp_path, bounds):
    out = tmp_path / "mission"
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    import_mission(bounds, [good], out)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "form_id,form_type,latitude,longitude,overall\n4,voting,1.5,0.5,good\n5,voting,0.5,0.5,bad\n6,voting,9,9,good\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="would keep only 1 of 3 rows"):
        import_mission(bounds, [bad], out)
    forced = import_mission(bounds, [bad], out, force=True)
    assert forced.report["accepted"] == 1 and sorted(forced.mission.forms.form_id) == ["1", "2", "3", "5"]


def test_a_report_into_a_missing_folder_is_refused_before_anything_changes(tmp_path, bounds):
    out = tmp_path / "mission"
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    import_mission(bounds, [good], out)
    before = _files(out)
    with pytest.raises(InputError, match="its folder does not exist"):
        import_mission(bounds, [good], out, report_path=tmp_path / "nowhere" / "report.json")
    assert _files(out) == before


def test_out_on_a_file_or_the_working_folder_is_refused(tmp_path, bounds, monkeypatch):
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    note = tmp_path / "thesis.txt"
    note.write_text("chapter 1", encoding="utf-8")
    with pytest.raises(InputError, match="is a file, not a mission folder"):
        import_mission(bounds, [good], note)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="is not a mission folder"):
        import_mission(bounds, [good], ".")
    assert note.read_text(encoding="utf-8") == "chapter 1" and good.read_text(encoding="utf-8") == GOOD


def test_stated_limits_end_in_one_sentence(tmp_path, bounds, monkeypatch):
    import geo.boundaries
    import geo.importer

    forms = tmp_path / "f.csv"
    forms.write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(geo.boundaries, "MAX_FEATURES", 1)
    with pytest.raises(InputError, match=r"has 2 features; obsmap reads at most 1 regions"):
        import_mission(bounds, [forms], tmp_path / "m")
    monkeypatch.setattr(geo.boundaries, "MAX_FEATURES", 100)
    monkeypatch.setattr(geo.boundaries, "MAX_VERTICES", 5)
    with pytest.raises(InputError, match=r"has 10 vertices; obsmap reads at most 5"):
        import_mission(bounds, [forms], tmp_path / "m")
    monkeypatch.setattr(geo.boundaries, "MAX_VERTICES", 1000)
    monkeypatch.setattr(geo.importer, "MAX_FORM_FILE_BYTES", 10)
    with pytest.raises(InputError, match=r"obsmap reads forms files of at most"):
        import_mission(bounds, [forms], tmp_path / "m")


def test_a_refused_import_leaves_nothing_beside_the_folder(tmp_path, bounds):
    bad = tmp_path / "bad.csv"
    bad.write_text("form_id,form_type,latitude,longitude,overall\n", encoding="utf-8")
    with pytest.raises(InputError, match="a header and no rows"):
        import_mission(bounds, [bad], tmp_path / "mission")
    assert not (tmp_path / "mission").exists() and not (tmp_path / ".mission-store").exists()
