"""The words in Russian: plurals, numbers, the statement sentences, and pictures and the brief with no English left."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from dashboard import analysis, text
from dashboard.analysis import per_cent, statement_sentence, tally_by_phase
from dashboard.figures import make_problem_chart, make_timeline
from dashboard.filters import Filters
from dashboard.metrics import MetricTable, MetricView
from dashboard.selection import select
from dashboard.summary import mission_summary
from geo.i18n import use
from geo.schema import PROBLEMS
from tests.conftest import DEMO

NB = "\u00a0"
COUNTS = (1, 2, 5, 11, 21, 22, 25, 101)
# Which of Russian's three forms each count takes, by the grammar (not by the code): 1, 21, 101 -> one;
# 2-4, 22-24 -> few; 0, 5-20, 11-14, 25 -> many.
FORM = {1: 0, 2: 1, 5: 2, 11: 2, 21: 0, 22: 1, 25: 2, 101: 0}


# ------------------------------------------------------------------------------------------ plurals
@pytest.mark.parametrize("n", COUNTS)
def test_russian_counts_of_forms_take_the_right_form(n):
    forms = ("анкета", "анкеты", "анкет")[FORM[n]]
    with use("ru"):
        assert text.forms_count(n) == f"{n} {forms}"
        assert text.phase_forms(n, "counting") == f"{n} {forms} подсчёта голосов"
        assert text.plural(n, "{n} voting form", "{n} voting forms") == f"{n} {forms} голосования"
        hover = text.station_hover(SimpleNamespace(ps_id="PS-1", visits=n, phases="голосование", times="08:00", problems=""), "bad")
        assert hover.startswith(f"<b>PS-1</b><br>{n} {('посещение', 'посещения', 'посещений')[FORM[n]]}: ")
        assert "Худшая оценка: плохо" in hover and "Отмеченные нарушения: нет" in hover
    assert text.forms_count(n) == f"{n} {'form' if n == 1 else 'forms'}"  # English as before


@pytest.mark.parametrize("n", COUNTS)
def test_the_statement_declines_its_denominator_by_its_own_number(n):
    observed = ("наблюдавшегося подсчёта", "наблюдавшихся подсчётов", "наблюдавшихся подсчётов")[FORM[n]]
    with use("ru"):
        said = statement_sentence("counting", 0, n)
    assert said == f"Подсчёт голосов был оценён как плохой или очень плохой в 0 процентах из {n} {observed}."
    english = statement_sentence("counting", 0, n)
    assert english == f"The count was assessed as bad or very bad in 0 per cent of {n} {'count' if n == 1 else 'counts'} observed."


@pytest.mark.parametrize("pct", COUNTS)
def test_the_statement_declines_its_percentage_by_its_own_number(pct):
    case = ("проценте", "процентах", "процентах")[FORM[pct]]
    with use("ru"):
        assert per_cent(pct) == f"{pct} {case}"
        if pct <= 100:  # pct of 100 assessed is pct per cent; the denominator 100 takes the "many" form
            said = statement_sentence("voting", pct, 100)
            assert said == f"Голосование было оценено как плохое или очень плохое в {pct} {case} из 100 посещений избирательных участков."


def test_each_phase_agrees_with_its_own_subject():
    with use("ru"):
        said = {ft: statement_sentence(ft, 57, 224) for ft in ("opening", "voting", "counting", "tabulation")}
        fraction = statement_sentence("counting", 57, 224, as_fraction=True)
        none = statement_sentence("tabulation", 0, 0)
    assert said["opening"].startswith("Открытие было оценено как плохое или очень плохое в 25 процентах из 224 ")
    assert said["voting"].startswith("Голосование было оценено как плохое или очень плохое в 25 процентах из 224 ")
    assert said["counting"] == "Подсчёт голосов был оценён как плохой или очень плохой в 25 процентах из 224 наблюдавшихся подсчётов."
    assert said["tabulation"].startswith("Табуляция была оценена как плохая или очень плохая в 25 процентах из 224 ")
    assert (
        fraction == "Подсчёт голосов был оценён как плохой или очень плохой в одном из четырёх наблюдавшихся подсчётов голосов (57 из 224)."
    )
    assert none.startswith("Табуляция: ") and "общей оценки" in none
    # One form: the singular, in both languages (the page said "of 1 count observed" before the sentence did).
    with use("ru"):
        assert statement_sentence("opening", 1, 1).endswith("в 100 процентах из 1 наблюдавшегося открытия.")
    assert statement_sentence("opening", 1, 1).endswith("in 100 per cent of 1 opening observed.")


# ------------------------------------------------------------------------------------------ numbers
def _metric(key: str, problem: str | None = None) -> MetricTable:
    return MetricTable(key, pd.DataFrame(), MetricView(key, "", (0, 10, 20, 30, 40), 10), problem)


def test_numbers_in_hovers_are_written_the_russian_way():
    negative = SimpleNamespace(part=1234, whole=12345, n=12400)
    coverage = SimpleNamespace(part=1, whole=8, n=3)
    with use("ru"):
        hover = text.region_hover(_metric("negative"), negative, "counting")
        cover = text.region_hover(_metric("coverage"), coverage, "voting")
        problem = text.region_hover(_metric("problem", "overcrowding"), SimpleNamespace(part=2, whole=21, n=21), "voting")
    assert hover.startswith(f"10{NB}% — «плохо» или «очень плохо» (95{NB}% ДИ ")
    assert f"1{NB}234 из 12{NB}345 наблюдавшихся подсчётов с оценкой" in hover
    assert "(55 анкет без оценки)" in hover
    assert cover.startswith(f"Под наблюдением 12,5{NB}% зарегистрированных участков<br>1 из 8 участков (3 анкеты)")
    assert "переполненность" in problem and "2 из 21 анкеты, ответившей на вопрос" in problem
    # English as it was
    assert (
        text.region_hover(_metric("coverage"), coverage, "voting") == "12.5 % of registered stations observed<br>1 of 8 stations (3 forms)"
    )
    assert "1,234 of 12,345 counts observed with an assessment" in text.region_hover(_metric("negative"), negative, "counting")


def test_plotly_writes_numbers_with_the_languages_separators():
    hours = pd.DataFrame({"n": [1500, 30], "assessed": [1400, 25], "negative": [200, 5]}, index=pd.Index([8, 9], name="hour"))
    rates = analysis.problem_rates(pd.DataFrame({p: [True, False, None] for p in PROBLEMS}))
    with use("ru"):
        timeline = make_timeline(hours, range(8, 10))
        chart = make_problem_chart(rates)
        assert number_text(1234.5) == f"1{NB}234,5"
    assert timeline.layout.separators == f",{NB}" and chart.layout.separators == f",{NB}"
    assert timeline.layout.yaxis2.ticksuffix == f"{NB}%"
    assert timeline.data[0].customdata[0] == f"1{NB}500 анкет" and timeline.data[0].name == "Анкеты"
    assert "«плохо» или «очень плохо»" in timeline.data[1].hovertemplate
    assert make_timeline(hours, range(8, 10)).layout.separators == ".,"


def number_text(value: float) -> str:
    from geo.i18n import number

    return number(value, 1)


# ------------------------------------------------------------------------------------------ the demo's count
def test_the_demos_count_sentence_says_the_same_tally_in_both_languages(demo):
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    if "review" in raw:
        raw = raw[raw["review"] != "rejected"]
    counts = raw[raw.form_type == "counting"]
    assessed = counts[counts.overall.notna()]
    k, n = int(assessed.overall.isin(["bad", "very bad"]).sum()), len(assessed)
    pct = (200 * k + n) // (2 * n)
    by_language = mission_summary(demo)["statements_by_language"]
    assert set(by_language) >= {"en", "ru"}
    assert f"in {pct} per cent of {n:,} counts observed." in by_language["en"]["counting"]
    case = "проценте" if pct % 10 == 1 and pct % 100 != 11 else "процентах"
    assert f"в {pct} {case} из {n} наблюдавш" in by_language["ru"]["counting"]
    # The page's sentence with "one out of four": the same part and whole, "57 of 224" / "57 из 224".
    filters = Filters("counting")
    tally = tally_by_phase(select(demo, filters).all_phases)["counting"]
    english = text.statement_for("counting", tally, filters, as_fraction=True)
    with use("ru"):
        russian = text.statement_for("counting", tally, filters, as_fraction=True)
    assert f"({k} of {n})" in english or f"{pct} per cent of {n}" in english
    assert f"({k} из {n})" in russian or f"{pct} {case} из {n}" in russian
    if abs(pct - 25) <= 1:  # the demo's count is about a quarter
        assert f"in one out of four counts observed ({k} of {n})." in english
        assert f"в одном из четырёх наблюдавшихся подсчётов голосов ({k} из {n})." in russian


# ------------------------------------------------------------------------------------------ no English left
LATIN = re.compile(r"[A-Za-z][A-Za-z'’-]*")
ALLOWED = {"N", "obsmap", "chromium", "PNG", "SVG", "PDF", "CSV"}


def english_words(said: str, demo) -> set[str]:
    """The Latin-letter words of ``said`` that are not codes, units or names from the mission's own (Russian) data."""
    with use("ru"):
        data = " ".join(
            [*demo.region_names.values(), demo.text("name") or "", demo.text("mission") or "", demo.text("notice") or "", *demo.sources]
        )
        data += " " + " ".join(note["name"] + " " + note["note"] for note in demo.map_notes)
    allowed = ALLOWED | set(LATIN.findall(data))
    return {w for w in LATIN.findall(said) if w not in allowed and not re.fullmatch(r"[A-Z]{2}(-[A-Z]+)?", w)}


def test_the_demos_region_names_are_russian_in_russian(demo):
    with use("ru"):
        names = list(demo.region_names.values())
    assert names and all(re.search("[А-Яа-яЁё]", name) for name in names), names
    assert names != list(demo.region_names.values())


def test_the_words_of_a_view_have_no_english_left(demo):
    filters = Filters("counting", lang="ru")
    from dashboard import views
    from dashboard.metrics import metric_table

    with use("ru"):
        chosen = select(demo, filters)
        metric = metric_table(demo, chosen, filters)
        said = [
            text.map_caption(demo, metric, filters),
            text.picture_caption(demo, metric, filters),
            text.map_title(demo, metric, filters),
            *text.region_hovers(metric, "counting"),
            text.timeline_title(filters),
            text.problems_title(filters, 230),
            text.region_table_title(filters),
            _(text.NOT_A_SAMPLE),
            *(text.statement_for(ft, t, filters) for ft, t in tally_by_phase(chosen.all_phases).items()),
            *(text.n_line(t) for t in tally_by_phase(chosen.all_phases).values()),
        ]
        said += [visible_text(views.n_shown(demo, chosen, filters)), visible_text(views.headlines(demo, chosen, filters, as_fraction=True))]
    shown = re.sub(r"<[^>]+>", " ", " ".join(said))  # the hovers' <br> and <b>
    left = english_words(html.unescape(shown), demo)
    assert not left, left


def visible_text(children) -> str:
    """The text a Dash tree shows (its strings and its components' children; no ids, classes or titles)."""
    if children is None or isinstance(children, bool):
        return ""
    if isinstance(children, (str, int, float)):
        return str(children)
    if isinstance(children, (list, tuple)):
        return " ".join(visible_text(c) for c in children)
    return visible_text(getattr(children, "children", None))


def _(message: str) -> str:
    from geo.i18n import _ as gettext

    return gettext(message)


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("which", ["map", "problems", "timeline"])
def test_an_svg_in_russian_has_no_english_left(demo, which):
    from dashboard import exports

    filters = Filters("counting", lang="ru")
    with use("ru"):
        svg = exports.render(exports.figure_for(demo, filters, which), "svg").decode("utf-8")
    shown = " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S))
    shown = re.sub(r"<[^>]+>", " ", shown)  # tspans
    assert re.search("[Пп]одсчёт", shown) and "СИНТЕТИЧЕСКИЕ" in shown
    left = english_words(shown, demo)
    assert not left, left
    if which == "map":
        with use("ru"):
            assert any(name in shown for name in demo.region_names.values())  # the names drawn are the Russian ones


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_brief_in_russian_has_no_english_left(demo, tmp_path):
    from pypdf import PdfReader

    from dashboard import exports

    filters = Filters("counting", lang="ru")
    with use("ru"):
        page = exports.brief_html(demo, filters)
        pdf = exports.brief(demo, filters, "pdf")
    assert '<html lang="ru">' in page
    out = tmp_path / "brief.pdf"
    out.write_bytes(pdf)
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    said = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    # The Cyrillic is drawn (a font without it would print boxes, and pypdf would read nothing of it).
    assert "Подсчёт голосов был оценён как плохой или очень плохой" in said and "слишком мало" in said
    left = english_words(said, demo)
    assert not left, left
    assert "lang_ru" in exports.download_name(filters, "brief-counting", "pdf")  # a file says its language
