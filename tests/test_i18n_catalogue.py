"""The catalogues: every string the code marks is translated in every shipped language, with the same placeholders;
plurals pick the right Russian form; numbers and dates are written the language's way."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from geo import i18n
from geo.i18n import use
from scripts import i18n as catalogue

RU_FORMS = {1: 0, 2: 1, 5: 2, 11: 2, 21: 0, 22: 1, 25: 2, 101: 0, 0: 2, 12: 2, 14: 2, 111: 2, 104: 1, 1000: 2}


@pytest.fixture(scope="module")
def extracted():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = catalogue.extract()
    return found, [str(w.message) for w in caught]


def test_every_marked_string_is_extracted_without_fstrings(extracted):
    """A translation call around an f-string cannot be translated (babel skips it and warns): none in the code."""
    found, warned = extracted
    assert len(found) > 100, "the extraction found next to nothing: is scripts.i18n looking in the right place?"
    assert not [w for w in warned if "f-string" in w], warned


@pytest.mark.parametrize("code", [c for c in i18n.languages() if c != i18n.SOURCE])
def test_every_shipped_language_is_complete(code, extracted):
    problems = catalogue.problems(code, extracted[0])
    assert not problems, f"{len(problems)} strings of the code are not translated properly:\n" + "\n".join(problems[:40])


def test_russian_is_shipped():
    assert "ru" in i18n.languages() and i18n.language_name("ru") == "Русский" and i18n.language_name("en") == "English"


def test_the_russian_plural_rule_picks_the_form_by_the_last_digits():
    """1, 21, 101 → the first form; 2-4, 22-24 → the second; 5-20, 11-14, 25, 0 → the third (CLDR's rule)."""
    plural = i18n.plural_forms("ru")
    assert {n: plural(n) for n in RU_FORMS} == RU_FORMS


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 анкета"),
        (2, "2 анкеты"),
        (5, "5 анкет"),
        (11, "11 анкет"),
        (21, "21 анкета"),
        (22, "22 анкеты"),
        (25, "25 анкет"),
        (101, "101 анкета"),
        (1234, "1\u00a0234 анкеты"),
    ],
)
def test_a_count_of_forms_in_russian(n, expected):
    from dashboard.text import forms_count

    with use("ru"):
        assert forms_count(n) == expected
    assert forms_count(n) == (f"{n:,} form" if n == 1 else f"{n:,} forms")


def test_numbers_percentages_and_dates_per_language():
    with use("ru"):
        assert i18n.number(1234.5, 1) == "1\u00a0234,5"
        assert i18n.number(1234567) == "1\u00a0234\u00a0567"
        assert i18n.percent(25) == "25\u00a0%"
        assert i18n.percent(3.25, 1) == "3,2\u00a0%"  # half to even, as every figure of obsmap
        assert i18n.plotly_separators() == ",\u00a0"
        assert i18n.date_text(dt.date(2005, 12, 4)) == "4 декабря 2005\u202fг."  # CLDR: a narrow no-break space
        assert i18n.time_text(dt.time(6, 5)) == "06:05"
    assert (i18n.number(1234.5, 1), i18n.percent(25), i18n.plotly_separators()) == ("1,234.5", "25 %", ".,")
    assert i18n.date_text(dt.date(2005, 12, 4)) == "4 December 2005"


def test_the_language_is_per_context_and_unknown_codes_change_nothing():
    assert i18n.current() == "en"
    with use("ru"):
        assert i18n.current() == "ru"
        with use("xx"):  # not shipped: stays Russian
            assert i18n.current() == "ru"
        with use("en-GB"):
            assert i18n.current() == "en"
    assert i18n.current() == "en"
