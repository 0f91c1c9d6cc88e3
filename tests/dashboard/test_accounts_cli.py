"""`obsmap users` and `obsmap audit` on a tiny mission in tmp_path: passwords from a prompt or standard input only."""

import argparse
import getpass
import io
import json
import logging
import stat
import sys

import pytest

from dashboard import cli
from dashboard.accounts import ACCOUNTS_FILE, Accounts
from dashboard.accounts_cli import _by, add_parsers
from geo.errors import ObsmapError
from tests.conftest import build_tiny

PASSWORD = "Zebra-Quartz-7731!"  # distinctive: searched for in every output and log line
OTHER = "Yttrium-Kiwi-4410?"


def wired() -> bool:
    """Whether dashboard/cli.py has taken the commands in yet (then the tests go through its main)."""
    return any(isinstance(a, argparse._SubParsersAction) and "users" in a.choices for a in cli.build_parser()._actions)


def obsmap(*argv: str) -> int:
    """``obsmap ARGV`` as the installed command runs it: a sentence and exit code 2 for an ObsmapError."""
    if wired():
        return cli.main(list(argv))
    parser = argparse.ArgumentParser(prog="obsmap")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return args.func(args)
    except ObsmapError as exc:
        print(f"obsmap: {exc}", file=sys.stderr)
        return 2


@pytest.fixture
def mission(tmp_path, monkeypatch):
    for name in ("OBSMAP_ACCOUNTS", "OBSMAP_DATA"):
        monkeypatch.delenv(name, raising=False)
    return build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}]).path


def stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def prompts(monkeypatch, *answers: str) -> list[str]:
    """Answer getpass's prompts in turn; the prompts shown are returned."""
    asked, replies = [], iter(answers)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ", stream=None: asked.append(prompt) or next(replies))
    return asked


def test_users_and_audit_end_to_end(mission, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    data = ("--data", str(mission))
    stdin(monkeypatch, PASSWORD + "\n")
    assert obsmap("users", "add", "ana", "--role", "admin", "--password-stdin", *data) == 0
    path = tmp_path / ".mission-store" / ACCOUNTS_FILE  # beside the store, out of the folder re-imports replace
    assert f"added ana: admin (in {path})" in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Accounts(path).verify("ana", PASSWORD, address="test").username == "ana"  # the line, without its newline

    asked = prompts(monkeypatch, OTHER, OTHER)
    assert obsmap("users", "add", "carl", "--role", "coordinator", "--regions", "aa, BB", *data) == 0
    assert asked == ["Password for carl: ", "The same password again: "]
    assert "added carl: coordinator (AA, BB)" in capsys.readouterr().out

    assert obsmap("users", "list", "--json", *data) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["username"], a["role"], a["regions"], a["disabled"]) for a in listed] == [
        ("ana", "admin", [], False),
        ("carl", "coordinator", ["AA", "BB"], False),
    ]
    assert set(listed[0]) == {"username", "role", "regions", "disabled", "created_at"}

    assert obsmap("users", "set", "carl", "--role", "viewer", *data) == 0
    assert capsys.readouterr().out == "carl: viewer\n"
    assert obsmap("users", "disable", "carl", *data) == 0
    assert capsys.readouterr().out == "carl: disabled; its open sessions have ended\n"
    assert obsmap("users", "disable", "carl", *data) == 0
    assert capsys.readouterr().out == "carl: was already disabled\n"
    assert obsmap("users", "enable", "carl", *data) == 0
    stdin(monkeypatch, "Another-Secret-55\n")
    assert obsmap("users", "reset-password", "carl", "--password-stdin", *data) == 0
    assert "carl: password changed" in capsys.readouterr().out
    assert obsmap("users", "list", *data) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["USER", "ROLE", "REGIONS", "STATUS", "CREATED"]
    assert table[2].split()[:4] == ["carl", "viewer", "-", "enabled"]

    assert obsmap("audit", "--since", "1h", *data) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [
        "user_added",
        "sign_in",
        "user_added",
        "user_changed",
        "user_disabled",
        "user_enabled",
        "password_reset",
    ]
    assert lines[0].split()[2:] == [_by(), "local", "account=ana", "role=admin", "regions=-"]
    assert "old={" in lines[3] and "account=carl" in lines[3]
    assert obsmap("audit", "--json", "--since", "2000-01-01", *data) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[3]["detail"] == {
        "account": "carl",
        "old": {"role": "coordinator", "regions": ["AA", "BB"]},
        "new": {"role": "viewer", "regions": []},
    }
    assert obsmap("audit", "--since", "2999-01-01T00:00", *data) == 0
    assert capsys.readouterr().out.startswith("no events since 2999-01-01T00:00:00.000Z")

    for secret in (PASSWORD, OTHER, "Another-Secret-55", "$argon2"):
        assert secret not in json.dumps(rows) and secret not in "\n".join(lines) and secret not in caplog.text


def test_passwords_that_differ_or_are_too_short(mission, tmp_path, monkeypatch, capsys):
    prompts(monkeypatch, PASSWORD, PASSWORD + "x")
    assert obsmap("users", "add", "ana", "--role", "admin", "--data", str(mission)) == 2
    assert capsys.readouterr().err == "obsmap: The two passwords differ; nothing was changed.\n"
    assert not (tmp_path / ".mission-store").exists()  # nothing was made either
    asked = prompts(monkeypatch, "short", "short")
    assert obsmap("users", "add", "ana", "--role", "admin", "--data", str(mission)) == 2
    assert len(asked) == 1  # refused at once, not after asking again
    assert capsys.readouterr().err == "obsmap: A password needs at least 10 characters.\n"
    stdin(monkeypatch, "")
    assert obsmap("users", "add", "ana", "--role", "admin", "--password-stdin", "--data", str(mission)) == 2
    assert "No password on standard input" in capsys.readouterr().err


def test_no_password_on_the_command_line(mission, capsys):
    with pytest.raises(SystemExit) as exit_:
        obsmap("users", "add", "ana", "--role", "admin", "--password", PASSWORD, "--data", str(mission))
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_region_codes_are_checked_against_the_mission(mission, tmp_path, monkeypatch, capsys):
    asked = prompts(monkeypatch)
    assert obsmap("users", "add", "carl", "--role", "coordinator", "--regions", "AA,KZ-KAR,zz", "--data", str(mission)) == 2
    assert capsys.readouterr().err == f"obsmap: KZ-KAR, zz are not region codes of the mission in {mission}; its codes are AA, BB.\n"
    assert obsmap("users", "add", "carl", "--role", "coordinator", "--regions", "ZZ", "--data", str(mission)) == 2
    assert "obsmap: ZZ is not a region code of the mission" in capsys.readouterr().err
    assert obsmap("users", "add", "carl", "--role", "coordinator", "--data", str(mission)) == 2
    assert "A coordinator needs at least one region" in capsys.readouterr().err
    assert obsmap("users", "add", "carl", "--role", "coordinator", "--regions", "AA", "--data", str(tmp_path / "nowhere")) == 2
    assert capsys.readouterr().err.startswith(f"obsmap: {tmp_path / 'nowhere'}: cannot read the mission's regions to check --regions")
    assert asked == []  # refused before any password was asked for


def test_missing_accounts_and_the_accounts_option(mission, tmp_path, monkeypatch, capsys):
    for argv in (("users", "list"), ("users", "set", "ana", "--role", "viewer"), ("audit",)):
        assert obsmap(*argv, "--data", str(mission)) == 2
        expected = (
            f"{tmp_path / '.mission-store' / ACCOUNTS_FILE}: no accounts yet; add the first admin with: obsmap users add NAME --role admin"
        )
        assert capsys.readouterr().err == f"obsmap: {expected} --data {mission}\n"
    elsewhere = tmp_path / "private" / "team.sqlite"
    stdin(monkeypatch, PASSWORD + "\n")
    assert obsmap("users", "add", "vera", "--role", "viewer", "--password-stdin", "--accounts", str(elsewhere), "--data", str(mission)) == 0
    assert elsewhere.exists() and not (tmp_path / ".mission-store").exists()
    monkeypatch.setenv("OBSMAP_ACCOUNTS", str(elsewhere))
    assert obsmap("users", "list", "--data", str(mission)) == 0
    assert "vera" in capsys.readouterr().out
    assert obsmap("users", "disable", "nobody", "--data", str(mission)) == 2
    assert capsys.readouterr().err == "obsmap: nobody: no such account; see obsmap users list.\n"
    stdin(monkeypatch, PASSWORD + "\n")
    assert obsmap("users", "add", "VERA", "--role", "viewer", "--password-stdin", "--data", str(mission)) == 2
    assert capsys.readouterr().err == "obsmap: VERA: an account with this name exists already.\n"
    assert obsmap("users", "set", "vera", "--data", str(mission)) == 2
    assert "Nothing to change" in capsys.readouterr().err


@pytest.mark.parametrize("since", ["yesterday", "24", "3w", "2026-13-01"])
def test_since_must_be_a_date_or_a_duration(mission, since, capsys):
    with pytest.raises(SystemExit) as exit_:
        obsmap("audit", "--since", since, "--data", str(mission))
    assert exit_.value.code == 2
    assert "expected an ISO date or time (2026-11-28, 2026-11-28T10:00) or a duration (30m, 24h, 7d)" in capsys.readouterr().err
