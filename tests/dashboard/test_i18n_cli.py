"""The ``obsmap`` command in Russian: ``--lang`` (before or after the command), ``$OBSMAP_LANG`` and the locale; its
messages, errors, prompts, help and counts with the Russian plural forms; ``summary --json``'s sentences in every
language; the brief. The expected Russian is written here by hand, not computed by the code under test."""

from __future__ import annotations

import getpass
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import cli
from dashboard.accounts import Throttled
from geo import i18n
from geo.i18n import use
from tests.conftest import DEMO, build_tiny

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
LOCALE_VARS = ("OBSMAP_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
COUNTS = (1, 2, 5, 11, 21, 22, 25, 101)


@pytest.fixture(autouse=True)
def english_machine(monkeypatch):
    """Whatever the developer's locale, the machine says English unless a test says otherwise."""
    for name in LOCALE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    for name in ("OBSMAP_ACCOUNTS", "OBSMAP_DATA", "OBSMAP_STORE"):
        monkeypatch.delenv(name, raising=False)


def english_words(text: str, allowed: set[str]) -> list[str]:
    """The Latin-letter words of ``text`` that are not in ``allowed`` (codes, data values, option names...)."""
    text = re.sub(r"(?:/[\w.\-]+)+/?", " ", text)  # paths
    text = re.sub(r"--[a-z-]+|\$[A-Z_]+", " ", text)  # options and variables
    return [w for w in LATIN_WORD.findall(text) if w not in allowed and w.lower() not in allowed]


def demo_name_words(*keys: str) -> set[str]:
    """The words of the mission's name (and of its other texts ``keys``), as mission.json gives them in each language:
    data values (proper names, sources), allowed in any language."""
    meta = json.loads((DEMO / "mission.json").read_text(encoding="utf-8"))
    texts = []
    for where in [meta, *(meta.get("translations") or {}).values()]:
        for key in ("name", *keys):
            value = where.get(key) or ""
            texts += value if isinstance(value, list) else [value]
    return {w for text in texts for w in LATIN_WORD.findall(text)}


# ------------------------------------------------------------------------------------------ choosing the language
def test_summary_lang_ru_prints_russian_with_no_english_left(capsys):
    assert cli.main(["summary", "--lang", "ru"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1] == "  16 регионов, 9\u00a0597 избирательных участков, 230 групп, 2\u00a0834 анкеты"
    assert len(lines) == 6 and all(CYRILLIC.search(line) for line in lines[1:]), out
    assert not english_words("\n".join(lines[1:]), {"N"} | demo_name_words()), out
    assert lines[0].strip() and not english_words(lines[0], demo_name_words())


def test_summary_in_english_by_default(capsys):
    assert cli.main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "  16 regions, 9,597 polling stations, 230 teams, 2,834 forms\n" in out and not CYRILLIC.search(out)
    assert i18n.current() == "en"


def test_lang_before_the_command_and_the_default_put_back(capsys):
    assert cli.main(["--lang", "ru", "summary"]) == 0
    assert "16 регионов" in capsys.readouterr().out
    assert i18n.current() == "en"  # the next command run in this process is not Russian by accident
    assert cli.main(["summary", "--lang=en"]) == 0
    assert "16 regions" in capsys.readouterr().out


@pytest.mark.parametrize(("variable", "value"), [("OBSMAP_LANG", "ru"), ("LANG", "ru_RU.UTF-8"), ("LC_ALL", "ru_KZ.UTF-8")])
def test_the_environment_chooses_russian(monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    assert cli.main(["summary"]) == 0
    assert "16 регионов, 9\u00a0597 избирательных участков" in capsys.readouterr().out


def test_lang_flag_wins_over_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("OBSMAP_LANG", "ru")
    assert cli.main(["summary", "--lang", "en"]) == 0
    assert "16 regions" in capsys.readouterr().out


def test_the_installed_command_speaks_the_locale():
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS} | {"LANG": "ru_RU.UTF-8"}
    out = subprocess.run([sys.executable, "-m", "dashboard.cli", "summary"], capture_output=True, text=True, env=env, check=True)
    assert "230 групп, 2\u00a0834 анкеты" in out.stdout


@pytest.mark.parametrize("argv", [["summary", "--lang", "xx"], ["--lang", "xx", "summary"], ["--lang=xx", "summary"]])
def test_an_unknown_language_is_one_sentence_naming_it_and_the_shipped_ones(capsys, argv):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("obsmap: --lang xx")
    assert "en (English)" in captured.err and "ru (Русский)" in captured.err and "Traceback" not in captured.err


def test_an_unknown_language_in_a_russian_environment_is_said_in_russian(monkeypatch, capsys):
    monkeypatch.setenv("OBSMAP_LANG", "ru")
    assert cli.main(["brief", "--lang", "fr", "--out", "x.pdf"]) == 2
    assert capsys.readouterr().err == "obsmap: --lang fr: неизвестный язык; obsmap говорит на языках: en (English), ru (Русский).\n"


def test_help_in_russian(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["summary", "--lang", "ru", "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines at the terminal's width
    assert "папка миссии (по умолчанию: $OBSMAP_DATA, иначе демонстрационная миссия)" in out
    assert "«слишком мало наблюдений» (по умолчанию 10)" in out
    assert "mission folder" not in out and "--lang CODE" in out


def test_bad_values_of_options_are_refused_in_russian(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["summary", "--lang", "ru", "--min-n", "0"])
    assert done.value.code == 2
    assert "ожидалось целое число от 1 до" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ summary --json
def test_summary_json_has_the_sentences_in_every_language(capsys):
    assert cli.main(["summary", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    by_language = summary["statements_by_language"]
    assert set(by_language) == set(i18n.languages()) >= {"en", "ru"}
    assert by_language["en"] == summary["statements"]
    assert set(by_language["ru"]) == set(summary["statements"])
    assert by_language["en"]["voting"].startswith("Voting was assessed as bad or very bad in 3 per cent of 2,231")
    assert by_language["ru"] != by_language["en"] and all(CYRILLIC.search(s) for s in by_language["ru"].values())


def test_summary_text_prints_the_sentences_in_russian(capsys):
    assert cli.main(["summary", "--lang", "ru"]) == 0
    sentences = capsys.readouterr().out.splitlines()[2:]
    assert len(sentences) == 4
    assert all(CYRILLIC.search(s) and not english_words(s, {"N"}) for s in sentences), sentences


# ------------------------------------------------------------------------------------------ plurals and numbers
RU_REGIONS = {1: "1 регион", 2: "2 региона", 5: "5 регионов", 11: "11 регионов", 21: "21 регион", 22: "22 региона", 25: "25 регионов"}
RU_REGIONS[101] = "101 регион"
RU_STATIONS = {1: "избирательный участок", 2: "избирательных участка", 5: "избирательных участков", 11: "избирательных участков"}
RU_STATIONS |= {21: "избирательный участок", 22: "избирательных участка", 25: "избирательных участков", 101: "избирательный участок"}
RU_TEAMS = {1: "группа", 2: "группы", 5: "групп", 11: "групп", 21: "группа", 22: "группы", 25: "групп", 101: "группа"}
RU_MINUTES = {1: "минуту", 2: "минуты", 5: "минут", 11: "минут", 21: "минуту", 22: "минуты", 25: "минут", 101: "минуту"}


@pytest.mark.parametrize("n", COUNTS)
def test_the_counts_line_has_the_russian_plural_forms(n):
    summary = {"regions": n, "polling_stations": n, "teams": n, "forms_total": n}
    with use("ru"):
        words = cli.count_words(summary)
    assert words[:3] == [RU_REGIONS[n], f"{n} {RU_STATIONS[n]}", f"{n} {RU_TEAMS[n]}"]
    forms = {1: "анкета", 21: "анкета", 101: "анкета", 2: "анкеты", 22: "анкеты"}.get(n, "анкет")
    assert words[3] == f"{n} {forms}"


def test_the_counts_line_in_english_and_large_numbers():
    assert cli.count_words({"regions": 1, "polling_stations": 12345, "teams": None, "forms_total": 2}) == [
        "1 region",
        "12,345 polling stations",
        "2 forms",
    ]
    with use("ru"):
        assert cli.count_words({"regions": 1234, "polling_stations": None, "teams": None, "forms_total": 0}) == [
            "1\u00a0234 региона",
            "0 анкет",
        ]


@pytest.mark.parametrize("n", COUNTS)
def test_the_sign_in_wait_has_the_russian_plural_forms(n):
    with use("ru"):
        message = str(Throttled(n * 60))
    assert message == f"Слишком много неудачных попыток входа; попробуйте снова через {n} {RU_MINUTES[n]}."
    assert str(Throttled(n * 60)).endswith(f"try again in {n} minute{'s' if n > 1 else ''}.")


# ------------------------------------------------------------------------------------------ errors and accounts
def test_a_bad_file_name_is_refused_in_russian_naming_it(tmp_path, capsys):
    out = tmp_path / "brief.txt"
    assert cli.main(["brief", "--lang", "ru", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"obsmap: {out}: ожидалось имя файла .pdf или .html.\n"


def test_a_missing_mission_folder_in_russian_names_it(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert cli.main(["summary", "--lang", "ru", "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1 and err.startswith("obsmap: ")
    assert CYRILLIC.search(err) and not english_words(
        err.replace(str(missing), ""), {"obsmap", "mission", "json", "regions", "geojson", "forms", "csv"}
    )


@pytest.fixture
def mission(tmp_path):
    return build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}]).path


def answer_prompts(monkeypatch, *answers: str) -> list[str]:
    asked, replies = [], iter(answers)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ", stream=None: asked.append(prompt) or next(replies))
    return asked


def test_accounts_in_russian_prompts_listing_and_errors(mission, monkeypatch, capsys):
    data = ("--data", str(mission))
    assert cli.main(["users", "list", "--lang", "ru", *data]) == 2
    err = capsys.readouterr().err
    assert "учётных записей ещё нет; добавьте первого администратора командой: obsmap users add NAME --role admin" in err
    assert str(mission) in err

    asked = answer_prompts(monkeypatch, "Kiwi-Tulip-9912", "Kiwi-Tulip-9912")
    assert cli.main(["users", "add", "ana", "--role", "admin", "--lang", "ru", *data]) == 0
    assert asked == ["Пароль для ana: ", "Тот же пароль ещё раз: "]
    assert capsys.readouterr().out.startswith("добавлена учётная запись ana: admin (в ")

    answer_prompts(monkeypatch, "Kiwi-Tulip-9912", "Kiwi-Tulip-0000")
    assert cli.main(["users", "add", "bob", "--role", "viewer", "--lang", "ru", *data]) == 2
    assert capsys.readouterr().err == "obsmap: Пароли не совпадают; ничего не изменено.\n"

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "bob", "--role", "viewer", "--password-stdin", "--lang", "ru", *data]) == 2
    assert capsys.readouterr().err == "obsmap: Пароль должен содержать не менее 10 символов.\n"

    monkeypatch.setattr(sys, "stdin", io.StringIO("Yttrium-Kiwi-4410\n"))
    assert cli.main(["users", "add", "carl", "--role", "viewer", "--password-stdin", *data]) == 0
    capsys.readouterr()
    assert cli.main(["users", "disable", "carl", "--lang", "ru", *data]) == 0
    assert capsys.readouterr().out == "carl: отключена; её открытые сеансы завершены\n"
    assert cli.main(["users", "disable", "carl", "--lang", "ru", *data]) == 0
    assert capsys.readouterr().out == "carl: уже была отключена\n"
    assert cli.main(["users", "disable", "ana", "--lang", "ru", *data]) == 2
    assert "ana — последний включённый администратор, его нельзя отключить" in capsys.readouterr().err

    assert cli.main(["users", "list", "--lang", "ru", *data]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ПОЛЬЗОВАТЕЛЬ", "РОЛЬ", "РЕГИОНЫ", "СОСТОЯНИЕ", "СОЗДАНА"]
    assert table[1].split()[:4] == ["ana", "admin", "-", "включена"] and table[2].split()[:4] == ["carl", "viewer", "-", "отключена"]

    assert cli.main(["users", "set", "nobody", "--role", "viewer", "--lang", "ru", *data]) == 2
    assert capsys.readouterr().err == "obsmap: nobody: такой учётной записи нет; см. obsmap users list.\n"
    assert cli.main(["audit", "--since", "2999-01-01", "--lang", "ru", *data]) == 0
    assert capsys.readouterr().out == "нет событий начиная с 2999-01-01T00:00:00.000Z\n"


@pytest.mark.parametrize(("codes", "expected"), [("XX", "XX — не код региона миссии"), ("XX,YY", "XX, YY — не коды регионов миссии")])
def test_unknown_region_codes_agree_with_their_number(mission, monkeypatch, capsys, codes, expected):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Yttrium-Kiwi-4410\n"))
    argv = ["users", "add", "carl", "--role", "coordinator", "--regions", codes, "--password-stdin", "--data", str(mission)]
    assert cli.main([*argv, "--lang", "ru"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "её коды: AA, BB." in err and err.count("\n") == 1


# ------------------------------------------------------------------------------------------ serve's banner
def test_the_serve_banner_in_russian(monkeypatch, capsys, tmp_path):
    from dashboard import serving

    class Recorder:
        def __init__(self, factory, options, secret_key=None):
            self.options = options

        def run(self):
            self.options["when_ready"](None)

    monkeypatch.setattr(serving, "Server", Recorder)
    with use("ru"):
        assert serving.serve(lambda: None, folder=tmp_path, host="::1", port=8050, accounts=None, workers=22, threads=5) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"obsmap: сервер запущен: {tmp_path} по адресу http://[::1]:8050/, 22 рабочих процесса × 5 потоков (остановить: Ctrl+C)"
    assert serving.serve(lambda: None, folder=tmp_path, host="127.0.0.1", port=8050, accounts=None, workers=1) == 0
    assert (
        capsys.readouterr().out.splitlines()[0]
        == f"obsmap: serving {tmp_path} at http://127.0.0.1:8050/ with 1 worker process (Ctrl+C to stop)"
    )


def test_the_debug_server_banner_in_russian(monkeypatch, capsys):
    import dash

    monkeypatch.setattr(dash.Dash, "run", lambda self, **kwargs: None)
    assert cli.main(["serve", "--debug", "--port", "8999", "--lang", "ru"]) == 0
    out = capsys.readouterr().out
    assert "по адресу http://127.0.0.1:8999/, сервер разработки Flask (остановить: Ctrl+C)" in out


# ------------------------------------------------------------------------------------------ the cache keeps languages apart
def test_a_view_part_drawn_in_russian_is_never_served_in_english():
    from flask import Flask

    from dashboard import cache

    server = Flask(__name__)
    cache.install(server, "simple")
    drawn = []

    def draw():
        drawn.append(i18n.current())
        return f"part in {i18n.current()}"

    with server.app_context():
        with use("ru"):
            assert cache.remember("v1|all|forms", ("map",), draw) == "part in ru"
            assert cache.remember("v1|all|forms", ("map",), draw) == "part in ru"
        assert cache.remember("v1|all|forms", ("map",), draw) == "part in en"
    assert drawn == ["ru", "en"]


# ------------------------------------------------------------------------------------------ the brief
@pytest.mark.export
def test_brief_lang_ru_writes_a_russian_pdf(tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "brief.pdf"
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS} | {"LANG": "C.UTF-8"}
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "obsmap")] if (bin_dir / "obsmap").exists() else [sys.executable, "-m", "dashboard.cli"]
    done = subprocess.run([*command, "brief", "--lang", "ru", "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"записан файл {out} (") and done.stdout.rstrip().endswith(
        ", подсчёт голосов)"
    )  # the default view: the count
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    words = LATIN_WORD.findall(text)
    russian = re.findall(r"[А-Яа-яЁё]{2,}", text)
    assert len(russian) > 50, text[:500]
    allowed = {"N", "obsmap", "geo", "demo", "py"} | demo_name_words("mission", "notice", "sources")  # geo/demo.py: a file
    assert not [w for w in words if w not in allowed], text


RU_ROWS = {1: "прочитанной строки", 21: "прочитанной строки", 101: "прочитанной строки"}


@pytest.mark.parametrize("n", COUNTS)
def test_the_import_line_has_the_russian_plural_forms(n):
    """ "из 1 прочитанной строки", "из 2 (5, 11...) прочитанных строк": after «из» the genitive, singular or plural."""
    with use("ru"):
        line = cli.imported_line({"accepted": n - 1, "read": n, "set_aside": 1}, "m")
    rows = RU_ROWS.get(n, "прочитанных строк")
    assert line == f"Импортировано {n - 1} из {n} {rows} в m (отложено: 1)."
    assert cli.imported_line({"accepted": n - 1, "read": n, "set_aside": 1}, "m").startswith(f"Imported {n - 1} of {n} row")


def test_a_memo_of_words_is_kept_per_language():
    from dashboard.memo import IdentityLru

    owner, made = object(), []
    words, plain = IdentityLru(4, by_language=True), IdentityLru(4)
    for memo in (words, plain):
        for code in ("ru", "en", "ru"):
            with use(code):
                memo.get(owner, "labels", lambda memo=memo: made.append((memo is words, i18n.current())) or i18n.current())
    assert made == [(True, "ru"), (True, "en"), (False, "ru")]


def test_argparse_own_words_follow_the_language(capsys):
    """ "usage:", "options" and argparse's errors are in the command's language too; English stays argparse's own."""
    with pytest.raises(SystemExit):
        cli.main(["summary", "--lang", "ru", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("использование: obsmap summary") and "\nпараметры:\n" in out and "показать эту справку и выйти" in out
    with pytest.raises(SystemExit) as bad:
        cli.main(["--lang", "ru", "summary", "--bogus"])
    assert bad.value.code == 2
    assert "ошибка: нераспознанные аргументы: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["summary", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: obsmap summary") and "\noptions:\n" in out
