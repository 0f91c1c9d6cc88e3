"""The catalogues: extract the strings to translate, add the new ones to a language, check a language is complete.

    python -m scripts.i18n extract                 # writes geo/locale/obsmap.pot (every string, with where it is)
    python -m scripts.i18n update ru [--into obsmap.po]   # adds the strings ru has not got yet, untranslated
    python -m scripts.i18n check [ru ...]          # lists what is missing, fuzzy or has other {placeholders}; exit 1

A new language: ``python -m scripts.i18n update kk`` makes ``geo/locale/kk/LC_MESSAGES/obsmap.po`` with every
string; translate it (Poedit, Weblate, a text editor), then ``check kk``. The app offers a language as soon as its
folder has a catalogue. Strings are found in the Python code of ``dashboard/`` and ``geo/`` and in the templates,
by the calls of :mod:`geo.i18n` (and :func:`dashboard.text.plural`, which takes the two English phrases).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "geo" / "locale"
SOURCES = ("dashboard", "geo")
# The calls that carry a string to translate: name -> which arguments are the messages (babel's keyword spec).
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "NP_": ((1, "c"), 2),
    "plural": (2, 3),  # dashboard.text.plural(n, "{n} form", "{n} forms")
}
METHODS = [
    ("**/tests/**", "ignore"),
    ("**/test_*.py", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[:!][^}]*)?\}")


def extract() -> Catalog:
    """Every translatable string of the code, with the places it is used."""
    catalog = Catalog(project="obsmap", domain="obsmap", fuzzy=False)
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / source, METHODS, options_map=OPTIONS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
        ):
            catalog.add(message, None, [(f"{source}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def catalogues(code: str) -> list[Path]:
    return sorted((LOCALE / code / "LC_MESSAGES").glob("*.po"))


def read(code: str) -> dict[tuple[str, str | None], object]:
    """Every message of a language's catalogues, by (msgid, context)."""
    found = {}
    for po in catalogues(code):
        with po.open("rb") as f:
            for message in read_po(f, locale=code):
                if message.id:
                    key = message.id[0] if isinstance(message.id, tuple) else message.id
                    found[(key, message.context)] = message
    return found


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems(code: str, wanted: Catalog | None = None) -> list[str]:
    """One sentence per string of the code that ``code``'s catalogues do not translate properly."""
    wanted = wanted or extract()
    have = read(code)
    out = []
    for message in wanted:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
        got = have.get((key, message.context))
        if got is None:
            out.append(f"{code}: missing {key!r} ({where})")
            continue
        strings = got.string if isinstance(got.string, tuple) else (got.string,)
        if got.fuzzy or not all(strings):
            out.append(f"{code}: untranslated or fuzzy {key!r} ({where})")
            continue
        if isinstance(message.id, tuple) != isinstance(got.id, tuple):
            out.append(f"{code}: {key!r} is {'a plural' if isinstance(message.id, tuple) else 'not a plural'} in the code ({where})")
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        names = set().union(*(placeholders(i) for i in ids))
        for s in strings:
            # A plural form may leave out {n} (Russian "одна анкета" for 1), nothing else; no name may be new.
            extra, lost = placeholders(s) - names, names - placeholders(s) - {"n"}
            if extra or lost:
                out.append(f"{code}: {key!r} has placeholders {sorted(placeholders(s))}, the English {sorted(names)} ({where})")
                break
    return out


def update(code: str, into: str = "obsmap.po") -> int:
    """Add the strings ``code`` lacks to ``geo/locale/<code>/LC_MESSAGES/<into>`` (untranslated); the count added."""
    wanted = extract()
    have = read(code)
    path = LOCALE / code / "LC_MESSAGES" / into
    if path.exists():
        with path.open("rb") as f:
            target = read_po(f, locale=code)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = Catalog(locale=code, project="obsmap", domain="obsmap", fuzzy=False)
    added = 0
    for message in wanted:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if message.id and (key, message.context) not in have:
            target.add(message.id, None, message.locations, auto_comments=message.auto_comments, context=message.context)
            added += 1
    with path.open("wb") as f:
        write_po(f, target, width=120, sort_output=False)
    return added


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.i18n", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write geo/locale/obsmap.pot")
    up = sub.add_parser("update", help="add the missing strings to a language")
    up.add_argument("lang")
    up.add_argument("--into", default="obsmap.po", help="the .po file of the language's folder that gets them")
    ch = sub.add_parser("check", help="list what a language lacks")
    ch.add_argument("lang", nargs="*")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "extract":
        catalog = extract()
        with (LOCALE / "obsmap.pot").open("wb") as f:
            write_po(f, catalog, width=120, sort_output=False, omit_header=False)
        print(f"{len(catalog)} strings written to {LOCALE / 'obsmap.pot'}")
        return 0
    if args.command == "update":
        print(f"{update(args.lang, args.into)} strings added to {args.lang}/{args.into}")
        return 0
    wanted = extract()
    langs = args.lang or [p.name for p in sorted(LOCALE.iterdir()) if p.is_dir()]
    found = [line for code in langs for line in problems(code, wanted)]
    print("\n".join(found) or f"complete: {', '.join(langs)} ({len(wanted)} strings)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
