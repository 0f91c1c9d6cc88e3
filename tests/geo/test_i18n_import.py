"""Issue 15, import and sync in Russian: errors, set-aside reasons, report lines and sync messages read in the language
of the command, still name the file, row, column and value, and a Russian import sets aside exactly what an English one
does, under the same stable reason keys."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError
from geo.forms_import import REASONS, read_forms, reason_code, reason_codes, reason_lines, reason_texts
from geo.i18n import use
from geo.schema import FORM_COLUMNS
from geo.values import FORM_TYPE_VALUES, OVERALL_VALUES, YES_NO_VALUES

# What a Russian sentence may still hold in Latin letters: the import contract's column names and values (names the user
# types), file-format and tool names, and values from the file itself (added per test).
ALLOWED = {
    *FORM_COLUMNS,
    *FORM_TYPE_VALUES.values(),
    *(w for v in (*OVERALL_VALUES.values(), *YES_NO_VALUES.values()) for w in v.split()),
    *["CSV", "XLSX", "TOML", "JSON", "UTF", "CP1251", "NUL", "HTTP", "https", "http", "ODK", "Central", "KoboToolbox", "obsmap"],
}

BROKEN = """form_id,form_type,region_code,latitude,longitude,overall,ballot_box_stuffing,urban_rural
ok1,voting,AA,,,good,no,urban
,voting,AA,,,good,no,
t1,lunch,AA,,,good,no,
t2,,AA,,,good,no,
o1,voting,AA,,,excellent,no,
a1,voting,AA,,,good,maybe,
g1,voting,,abc,0.5,good,no,
r1,voting,ZZ,,,good,no,town
ok2,counting,,0.5,1.5,very bad,yes,
"""


def english_words(text: str, *allowed: str) -> set[str]:
    """The Latin-letter words of ``text`` that are not allowed (contract names, formats, the given values and paths)."""
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_\-]*", text))
    return {w for w in words if w not in ALLOWED and not re.fullmatch(r"[A-Z]{1,2}\d*", w)}  # spreadsheet columns: A, AB, C3


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def regions(tmp_path) -> Path:
    path = tmp_path / "regions.geojson"
    squares = gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
    squares.to_file(path, driver="GeoJSON")
    return path


# ----------------------------------------------------------------------------------------- whole-file errors
def test_a_whole_file_error_is_one_russian_sentence_naming_the_file_and_the_columns(tmp_path):
    bad = write(tmp_path / "bad.csv", "name,phone,comment\nBob,123,x\n")
    with pytest.raises(InputError) as en:
        read_forms(bad)
    with use("ru"), pytest.raises(InputError) as ru:
        read_forms(bad)
    assert str(en.value).startswith(f"{bad}: expected the canonical columns form_id and form_type")
    text = str(ru.value)
    assert text.startswith(f"{bad}: ожидались канонические столбцы form_id и form_type") and "comment" in text
    assert english_words(text, str(bad), "--mapping", "comment") == set()


def test_a_short_line_error_names_the_line_and_counts_in_russian(tmp_path):
    bad = write(tmp_path / "long.csv", "form_id,form_type\na,voting\nb,voting,extra,more\n")
    with use("ru"), pytest.raises(InputError) as ru:
        read_forms(bad)
    assert str(ru.value) == f"{bad}: в строке 3 значений: 4, а столбцов в заголовке: 2."


def test_a_mapping_and_a_window_error_in_russian(tmp_path):
    from geo.forms_import import ElectionWindow, Mapping

    mapping = write(tmp_path / "map.toml", '[columns]\nX = "not_a_column"\n')
    with use("ru"), pytest.raises(InputError) as ru:
        Mapping.load(mapping)
    assert str(ru.value).startswith(f"{mapping}: [columns] сопоставляет столбцы с not_a_column, а это не канонические столбцы (")
    with use("ru"), pytest.raises(InputError) as ru:
        ElectionWindow.from_meta({"election_date": "soon"}, "mission.json")
    assert str(ru.value) == "mission.json: election_date 'soon' — не дата вида 2005-12-04."


# ----------------------------------------------------------------------------------------- rows set aside
def test_reasons_keep_stable_keys_and_read_in_russian_with_their_values(tmp_path):
    forms = write(tmp_path / "broken.csv", BROKEN)
    en = read_forms(forms).rows
    with use("ru"):
        ru_read = read_forms(forms)
        ru = ru_read.rows
        shown = reason_texts(ru["_reason"])
    # The same rows set aside, under the same key (the English reason) and code, whatever the language of the import.
    pd.testing.assert_series_equal(en["_reason"], ru["_reason"])
    codes = ["missing_form_id", "form_type", "form_type", "overall", "answer", "coordinates"]
    assert reason_codes(ru["_reason"]).dropna().tolist() == codes
    aside = ru["_reason"].notna()
    assert ru.loc[aside, "_row"].tolist() == [3, 4, 5, 6, 7, 8]
    # Read in Russian, each reason with no English left but the contract's names and values.
    for key, text in zip(ru.loc[aside, "_reason"], shown[aside], strict=True):
        assert text != key and re.search("[а-яё]", text), text
        assert english_words(text) == set(), text
    by_row = dict(zip(ru.loc[aside, "_row"], zip(shown[aside], ru.loc[aside, "_detail"], strict=True), strict=True))
    assert by_row[3][0] == "нет form_id"
    assert by_row[4] == ("form_type не указан или неизвестен", "form_type = lunch")
    assert by_row[5] == ("form_type не указан или неизвестен", "form_type = (пусто)")
    assert by_row[7] == ("ответ на вопрос «да/нет» не yes и не no", "ballot_box_stuffing = maybe")
    assert by_row[8][1] == "latitude, longitude = abc, 0.5"
    # English stays as it was.
    assert en.loc[en["_row"] == 5, "_detail"].item() == "form_type = (blank)"
    # The one warning of the file (urban_rural "town"), counted and in Russian.
    (warning,) = ru_read.warnings
    assert warning == f"{forms}: 1 строка, где urban_rural не urban и не rural; значение оставлено пустым."


def test_every_reason_has_a_code_and_a_russian_text():
    with use("ru"):
        for code, text in REASONS.items():
            assert reason_code(text) == code
            shown = reason_texts(pd.Series([text], dtype="string")).item()
            assert shown != text and re.search("[а-яё]", shown) and english_words(shown) == set(), shown
    assert reason_code("a sentence of an error") is None


def test_a_russian_import_sets_aside_the_same_rows_as_an_english_one(tmp_path, regions):
    from geo.importer import SET_ASIDE_FILE, import_mission

    forms = write(tmp_path / "broken.csv", BROKEN)
    en = import_mission(regions, [forms], tmp_path / "en").report
    with use("ru"):
        ru = import_mission(regions, [forms], tmp_path / "ru").report
    assert (en["read"], en["accepted"], en["set_aside"]) == (ru["read"], ru["accepted"], ru["set_aside"]) == (9, 2, 7)
    assert en["reasons"] == ru["reasons"]  # counted by the stable key, not by the words of one language
    a = pd.read_csv(tmp_path / "en" / SET_ASIDE_FILE, dtype=str)
    b = pd.read_csv(tmp_path / "ru" / SET_ASIDE_FILE, dtype=str)
    assert a[["row", "form_id"]].equals(b[["row", "form_id"]])
    if "reason_code" in a:
        assert a["reason_code"].equals(b["reason_code"])


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 строка отложена"),
        (2, "2 строки отложены"),
        (5, "5 строк отложено"),
        (11, "11 строк отложено"),
        (21, "21 строка отложена"),
        (22, "22 строки отложены"),
        (25, "25 строк отложено"),
        (101, "101 строка отложена"),
        (2834, "2\u00a0834 строки отложены"),
    ],
)
def test_report_count_lines_take_the_russian_plural(n, expected):
    with use("ru"):
        (line,) = reason_lines({REASONS["region_code"]: n})
    assert line == f"{expected}: неизвестный код региона"


def test_report_count_lines_in_english():
    assert reason_lines({REASONS["region_code"]: 1, REASONS["missing_form_id"]: 2834}) == [
        "1 row set aside: unknown region code",
        "2,834 rows set aside: missing form_id",
    ]


@pytest.mark.parametrize(("n", "word"), [(1, "ошибка"), (2, "ошибки"), (5, "ошибок"), (11, "ошибок"), (21, "ошибка"), (22, "ошибки")])
def test_sync_summary_line_in_russian(n, word):
    from geo.sync import SourceSummary

    summary = SourceSummary(new=3, updated=1, set_aside=21, errors=n)
    with use("ru"):
        line = summary.line()
    assert line == f"новых: 3, обновлено: 1, проверено: 0, удалено: 0, отложено: 21, {n} {word}"
    assert SourceSummary(new=3, errors=1).line() == "3 new, 0 updated, 0 reviewed, 0 deleted, 0 set aside, 1 error(s)"


def test_the_live_set_aside_file_reads_in_the_language_of_the_sync_with_codes(tmp_path):
    from geo.store import Store
    from geo.sync import SET_ASIDE_LIVE, _write_set_aside

    rows = [
        {"row": "v1", "reason": REASONS["region_code"], "detail": "region_code = ZZ", "original": "{}"},
        {"row": "v2", "reason": "a sentence the source gave", "detail": None, "original": "{}"},
    ]
    with Store(tmp_path / "store.sqlite") as store:
        store.ingest([], "watch:in", set_aside=rows)
        assert store.set_aside_rows()["reason"].tolist() == [REASONS["region_code"], "a sentence the source gave"]  # kept as keys
        with use("ru"):
            _write_set_aside(store, tmp_path)
    live = pd.read_csv(tmp_path / SET_ASIDE_LIVE, dtype=str, keep_default_na=False)
    assert list(live.columns[:4]) == ["source", "row", "reason_code", "reason"]
    assert live["reason"].tolist() == ["неизвестный код региона", "a sentence the source gave"]
    assert live["reason_code"].tolist() == ["region_code", ""]


# ----------------------------------------------------------------------------------------- sync
def test_a_refused_login_and_a_bad_config_are_russian_sentences(tmp_path, monkeypatch):
    from geo.sync import load_config, sync_main
    from tests.conftest import build_tiny
    from tests.sync.fakes import FakeOdk

    mission = build_tiny(tmp_path, [{"form_id": "SEED", "form_type": "voting", "region_code": "AA"}]).path
    monkeypatch.setenv("OBSMAP_ODK_EMAIL", "analyst@mission.example")
    monkeypatch.setenv("OBSMAP_ODK_PASSWORD", "s3cret-odk-pass")
    with FakeOdk("analyst@mission.example", "s3cret-odk-pass") as odk:
        odk.add_form(7, "eday_voting")
        odk.refuse_login = True
        config = mission / "sync.toml"
        config.write_text(f'[sync]\ntimeout = 0.5\nretries = 2\n[[odk]]\nurl = "{odk.url}"\nproject = 7\nforms = ["eday_voting"]\n')
        lines: list[str] = []
        with use("ru"):
            totals = sync_main(mission, progress=lines.append, sleep=lambda s: None, once=True)
    (summary,) = totals.values()
    (message,) = summary.messages
    assert message == (
        f"ODK Central {odk.url}: сервер отклонил адрес электронной почты и пароль (HTTP 401); "
        "проверьте переменные окружения OBSMAP_ODK_EMAIL/OBSMAP_ODK_PASSWORD."
    )
    assert lines[0] == f"синхронизация: 1 источник из {config}"
    assert english_words(message, odk.url, "OBSMAP_ODK_EMAIL/OBSMAP_ODK_PASSWORD") == set()

    config.write_text('[[odk]]\nurl = "https://odk.example"\nproject = "seven"\nforms = ["f"]\n')
    with use("ru"), pytest.raises(InputError) as ru:
        load_config(mission, config, environ={})
    assert str(ru.value) == f"{config}: [[odk]] #1: ключ 'project' должен быть номером проекта в ODK Central, найдено 'seven'."


def test_an_http_error_from_the_server_is_russian(tmp_path, monkeypatch):
    from geo.sync import sync_main
    from tests.conftest import build_tiny
    from tests.sync.fakes import FakeKobo

    mission = build_tiny(tmp_path, [{"form_id": "SEED", "form_type": "voting", "region_code": "AA"}]).path
    monkeypatch.setenv("OBSMAP_KOBO_TOKEN", "kobo-t0ken-abcdef0123456789")
    with FakeKobo("kobo-t0ken-abcdef0123456789") as kobo:
        kobo.add_asset("aKoBoAsset123")
        kobo.fail_next(10, status=503)
        (mission / "sync.toml").write_text(
            "[sync]\ntimeout = 0.5\nretries = 2\nbackoff_base = 0.01\nbackoff_max = 0.02\n"
            f'[[kobo]]\nurl = "{kobo.url}"\nasset = "aKoBoAsset123"\n'
        )
        with use("ru"):
            totals = sync_main(mission, progress=lambda line: None, sleep=lambda s: None, once=True)
    (summary,) = totals.values()
    assert summary.errors == 1
    (message,) = summary.messages
    assert "отказ после 2 попыток (HTTP 503); следующий раунд продолжит" in message and "(полная сверка)" in message


# ----------------------------------------------------------------------------------------- web copy
def test_web_copy_notes_read_in_russian():
    from geo.webgeom import web_feature_collection

    overlapping = gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 2, 1), box(1, 0, 3, 1)], crs=4326)
    english: list[str] = []
    web_feature_collection(overlapping, notes=english, label="regions")
    assert english[0].startswith("Web copy of the regions: they overlap one another, so they are not a coverage; each was simplified")
    russian: list[str] = []
    with use("ru"):
        web_feature_collection(overlapping, notes=russian, label="districts", budget=10)
    assert len(russian) == 2 and all(note.startswith("Веб-копия районов: ") for note in russian)
    assert "превышает бюджет (10 Б)" in russian[0] and "они перекрывают друг друга" in russian[1]
    assert all(english_words(note) == set() for note in russian), russian
