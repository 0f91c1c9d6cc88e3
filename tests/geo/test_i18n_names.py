"""Region names and the mission's own texts per language (issue 15): kept from the boundary file, shown in the language
of the moment, English (the file's own names, mission.json's own texts) wherever no translation is given."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from geo.boundaries import load_boundaries, split_name_columns
from geo.errors import InputError, MissionDataError
from geo.i18n import use
from geo.importer import import_mission
from geo.mission import load_mission
from tests.conftest import DEMO

CYRILLIC = re.compile("[А-Яа-яЁё]")
FORMS = "form_id,form_type,observed_at,latitude,longitude\n1,voting,2005-12-04T10:00,0.5,0.5\n2,voting,2005-12-04T11:00,0.5,1.5\n"


def squares(path: Path, columns: dict[str, list]) -> Path:
    """Two unit squares (AA at lon 0..1, BB at 1..2, CC at 2..3 when three are given) with ``columns``."""
    n = len(next(iter(columns.values())))
    gpd.GeoDataFrame(columns, geometry=[box(i, 0, i + 1, 1) for i in range(n)], crs=4326).to_file(path, driver="GeoJSON")
    return path


def forms(tmp_path: Path) -> Path:
    path = tmp_path / "forms.csv"
    path.write_text(FORMS, encoding="utf-8")
    return path


def test_natural_earth_name_ru_is_kept_and_shown_in_russian(tmp_path):
    ne = squares(
        tmp_path / "ne.geojson",
        {"iso_3166_2": ["AA", "BB", "CC"], "name": ["Akmola", "Aktobe", "Atyrau"], "name_ru": ["Акмолинская", "Актюбинская", ""]},
    )
    b = load_boundaries(ne)
    assert b.name_columns == {"ru": "name_ru"}
    assert b.regions["name_ru"].tolist()[:2] == ["Акмолинская", "Актюбинская"]
    # A feature without a Russian name: one sentence, and its own name shown there.
    assert any("column 'name_ru', the names in ru, is empty for feature(s) 3 (CC)" in n for n in b.notes)
    mission = import_mission(ne, [forms(tmp_path)], tmp_path / "out").mission
    assert mission.region_names == {"AA": "Akmola", "BB": "Aktobe", "CC": "Atyrau"}
    with use("ru"):
        assert mission.region_names == {"AA": "Акмолинская", "BB": "Актюбинская", "CC": "Atyrau"}
    assert mission.region_names["AA"] == "Akmola"  # back in English outside the block
    stored = gpd.read_parquet(tmp_path / "out" / "boundaries.parquet")
    assert list(stored.columns) == ["code", "name", "name_ru", "geometry"]
    props = [f["properties"] for f in json.loads((tmp_path / "out" / "regions.geojson").read_text())["features"]]
    assert [p.get("name_ru") for p in props] == ["Акмолинская", "Актюбинская", None]


def test_ocha_adm1_ru_is_found_and_russian_names_locate_forms(tmp_path):
    ocha = squares(
        tmp_path / "ocha.geojson",
        {"ADM1_PCODE": ["KZ01", "KZ02"], "ADM1_EN": ["Akmola", "Aktobe"], "ADM1_RU": ["Акмолинская", "Актюбинская"]},
    )
    b = load_boundaries(ocha)
    assert (b.code_column, b.name_column, b.name_columns) == ("ADM1_PCODE", "ADM1_EN", {"ru": "ADM1_RU"})
    located = tmp_path / "named.csv"
    located.write_text("form_id,form_type,observed_at,region_code\n1,voting,2005-12-04T10:00,актюбинская\n", encoding="utf-8")
    result = import_mission(ocha, [located], tmp_path / "out")
    assert result.mission.forms["region_code"].tolist() == ["KZ02"]  # a form may name its region in Russian
    assert result.report["boundaries"]["name_columns"] == {"ru": "ADM1_RU"}
    with use("ru"):
        assert result.mission.region_names == {"KZ01": "Акмолинская", "KZ02": "Актюбинская"}


def test_name_column_per_language_given_explicitly(tmp_path):
    path = squares(tmp_path / "gb.geojson", {"shapeISO": ["AA", "BB"], "shapeName": ["Alpha", "Beta"], "russian": ["Альфа", "Бета"]})
    assert load_boundaries(path).name_columns == {}  # no column of a known pattern
    b = load_boundaries(path, name_column=["ru=russian"])
    assert (b.name_column, b.name_columns) == ("shapeName", {"ru": "russian"})
    result = import_mission(path, [forms(tmp_path)], tmp_path / "out", name_column=["shapeName", "ru=russian"])
    with use("ru"):
        assert result.mission.region_names == {"AA": "Альфа", "BB": "Бета"}
    assert load_boundaries(path, name_columns={"ru": "russian"}).regions["name_ru"].tolist() == ["Альфа", "Бета"]
    assert split_name_columns(["en=shapeName", "RU = russian"]) == ("shapeName", {"ru": "russian"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["ru=ADM1_RU"], "{path}: no column 'ADM1_RU' (given with --name-column ru=ADM1_RU); the file has shapeISO, shapeName, russian."),
        (["xx=russian"], "--name-column xx=russian: xx is not a language obsmap speaks; it speaks en, ru."),
        (["ru=russian", "ru=shapeName"], "--name-column ru=shapeName: the names in ru are given twice; give one column per language."),
    ],
)
def test_bad_name_column_is_one_sentence(tmp_path, given, message):
    path = squares(tmp_path / "gb.geojson", {"shapeISO": ["AA", "BB"], "shapeName": ["Alpha", "Beta"], "russian": ["Альфа", "Бета"]})
    with pytest.raises(InputError) as err:
        load_boundaries(path, name_column=given)
    assert str(err.value) == message.format(path=path)
    with use("ru"), pytest.raises(InputError) as err:
        load_boundaries(path, name_column=given)
    assert CYRILLIC.search(str(err.value)) and "\n" not in str(err.value)


def test_district_names_per_language(tmp_path):
    regions = squares(tmp_path / "adm1.geojson", {"code": ["AA", "BB"], "name": ["Alpha", "Beta"]})
    districts = squares(tmp_path / "adm2.geojson", {"ADM2_PCODE": ["AA01", "BB01"], "ADM2_EN": ["a1", "b1"], "ADM2_RU": ["а1", ""]})
    mission = import_mission(regions, [forms(tmp_path)], tmp_path / "out", districts=districts).mission
    assert mission.district_names == {"AA01": "a1", "BB01": "b1"}
    with use("ru"):
        assert mission.district_names == {"AA01": "а1", "BB01": "b1"}


# ----------------------------------------------------------------------------------------------- the demo
def test_demo_regions_in_russian():
    mission = load_mission(DEMO)
    english = dict(mission.region_names)
    with use("ru"):
        russian = mission.region_names
    assert len(russian) == 16 and list(russian) == list(english)
    for code, name in russian.items():
        assert CYRILLIC.search(name) and name != english[code], code
    assert russian["KZ-AKM"] == "Акмолинская" and russian["KZ-ALA"] == "Алматы (город)" and russian["KZ-YUZ"] == "Южно-Казахстанская"


def test_demo_texts_in_russian_and_english():
    mission = load_mission(DEMO)
    assert mission.text("name") == "Kazakhstan, presidential election, 4 December 2005 (demo)"
    assert mission.map_notes[0]["name"] == "Baikonur" and mission.sources[0].startswith("Boundaries: Natural Earth")
    with use("ru"):
        assert mission.text("name") == "Казахстан, президентские выборы, 4 декабря 2005 г. (демо)"
        assert mission.text("mission") == (
            "Миссия БДИПЧ ОБСЕ по наблюдению за выборами (совместно с ПА ОБСЕ, ПАСЕ и Европейским парламентом)"
        )
        assert CYRILLIC.search(mission.text("notice"))
        assert all(CYRILLIC.search(line) for line in mission.sources) and len(mission.sources) == 2
        (note,) = mission.map_notes
        assert note["name"] == "Байконур" and CYRILLIC.search(note["note"]) and (note["lon"], note["lat"]) == (63.384, 45.979)
        assert mission.text("data_as_of") == "2005-12-05T06:00"  # not translated: mission.json's own
        assert mission.text("no such text", "default") == "default"


def test_names_and_texts_are_built_once_per_language():
    mission = load_mission(DEMO)
    assert mission.region_names is mission.region_names
    with use("ru"):
        russian = mission.region_names
        assert mission.region_names is russian and mission.map_notes is mission.map_notes
    assert mission.region_names is not russian
    with use("ru"):
        assert mission.region_names is russian


# ---------------------------------------------------------------------------------- mission.json translations
def _demo_copy(tmp_path: Path, change) -> Path:
    folder = tmp_path / "m"
    shutil.copytree(DEMO, folder)
    meta = json.loads((folder / "mission.json").read_text(encoding="utf-8"))
    change(meta)
    (folder / "mission.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return folder


def test_a_language_without_a_text_falls_back_to_english(tmp_path):
    def only_name(meta):
        meta["translations"] = {"ru": {"name": "Миссия"}}

    mission = load_mission(_demo_copy(tmp_path, only_name))
    with use("ru"):
        assert mission.text("name") == "Миссия"
        assert mission.text("mission") == mission.meta["mission"] and mission.map_notes[0]["name"] == "Baikonur"
        assert mission.sources == mission.meta["sources"]


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        (["ru"], "'translations' should be an object of languages, like"),
        ({"russian": {"name": "x"}}, "'translations' should name each language by its code"),
        (
            {"ru": {"title": "x"}},
            "translations ru: 'title' is not a text obsmap translates; it takes name, mission, notice, sources, map_notes.",
        ),
        ({"ru": {"name": 5}}, "translations ru: 'name' should be text, found 5."),
        ({"ru": {"sources": "x"}}, "translations ru: 'sources' should be a list of text lines"),
        ({"ru": {"map_notes": [{"name": "a"}, {"name": "b"}]}}, "translations ru: 'map_notes' should be a list of 1 object(s)"),
        ({"ru": {"map_notes": [{"title": "a"}]}}, "translations ru: 'map_notes' should be a list of 1 object(s)"),
    ],
)
def test_a_bad_translations_block_is_one_sentence(tmp_path, translations, message):
    folder = _demo_copy(tmp_path, lambda meta: meta.update(translations=translations))
    with pytest.raises(MissionDataError) as err:
        load_mission(folder)
    text = str(err.value)
    assert text.startswith(f"{folder.resolve() / 'mission.json'}: ") and message in text and "\n" not in text
    with use("ru"), pytest.raises(MissionDataError) as err:
        load_mission(folder)
    assert CYRILLIC.search(str(err.value).replace(str(folder), ""))


def test_an_imports_own_texts_are_written_in_every_language(tmp_path):
    regions = squares(tmp_path / "adm1.geojson", {"code": ["AA", "BB"], "name": ["Alpha", "Beta"]})
    mission = import_mission(regions, [forms(tmp_path)], tmp_path / "out").mission
    assert mission.text("name") == "Imported mission" and mission.sources == ["Boundaries: adm1.geojson", "Forms: forms.csv"]
    with use("ru"):
        assert mission.text("name") == "Импортированная миссия"
        assert mission.sources == ["Границы: adm1.geojson", "Анкеты: forms.csv"]
    named = import_mission(regions, [forms(tmp_path)], tmp_path / "named", meta={"name": "Kazakhstan 2005"}).mission
    with use("ru"):
        assert named.text("name") == "Kazakhstan 2005"  # a name the user gave is shown as given
