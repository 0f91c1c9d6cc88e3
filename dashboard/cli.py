"""The ``obsmap`` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from dashboard.accounts_cli import add_parsers as add_account_parsers
from dashboard.filters import DEFAULT_MIN_N, MIN_N_RANGE, add_flags
from geo import i18n
from geo.errors import ObsmapError
from geo.i18n import N_, Labels, _, ngettext, number
from geo.mission import load_mission

# The phase of a brief, as the line saying what was written names it ("voting" in English, as the URL's form=).
PHASE_WORDS = Labels({"opening": N_("opening"), "voting": N_("voting"), "counting": N_("counting"), "tabulation": N_("tabulation")})


def _serve(args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from dashboard.auth import LOOPBACK, NO_SIGN_IN_NOTE, accounts_to_serve
    from dashboard.cache import cache_config
    from dashboard.paths import resolve_data_dir

    folder = resolve_data_dir(args.data)
    if args.debug and args.host not in LOOPBACK:
        print("obsmap: " + _("--debug shows the server's internals in the browser: use it on 127.0.0.1 only."), file=sys.stderr)
        return 2
    accounts = accounts_to_serve(folder, args.host, args.accounts)  # decided before anything starts
    cache_config(args.cache)  # a bad --cache (or one holding a password) stops here, in one sentence
    if not args.debug:  # gunicorn (dashboard/serving.py)
        from dashboard import serving

        if not all(1 <= n <= 64 for n in (args.workers or 1, args.threads)):
            print("obsmap: " + _("--workers and --threads take a whole number from 1 to 64."), file=sys.stderr)
            return 2

        def factory():
            return create_app(folder, min_n=args.min_n, accounts=accounts, cache=args.cache)

        workers = args.workers or serving.default_workers()
        return serving.serve(
            factory, folder=folder, host=args.host, port=args.port, accounts=accounts, workers=workers, threads=args.threads
        )
    app = create_app(folder, min_n=args.min_n, accounts=accounts, cache=args.cache)
    url = f"http://{args.host}:{args.port}/"
    print(
        "obsmap: " + _("serving {folder} at {url} with Flask's development server (Ctrl+C to stop)").format(folder=folder, url=url),
        flush=True,
    )
    print(
        "obsmap: " + (_(NO_SIGN_IN_NOTE) if accounts is None else _("sign-in required (accounts in {path})").format(path=accounts.path)),
        flush=True,
    )
    # Dash's dev tools would ask dash-version.plotly.com for the newest version from the page: nothing leaves the machine.
    app.run(host=args.host, port=args.port, debug=True, dev_tools_disable_version_check=True)
    return 0


def _summary(args: argparse.Namespace) -> int:
    from dashboard.paths import resolve_data_dir
    from dashboard.summary import mission_summary

    mission = load_mission(resolve_data_dir(args.data))
    summary = mission_summary(mission, min_n=args.min_n)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)  # with statements_by_language: every shipped language
        sys.stdout.write("\n")
    else:
        print(mission.text("name") or _("Mission"))  # the mission's own name in the language, when mission.json has it
        print("  " + ", ".join(count_words(summary)))
        for sentence in summary["statements"].values():
            print(f"  {sentence}")
    return 0


def count_words(summary: dict) -> list[str]:
    """The mission's counts in words, in the current language ("16 regions", "16 регионов"); a count the mission
    has no data for (no registry, no teams) is left out.

    >>> count_words({"regions": 1, "polling_stations": None, "teams": 2, "forms_total": 2834})
    ['1 region', '2 teams', '2,834 forms']
    """
    words = {
        "regions": lambda n: ngettext("{n} region", "{n} regions", n),
        "polling_stations": lambda n: ngettext("{n} polling station", "{n} polling stations", n),
        "teams": lambda n: ngettext("{n} team", "{n} teams", n),
        "forms_total": lambda n: ngettext("{n} form", "{n} forms", n),
    }
    return [phrase(summary[key]).format(n=number(summary[key])) for key, phrase in words.items() if summary.get(key) is not None]


def _brief(args: argparse.Namespace) -> int:
    from dashboard.exports import brief
    from dashboard.filters import from_flags
    from dashboard.paths import resolve_data_dir
    from dashboard.views import known_values

    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "html"):
        print("obsmap: " + _("{file}: expected a .pdf or .html file name.").format(file=out), file=sys.stderr)
        return 2
    mission = load_mission(resolve_data_dir(args.data))
    filters, notices = from_flags(args, known_values(mission, args.min_n))
    filters = replace(filters, lang=i18n.current())  # the brief's language is the command's (--lang, else the locale)
    for notice in notices:
        print(f"obsmap: {notice}", file=sys.stderr)
    out.write_bytes(brief(mission, filters, fmt))
    phase = PHASE_WORDS.get(filters.form_type, filters.form_type)
    print(_("wrote {file} ({view}, {phase})").format(file=out, view=filters.describe(mission.region_names), phase=phase))
    return 0


def _sync(args: argparse.Namespace) -> int:
    import signal
    import threading

    from geo.sync import summary_json, sync_main

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())  # finish the page in hand (its commit), then stop
    totals = sync_main(
        args.data, args.config, once=args.once, every=args.every, progress=lambda m: print(m, file=sys.stderr, flush=True), stop_event=stop
    )
    if args.json:
        json.dump(summary_json(totals), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return 1 if args.once and any(s.errors for s in totals.values()) else 0


def _replay(args: argparse.Namespace) -> int:
    from dashboard.paths import demo_dir
    from geo.replay import replay

    print(
        _("Replaying the demo's election day into {folder}; watch it with: obsmap serve --data {folder}").format(folder=args.out),
        flush=True,
    )
    try:
        replay(args.out, demo_dir(), speed=args.speed, seed=args.seed, progress=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        print(_("stopped; run the same command again to go on from where it stopped"), file=sys.stderr)
        return 130
    return 0


def _import(args: argparse.Namespace) -> int:
    from geo.importer import SET_ASIDE_FILE, import_mission

    meta = {k: v for k, v in (("name", args.name), ("mission", args.mission)) if v}
    result = import_mission(
        args.boundaries,
        args.forms,
        args.out,
        layer=args.layer,
        code_column=args.code_column,
        name_column=args.name_column,
        districts=args.districts,
        district_layer=args.district_layer,
        district_code_column=args.district_code_column,
        district_name_column=args.district_name_column,
        mapping=args.mapping,
        stations=args.stations,
        teams=args.teams,
        meta=meta,
        report_path=args.report,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
        force=args.force,
    )
    r = result.report
    print(imported_line(r, args.out))
    for reason, count in r["reasons"].items():  # the reasons as the import report words them (translated there)
        print("  " + _("set aside: {count} {reason}").format(count=number(count), reason=_(reason)))
    if r["set_aside"]:
        print("  " + _("rows set aside, with file, row, values and reason: {path}").format(path=f"{args.out}/{SET_ASIDE_FILE}"))
    for warning in r["warnings"]:
        print("  " + _("warning: {warning}").format(warning=_(warning)))
    web = result.mission.meta.get("web_geometry", {})
    regions = r["boundaries"]["regions"]
    geometry = ngettext("{n} region; web geometry {size} KB", "{n} regions; web geometry {size} KB", regions)
    print("  " + geometry.format(n=number(regions), size=number(web.get("bytes", 0) / 1000, 0)))
    print(_("Serve it: {command}").format(command=f"obsmap serve --data {args.out}"))
    return 0


def imported_line(report: dict, folder: str) -> str:
    """The first line `obsmap import` prints, from its report.

    >>> imported_line({"accepted": 2, "read": 1013, "set_aside": 1011}, "m")
    'Imported 2 of 1,013 rows read into m (1,011 set aside).'
    """
    imported = ngettext(
        "Imported {accepted} of {read} row read into {folder} ({set_aside} set aside).",
        "Imported {accepted} of {read} rows read into {folder} ({set_aside} set aside).",
        report["read"],
    )
    counts = {key: number(report[key]) for key in ("accepted", "read", "set_aside")}
    return imported.format(folder=folder, **counts)


STORE_HELP = N_(
    "the live store: postgresql://user@host:5432/database (no password: PostgreSQL's client reads ~/.pgpass); "
    "default $OBSMAP_STORE, else the one the folder records (store.toml), else SQLite beside the folder"
)


def _use_store(args: argparse.Namespace) -> None:
    """``--store``: the live store of this command and of the processes it starts ($OBSMAP_STORE), refused with a password
    in it; the folder given records it (store.toml), so later commands on that folder need no flag."""
    import os

    from geo.pgstore import ENV, check_location, record_location, store_location

    if getattr(args, "store", None):
        os.environ[ENV] = check_location(args.store)
    elif os.environ.get(ENV):
        check_location(os.environ[ENV], f"${ENV}")  # refused before any work, as the flag is
    folder = getattr(args, "data", None) or getattr(args, "out", None) or (os.environ.get("OBSMAP_DATA") if "data" in args else None)
    if os.environ.get(ENV) and not folder and args.func is _serve:  # the demo has no store: its page opens without sign-in
        raise ObsmapError(_("--store: give the mission folder whose forms the store holds with --data."))
    if os.environ.get(ENV) and folder and (Path(folder) / "mission.json").is_file():
        record_location(folder, store_location(folder))  # a folder holding another store is refused here, before any work


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 5 <= seconds <= 86400:
        raise argparse.ArgumentTypeError(_("expected seconds between 5 and 86400, got {value}").format(value=value))
    return seconds


MIN_N_HELP = N_("shares behind fewer assessed forms are flagged 'too few observations' (default {n})")


def parse_min_n(value: str) -> int:
    n = int(value) if value.strip().isdigit() else -1
    if not MIN_N_RANGE[0] <= n <= MIN_N_RANGE[1]:
        raise argparse.ArgumentTypeError(
            _("expected a whole number from {low} to {high}, got {value}").format(low=MIN_N_RANGE[0], high=MIN_N_RANGE[1], value=value)
        )
    return n


# ------------------------------------------------------------------------------------------ the language
def _lang_given(argv: list[str]) -> str | None:
    """The value of ``--lang`` wherever it is on the command line (before or after the command), read before the
    parser is built so that its help texts are in that language too; None when not given.

    >>> _lang_given(["brief", "--lang", "ru", "--out", "b.pdf"]), _lang_given(["--lang=en", "summary"]), _lang_given(["summary"])
    ('ru', 'en', None)
    >>> _lang_given(["users", "add", "--", "--lang"])
    """
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def _unknown_language(value: str) -> str:
    return _("--lang {value}: unknown language; obsmap speaks {languages}.").format(
        value=value, languages=", ".join(f"{code} ({i18n.language_name(code)})" for code in i18n.languages())
    )


def _language(value: str) -> str:
    """``--lang``'s type: a shipped language's code ("ru", "ru_RU" and "ru-KZ" name Russian)."""
    code = i18n.supported(value)
    if code is None:
        raise argparse.ArgumentTypeError(_unknown_language(value))
    return code


def _add_lang(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    """``--lang`` on ``parser`` and on every command under it (so it may come before or after the command)."""
    option = "--lang"
    if option not in parser._option_string_actions:
        parser.add_argument(
            option,
            type=_language,
            metavar="CODE",
            default=default,
            help=_(
                "the language of the command's messages, figures and brief: {languages} (default $OBSMAP_LANG, else the locale: $LANG)"
            ).format(languages=", ".join(i18n.languages())),
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_lang(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obsmap", description=_("Offline map dashboard for election observation missions."))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help=_("serve the dashboard (the demo mission unless --data is given)"))
    serve.add_argument("--data", help=_("mission folder (default: $OBSMAP_DATA, else the demo mission)"))
    serve.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    serve.add_argument("--port", type=int, default=8050, help=_("port (default 8050)"))
    serve.add_argument(
        "--debug", action="store_true", help=_("Flask's development server in Dash debug mode (reloader and dev tools; 127.0.0.1 only)")
    )
    serve.add_argument("--workers", type=int, metavar="N", help=_("gunicorn worker processes, 1-64 (default: two per core, at most 8)"))
    serve.add_argument("--threads", type=int, default=1, metavar="N", help=_("threads per worker, 1-64 (default 1; more: gthread workers)"))
    serve.add_argument("--accounts", help=_("accounts file (default: $OBSMAP_ACCOUNTS, else beside the mission's store)"))
    serve.add_argument("--min-n", type=parse_min_n, default=DEFAULT_MIN_N, help=_(MIN_N_HELP).format(n=DEFAULT_MIN_N))
    serve.add_argument("--store", metavar="URL", help=_(STORE_HELP))
    serve.add_argument(
        "--cache",
        metavar="URL",
        help=_(
            "where the workers share the view's figures: simple (each process its own; the default, or $OBSMAP_CACHE), none, "
            "or redis://host:port/db (its password, if any, in the file $OBSMAP_CACHE_PASSWORD_FILE names: never in the URL)"
        ),
    )
    serve.set_defaults(func=_serve)

    summary = sub.add_parser("summary", help=_("print the mission's figures"))
    summary.add_argument("--data", help=_("mission folder (default: $OBSMAP_DATA, else the demo mission)"))
    summary.add_argument("--json", action="store_true", help=_("print JSON for scripts and reviewers"))
    summary.add_argument("--min-n", type=parse_min_n, default=DEFAULT_MIN_N, help=_(MIN_N_HELP).format(n=DEFAULT_MIN_N))
    summary.set_defaults(func=_summary)

    brief = sub.add_parser(
        "brief",
        help=_("write a one-page findings brief (PDF or HTML) for a view"),
        description=_(
            "Write a one-page A4 brief: the statement sentences with N, the map, the problem chart, the table by "
            "region, caveats and the time stamp. Filters take the same values as the page's URL parameters."
        ),
    )
    brief.add_argument("--data", help=_("mission folder (default: $OBSMAP_DATA, else the demo mission)"))
    brief.add_argument("--out", required=True, help=_("FILE.pdf or FILE.html"))
    add_flags(brief)  # one flag per filter, as the page's URL parameters: --form, --region, --org, ...
    brief.add_argument("--min-n", type=parse_min_n, default=DEFAULT_MIN_N, help=_(MIN_N_HELP).format(n=DEFAULT_MIN_N))
    brief.set_defaults(func=_brief)

    syn = sub.add_parser(
        "sync",
        help=_("bring forms from ODK Central, KoboToolbox and a watch folder into a mission's live store"),
        description=_(
            "Poll the sources in the mission's sync.toml (or --config): ODK Central (OData), KoboToolbox (API v2) and "
            "watch folders. Credentials come from the environment or a credentials file named in the config, never from the "
            "command line. Each page is committed with its cursor: a sync stopped at any moment resumes where it was."
        ),
    )
    syn.add_argument("--data", required=True, help=_("mission folder (made by `obsmap import`)"))
    syn.add_argument("--config", help=_("sync configuration (default: DIR/sync.toml)"))
    syn.add_argument("--once", action="store_true", help=_("one round, then exit (exit code 1 if a source failed)"))
    syn.add_argument("--every", type=_seconds, default=60.0, help=_("seconds between rounds when looping (default 60; at least 5)"))
    syn.add_argument("--json", action="store_true", help=_("print what each source did as JSON at the end"))
    syn.add_argument("--store", metavar="URL", help=_(STORE_HELP))
    syn.set_defaults(func=_sync)

    rep = sub.add_parser(
        "replay",
        help=_("play the demo's election day into a live mission folder, in accelerated time"),
        description=_(
            "Deliver the demo's forms into DIR's live store as election day would: a few minutes after each visit, "
            "with edits, resubmissions, late forms and rejections. Watch it with `obsmap serve --data DIR`."
        ),
    )
    rep.add_argument("--out", required=True, help=_("mission folder to create (or continue)"))
    rep.add_argument("--speed", type=float, default=60.0, help=_("how much faster than real time (default 60: the day in ~26 minutes)"))
    rep.add_argument("--seed", type=int, default=20051204, help=_("which edits, late forms and rejections (same seed, same day)"))
    rep.add_argument("--store", metavar="URL", help=_(STORE_HELP))
    rep.set_defaults(func=_replay)

    imp = sub.add_parser(
        "import",
        help=_("build a mission folder from a boundary file and form exports"),
        description=_(
            "Build a mission folder from a boundary file and form exports (CSV or XLSX; canonical, "
            "KoboToolbox or ODK Central). Rows that cannot be used are set aside with their reason, never dropped."
        ),
    )
    imp.add_argument("--boundaries", required=True, help=_("regions: GeoJSON, GeoPackage, zipped Shapefile or GeoParquet"))
    imp.add_argument("--layer", help=_("layer of a GeoPackage with several"))
    imp.add_argument("--code-column", help=_("column holding the region code (found automatically for common sources)"))
    imp.add_argument(
        "--name-column",
        action="append",
        help=_(
            "column holding the region name; LANG=COLUMN for the names in a language, e.g. ru=ADM1_RU "
            "(found automatically: name_ru, ADM1_RU, ...); repeatable"
        ),
    )
    imp.add_argument("--districts", help=_("optional second level (districts); each district's region is derived spatially"))
    imp.add_argument("--district-layer", help=_("layer of the districts' GeoPackage, if it has several"))
    imp.add_argument("--district-code-column", help=_("column holding the district code"))
    imp.add_argument(
        "--district-name-column",
        action="append",
        help=_("column holding the district name; LANG=COLUMN for the names in a language (e.g. ru=ADM2_RU); repeatable"),
    )
    imp.add_argument("--forms", required=True, action="append", help=_("form export (repeat for several files)"))
    imp.add_argument("--mapping", help=_("TOML file renaming columns and values (see docs/mapping-example.toml)"))
    imp.add_argument("--stations", help=_("polling-station registry CSV/XLSX (ps_id, latitude, longitude, region_code, ...)"))
    imp.add_argument("--teams", help=_("teams CSV (team_id, observer_org, observers, countries)"))
    imp.add_argument("--name", help=_("mission name shown in the dashboard"))
    imp.add_argument("--mission", help=_("mission line under the name (e.g. the observing organisation)"))
    imp.add_argument("--out", required=True, help=_("mission folder to write (replaced only when the import succeeds)"))
    imp.add_argument("--report", help=_("also write the import report (JSON) here"))
    imp.add_argument("--store", metavar="URL", help=_(STORE_HELP))
    imp.add_argument(
        "--force",
        action="store_true",
        help=_("import even when no form, or under half of the rows, would be kept (otherwise refused, naming the likely cause)"),
    )
    imp.set_defaults(func=_import)

    add_account_parsers(sub)  # obsmap users ..., obsmap audit
    _add_lang(parser, default=None)  # obsmap --lang ru brief ..., and obsmap brief --lang ru ...
    return parser


# argparse's own words (usage, options, its errors), which it says through the module's gettext functions: marked here
# so that the catalogues carry them, and said in the command's language (main() gives argparse geo.i18n's functions).
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("ignored explicit argument %r"),
    N_("can't open '%(filename)s': %(error)s"),
)


def main(argv: list[str] | None = None) -> int:
    """Run one ``obsmap`` command, in the language ``--lang`` names, else ``$OBSMAP_LANG`` or the locale's."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    before = i18n.default()  # the process default, put back at the end (tests run commands in one process)
    argparse._ = i18n._  # argparse's own words (ARGPARSE_WORDS) in the command's language; English stays English
    argparse.ngettext = i18n.ngettext
    i18n.set_default(i18n.from_environment())
    try:
        given = _lang_given(argv)
        if given is not None and given != "":
            if i18n.supported(given) is None:  # before the parser: its help would be in a language nobody asked for
                print(f"obsmap: {_unknown_language(given)}", file=sys.stderr)
                return 2
            i18n.set_default(given)
        args = build_parser().parse_args(argv)
        if getattr(args, "lang", None):  # the parser's reading wins (an abbreviation such as --lan)
            i18n.set_default(args.lang)
        try:
            _use_store(args)
            return args.func(args)
        except ObsmapError as exc:
            print(f"obsmap: {exc}", file=sys.stderr)
            return 2
    finally:
        i18n.set_default(before)


if __name__ == "__main__":
    sys.exit(main())
