"""The languages obsmap speaks: gettext catalogues, the language of the moment, numbers and dates per language.

Every string a person reads is written in English in the code and goes through :func:`_` (or :func:`ngettext`,
:func:`pgettext`, :func:`npgettext`); the translations are gettext catalogues, one folder per language:
``geo/locale/<lang>/LC_MESSAGES/*.po`` (every ``.po`` file in the folder is read and merged; they are split by
area only so that translators can take one at a time). English is the source language and needs no catalogue.
Adding a language is adding a folder: see README.md, "Languages", and ``python -m scripts.i18n``.

The language of the moment is a context variable: a request, a callback, an export or a command sets it with
:func:`use` (``with use("ru"): ...``); outside any, it is the process default (:func:`set_default`, which the
``obsmap`` command takes from ``$OBSMAP_LANG`` or the environment's locale), English unless told otherwise.

Numbers, percentages, dates and times are written per language by Babel's CLDR data ("1,234.5" and "1 234,5"
with a no-break space); :func:`plotly_separators` gives Plotly the same two characters.

>>> with use("ru"):
...     number(1234567), ngettext("{n} form", "{n} forms", 22).format(n=22), percent(25)
('1\\xa0234\\xa0567', '22 анкеты', '25\\xa0%')
>>> number(1234567), percent(25)
('1,234,567', '25 %')
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import functools
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from numbers import Integral
from pathlib import Path
from typing import Any

from babel import Locale
from babel import dates as _dates
from babel import numbers as _numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE = "en"  # the language the code is written in
# CLDR's "en" is American English; a mission writes British: "4 December 2005". Numbers read the same.
FORMAT_LOCALES = {"en": "en_GB"}

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("obsmap_language", default=None)
_default = SOURCE


# ------------------------------------------------------------------------------------------ which languages
@functools.cache
def languages() -> tuple[str, ...]:
    """The shipped languages: English, then every folder of ``geo/locale`` with a catalogue, in code order."""
    folders = LOCALE_DIR.iterdir() if LOCALE_DIR.is_dir() else ()
    found = sorted(p.name for p in folders if p.is_dir() and any((p / "LC_MESSAGES").glob("*.po")))
    return (SOURCE, *(code for code in found if code != SOURCE))


def language_name(code: str) -> str:
    """A language's name in itself, as a language switch shows it: "English", "Русский"."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def supported(code: str | None) -> str | None:
    """The shipped language ``code`` names ("ru", "ru_RU", "ru-KZ", "RU" all name Russian); ``None`` if none.

    >>> supported("ru-KZ"), supported("en_GB.UTF-8"), supported("fr"), supported(None)
    ('ru', 'en', None, None)
    """
    if not code:
        return None
    base = code.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return base if base in languages() else None


def from_accept_language(header: str | None) -> str:
    """The best shipped language for a browser's ``Accept-Language`` header (English when none fits).

    >>> from_accept_language("ru-RU,ru;q=0.9,en-US;q=0.8"), from_accept_language("kk, de;q=0.5"), from_accept_language(None)
    ('ru', 'en', 'en')
    """
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    if not header:
        return SOURCE
    accept = parse_accept_header(header, LanguageAccept)
    for value, _quality in accept:  # highest quality first
        code = supported(value)
        if code:
            return code
    return SOURCE


def browser_language() -> str:
    """The language the browser of the request being answered asks for (English outside a request)."""
    from flask import has_request_context, request

    return from_accept_language(request.headers.get("Accept-Language")) if has_request_context() else SOURCE


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language a command speaks: ``$OBSMAP_LANG``, else gettext's ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` (the first set; ``LANGUAGE`` may list several, ``ru:en``), else English.

    >>> from_environment({"LANG": "ru_RU.UTF-8"}), from_environment({"LANGUAGE": "fr:ru", "LANG": "C.UTF-8"})
    ('ru', 'ru')
    >>> from_environment({"OBSMAP_LANG": "en", "LANG": "ru_RU.UTF-8"}), from_environment({"LC_ALL": "C"})
    ('en', 'en')
    """
    env = os.environ if environ is None else environ
    for var in ("OBSMAP_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if not value:
            continue
        for part in value.split(":"):
            code = supported(part)
            if code:
                return code
        if var != "LANGUAGE":  # LC_ALL=C says English; LANGUAGE is only a preference list
            return SOURCE
    return SOURCE


# ------------------------------------------------------------------------------------------ the language of the moment
def current() -> str:
    """The language strings are written in now."""
    return _current.get() or _default


def default() -> str:
    """The process default language (what :func:`set_default` last set)."""
    return _default


def set_default(code: str | None) -> None:
    """The language outside any :func:`use` (a command sets it once, from ``--lang`` or its environment)."""
    global _default
    _default = supported(code) or SOURCE


@contextmanager
def use(code: str | None) -> Iterator[str]:
    """Write in ``code`` inside the block (``None`` or an unknown code: the current language stays)."""
    token = _current.set(supported(code) or current())
    try:
        yield current()
    finally:
        _current.reset(token)


def enter(code: str | None) -> contextvars.Token:
    """:func:`use` for code that cannot hold a ``with`` block (a web request's start and end): the token for :func:`leave`."""
    return _current.set(supported(code) or current())


def leave(token: contextvars.Token) -> None:
    try:
        _current.reset(token)
    except ValueError:  # set in another context (a server may end the request elsewhere): clear it
        _current.set(None)


@functools.cache
def translations(code: str) -> NullTranslations:
    """The merged catalogues of one language (read from the ``.po`` files once per process)."""
    if code == SOURCE or code not in languages():
        return NullTranslations()
    merged: Translations | None = None
    for po in sorted((LOCALE_DIR / code / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=code, domain="obsmap")
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        buf.seek(0)
        one = Translations(buf, domain="obsmap")
        merged = one if merged is None else merged.merge(one)
    return merged or NullTranslations()


# ------------------------------------------------------------------------------------------ the words
def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a phrase for ``n`` (Russian has three: 1 анкета, 2 анкеты, 5 анкет). Format ``{n}`` yourself."""
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language where the same English word needs two translations ("Count" the phase
    or the verb)."""
    return translations(current()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current()).npgettext(context, singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it: module constants, translated where they are shown."""
    return message


def NP_(context: str, message: str) -> str:
    """:func:`N_` with a context (a :class:`Labels` built with ``context=`` reads its labels with :func:`pgettext`)."""
    return message


class Labels(Mapping[str, str]):
    """A dict of labels (``{key: N_("English label")}``) that reads in the current language: ``PROBLEMS[key]``,
    ``.items()`` and ``.values()`` translate at the moment of reading, so a module constant follows the language.

    ``.source(key)`` is the English label (file names, logs, matching typed input).
    """

    def __init__(self, labels: Mapping[str, str], context: str | None = None) -> None:
        self._labels = dict(labels)
        self._context = context

    def __getitem__(self, key: str) -> str:
        label = self._labels[key]
        return pgettext(self._context, label) if self._context else _(label)

    def __iter__(self):
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def source(self, key: str) -> str:
        return self._labels[key]

    def __repr__(self) -> str:
        return f"Labels({self._labels!r})"


# ------------------------------------------------------------------------------------------ numbers and dates
def _fmt() -> str:
    return FORMAT_LOCALES.get(current(), current())


@functools.cache
def _marks(locale: str) -> dict[int, str]:
    """A str.translate table from Python's "," and "." to the language's group and decimal marks."""
    return str.maketrans({",": _numbers.get_group_symbol(locale), ".": _numbers.get_decimal_symbol(locale)})


def number(value: float | int, decimals: int | None = None) -> str:
    """A number in the current language: "2,834" / "2 834"; ``decimals`` fixes the digits after the point.

    Whole numbers and fixed decimals are written by Python (rounded as f-strings round) with the language's marks
    from CLDR: a view writes hundreds of numbers, and Babel's general formatter costs some 40 µs each.

    >>> number(2834), number(3.14159, 1), number(0.5, 0), number(2.5), number(-1234)
    ('2,834', '3.1', '0', '2.5', '-1,234')
    """
    if decimals is not None:
        text = f"{value:,.{decimals}f}"
    elif isinstance(value, Integral) or (isinstance(value, float) and value.is_integer()):
        text = f"{int(value):,}"
    else:
        return _numbers.format_decimal(value, locale=_fmt())
    return text.translate(_marks(_fmt()))


def percent(value: float | int | str, decimals: int | None = None) -> str:
    """A percentage already in per cent (25 → "25 %"; Russian "25 %" with a no-break space, as CLDR writes it).

    English keeps obsmap's own "25 %" (the mission's statements write "per cent"; the page a spaced sign).
    """
    shown = value if isinstance(value, str) else number(value, decimals)
    return f"{shown} %" if current() == SOURCE else f"{shown}\u00a0%"


def plotly_separators() -> str:
    """Plotly's ``layout.separators`` for the current language: the decimal mark, then the thousands separator.

    >>> plotly_separators()
    '.,'
    """
    return _separators(_fmt())


@functools.cache
def _separators(locale: str) -> str:
    return _numbers.get_decimal_symbol(locale) + _numbers.get_group_symbol(locale)


def date_text(value: _dt.date | _dt.datetime, form: str = "long") -> str:
    """A date: "4 December 2005" / "4 декабря 2005 г." (``form``: CLDR's short, medium, long or full).

    >>> date_text(_dt.date(2005, 12, 4))
    '4 December 2005'
    """
    return _dates.format_date(value, format=form, locale=_fmt())


def time_text(value: _dt.time | _dt.datetime) -> str:
    """A time of day, 24-hour in every language a mission works in: "06:00"."""
    return _dates.format_time(value, format="HH:mm", locale=_fmt())


def datetime_text(value: _dt.datetime, form: str = "medium") -> str:
    """A date with its time: "5 Dec 2005, 06:00" / "5 дек. 2005 г., 06:00"."""
    return _dates.format_datetime(value, format=f"{_dates.get_date_format(form, locale=_fmt()).pattern}, HH:mm", locale=_fmt())


def plural_forms(code: str) -> Any:
    """The catalogue's plural rule of a language (tests use it to check every form of an ``ngettext`` entry)."""
    return translations(code).plural
