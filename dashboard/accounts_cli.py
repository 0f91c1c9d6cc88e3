"""``obsmap users`` (who may sign in, with which role) and ``obsmap audit`` (what they did).

Passwords are typed twice at a hidden prompt, or read as one line from standard input with ``--password-stdin``;
never taken from the command line, where other users and the shell history would see them. There is no default
account and no default password: the first admin is made with ``obsmap users add NAME --role admin``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.accounts import (
    ROLES,
    Account,
    AccountError,
    Accounts,
    accounts_path,
    check_password,
    check_role,
    check_username,
    now_iso,
    printable,
)
from geo.errors import ObsmapError
from geo.i18n import N_, _, ngettext, number, pgettext

CLI_ADDRESS = "local"
DURATION = re.compile(r"(\d+)([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> str:
    """``--since``: an ISO date or time (UTC unless it names a zone), or a duration back from now (30m, 24h, 7d).

    >>> parse_since("2026-11-28T10:00")
    '2026-11-28T10:00:00.000Z'
    """
    duration = DURATION.fullmatch(value.strip())
    if duration:
        return now_iso(datetime.now(UTC) - timedelta(**{UNITS[duration[2]]: int(duration[1])}))
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected an ISO date or time (2026-11-28, 2026-11-28T10:00) or a duration (30m, 24h, 7d), got {value}").format(
                value=repr(value)
            )
        ) from None
    return now_iso(when if when.tzinfo else when.replace(tzinfo=UTC))


def _by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in the environment nor in the password database (a bare container)
        return "cli"


def _folder(args: argparse.Namespace) -> Path:
    from dashboard.paths import resolve_data_dir

    return resolve_data_dir(args.data)


def _path(args: argparse.Namespace) -> Path:
    return Path(args.accounts) if args.accounts else accounts_path(_folder(args))


def _open(args: argparse.Namespace) -> Accounts:
    path = _path(args)
    if not path.exists():
        where = f"--accounts {args.accounts}" if args.accounts else f"--data {_folder(args)}"
        raise AccountError(
            _("{path}: no accounts yet; add the first admin with: {command}").format(
                path=path, command=f"obsmap users add NAME --role admin {where}"
            )
        )
    return Accounts(path)


def _regions(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The --regions codes as the mission spells them; an unknown code is refused, naming a few valid ones."""
    if args.regions is None:
        return None
    from geo.mission import load_mission

    wanted = [code.strip() for code in args.regions.split(",") if code.strip()]
    folder = _folder(args)
    try:
        known = load_mission(folder).region_codes
    except ObsmapError as exc:
        raise AccountError(
            _("{folder}: cannot read the mission's regions to check --regions ({error})").format(folder=folder, error=exc)
        ) from None
    by_upper = {code.upper(): code for code in known}
    unknown = [code for code in wanted if code.upper() not in by_upper]
    if unknown:
        some = ", ".join(known[:5])
        if len(known) > 5:
            some = _("{codes} ... ({n} in all)").format(codes=some, n=number(len(known)))
        # TRANSLATORS: {codes} are one or more region codes typed after --regions, e.g. "KZ-XXX, KZ-YYY".
        they = ngettext(
            "{codes} is not a region code of the mission in {folder}; its codes are {some}.",
            "{codes} are not region codes of the mission in {folder}; its codes are {some}.",
            len(unknown),
        )
        raise AccountError(they.format(codes=", ".join(map(printable, unknown)), folder=folder, some=some))
    return tuple(by_upper[code.upper()] for code in wanted)


def _password(args: argparse.Namespace, username: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise AccountError(_("No password on standard input: --password-stdin reads the password as one line."))
        check_password(username, password)
        return password
    password = getpass.getpass(_("Password for {user}: ").format(user=username))
    check_password(username, password)  # before asking again
    if getpass.getpass(_("The same password again: ")) != password:
        raise AccountError(_("The two passwords differ; nothing was changed."))
    return password


def _describe(account: Account) -> str:
    """One account in a line: its name, its role (as --role names it) and regions, and whether it is disabled."""
    regions = f" ({', '.join(account.regions)})" if account.regions else ""
    if account.disabled:
        return _("{user}: {role}{regions}, disabled").format(user=account.username, role=account.role, regions=regions)
    return f"{account.username}: {account.role}{regions}"


def _add(args: argparse.Namespace) -> int:
    check_username(args.name)  # everything that can be checked is, before asking for a password
    regions = _regions(args) or ()
    check_role(args.role, regions)
    path = _path(args)
    if path.exists() and Accounts(path).get(args.name):
        raise AccountError(_("{user}: an account with this name exists already.").format(user=args.name))
    password = _password(args, args.name)
    account = Accounts(path, create=True).add(args.name, password, args.role, regions, by=_by(), address=CLI_ADDRESS)
    print(_("added {account} (in {path})").format(account=_describe(account), path=path))
    return 0


def _list(args: argparse.Namespace) -> int:
    accounts = _open(args).list()
    if args.json:
        fields = ("username", "role", "regions", "disabled", "created_at")
        json.dump([{k: getattr(a, k) for k in fields} for a in accounts], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    # TRANSLATORS: the column heads of `obsmap users list`, in capitals.
    rows = [(_("USER"), _("ROLE"), _("REGIONS"), _("STATUS"), _("CREATED"))]
    disabled, enabled = pgettext("account", "disabled"), pgettext("account", "enabled")
    rows += [(a.username, a.role, ",".join(a.regions) or "-", disabled if a.disabled else enabled, a.created_at[:16]) for a in accounts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _set(args: argparse.Namespace) -> int:
    if args.role is None and args.regions is None:
        raise AccountError(_("Nothing to change: give --role, --regions or both."))
    accounts = _open(args)
    regions = _regions(args)
    print(_describe(accounts.set_role(args.name, args.role, regions, by=_by(), address=CLI_ADDRESS)))
    return 0


def _disable(args: argparse.Namespace) -> int:
    accounts = _open(args)
    before = accounts.get(args.name)
    account = accounts.disable(args.name, by=_by(), address=CLI_ADDRESS)
    done = _("{user}: was already disabled") if before and before.disabled else _("{user}: disabled; its open sessions have ended")
    print(done.format(user=account.username))
    return 0


def _enable(args: argparse.Namespace) -> int:
    accounts = _open(args)
    before = accounts.get(args.name)
    account = accounts.enable(args.name, by=_by(), address=CLI_ADDRESS)
    print((_("{user}: enabled") if before and before.disabled else _("{user}: was already enabled")).format(user=account.username))
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    accounts = _open(args)
    if accounts.get(args.name) is None:  # before asking for a password
        raise AccountError(_("{user}: no such account; see obsmap users list.").format(user=args.name))
    account = accounts.reset_password(args.name, _password(args, args.name), by=_by(), address=CLI_ADDRESS)
    print(_("{user}: password changed; its open sessions have ended").format(user=account.username))
    return 0


def _detail(detail: object) -> str:
    if not isinstance(detail, dict):
        return "" if detail is None else json.dumps(detail, ensure_ascii=False)
    parts = []
    for key, value in detail.items():
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value)) or "-"
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _audit(args: argparse.Namespace) -> int:
    rows = _open(args).audit_rows(args.since)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print(_("no events since {time}").format(time=args.since) if args.since else _("no events"))
    for row in rows:  # unprintable characters replaced: a user name typed at the sign-in form cannot drive the terminal
        line = f"{row['at']}  {row['event']:<17}  {row['user'] or '-'}  {row['address'] or '-'}  {_detail(row['detail'])}"
        print(printable(line.rstrip()))
    return 0


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help=_("mission folder (default: $OBSMAP_DATA, else the demo mission)"))
    parser.add_argument("--accounts", help=_("accounts file (default: $OBSMAP_ACCOUNTS, else accounts.sqlite beside the mission's store)"))


def _password_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help=_("read the password as one line from standard input (for scripts) instead of asking")
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``users`` and ``audit`` to the ``obsmap`` command's subparsers."""
    users = sub.add_parser(
        "users",
        help=_("add, list and change the accounts that may sign in"),
        description=_(
            "Accounts live beside the mission's live store, so they survive re-imports. There is no default "
            "account: make the first admin with `obsmap users add NAME --role admin`. Passwords are asked for, or read "
            "from standard input; never given on the command line."
        ),
    )
    actions = users.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help=_("add an account (asks for its password twice)"))
    add.add_argument("name", help=_("user name: letters, digits, '.', '_', '-', '@' (an email address works)"))
    add.add_argument("--role", required=True, choices=ROLES, help=_("admin, analyst, coordinator (limited to --regions) or viewer"))
    add.add_argument("--regions", help=_("region codes a coordinator sees, separated by commas (e.g. KZ-KAR,KZ-ALA)"))
    _password_flag(add)
    _where(add)
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", help=_("list the accounts"))
    lst.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    _where(lst)
    lst.set_defaults(func=_list)

    chg = actions.add_parser("set", help=_("change an account's role or regions"))
    chg.add_argument("name")
    chg.add_argument("--role", choices=ROLES)
    chg.add_argument("--regions", help=_("region codes a coordinator sees, separated by commas"))
    _where(chg)
    chg.set_defaults(func=_set)

    for name, func, what in (
        ("disable", _disable, N_("stop an account signing in, and end its sessions")),
        ("enable", _enable, N_("let it in again")),
    ):
        action = actions.add_parser(name, help=_(what))
        action.add_argument("name")
        _where(action)
        action.set_defaults(func=func)

    reset = actions.add_parser("reset-password", help=_("set a new password (asks twice) and end the account's sessions"))
    reset.add_argument("name")
    _password_flag(reset)
    _where(reset)
    reset.set_defaults(func=_reset_password)

    audit = sub.add_parser(
        "audit",
        help=_("print the audit: sign-ins, failed sign-ins, account changes, exports"),
        description=_("Print the audit oldest first, one event a line: time (UTC), event, user, address, detail."),
    )
    audit.add_argument("--since", type=parse_since, help=_("from this ISO date or time (UTC), or this long ago: 30m, 24h, 7d"))
    audit.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    _where(audit)
    audit.set_defaults(func=_audit)
