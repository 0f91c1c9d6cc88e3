"""The accounts store: argon2 passwords, roles and regions, session epochs, the rate limit, the append-only audit.

Real argon2 and real SQLite throughout; a hash takes a tenth of a second or more, so each test makes only a few.
"""

import json
import logging
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.accounts import (
    ACCOUNTS_FILE,
    FAILURE_WINDOW,
    MAX_ADDRESS_FAILURES,
    MAX_FAILURES,
    AccountError,
    Accounts,
    Throttled,
    accounts_path,
    now_iso,
)
from geo.store import open_store

PASSWORD = "Zebra-Quartz-7731!"  # distinctive: searched for in every audit row and log line
OTHER = "Yttrium-Kiwi-4410?"
CLI = {"by": "cli:test", "address": "local"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("OBSMAP_ACCOUNTS", raising=False)


@pytest.fixture
def accounts(tmp_path) -> Accounts:
    return Accounts(tmp_path / "home" / ACCOUNTS_FILE, create=True)


def events(accounts: Accounts) -> list[tuple]:
    return [(r["event"], r["user"], r["address"], r["detail"]) for r in accounts.audit_rows()]


def add_failures(accounts: Accounts, n: int, *, user: str, address: str, ago: timedelta) -> None:
    """Failed sign-ins ``ago`` in the past, written straight into the audit (inserting is allowed; changing is not)."""
    with sqlite3.connect(accounts.path) as db:
        at = now_iso(datetime.now(UTC) - ago)
        db.executemany(
            "INSERT INTO audit (at, event, user, address, detail_json) VALUES (?, 'sign_in_failed', ?, ?, NULL)", [(at, user, address)] * n
        )
    db.close()


def test_add_verify_wrong_password_and_unknown_user(accounts):
    assert not accounts.has_accounts()
    ana = accounts.add("ana@example.org", PASSWORD, "admin", **CLI)
    assert (ana.username, ana.role, ana.regions, ana.disabled, ana.session_epoch) == ("ana@example.org", "admin", (), False, 0)
    assert accounts.has_accounts()
    assert accounts.get("ANA@example.org") == ana == accounts.list()[0]
    assert accounts.verify("Ana@Example.org", PASSWORD, address="10.0.0.1") == ana  # user names ignore case
    assert accounts.verify("ana@example.org", OTHER, address="10.0.0.2") is None
    assert accounts.verify("evil\x1b[31m" + "x" * 80, PASSWORD, address="10.0.0.3") is None
    assert events(accounts) == [
        ("user_added", "cli:test", "local", {"account": "ana@example.org", "role": "admin", "regions": []}),
        ("sign_in", "ana@example.org", "10.0.0.1", None),
        ("sign_in_failed", "ana@example.org", "10.0.0.2", {"reason": "wrong password"}),
        ("sign_in_failed", "evil?[31m" + "x" * 55, "10.0.0.3", {"reason": "unknown user"}),  # 64 characters, escape replaced
    ]
    at = accounts.audit_rows()[0]["at"]
    assert datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ") and len(at) == len("2026-11-28T10:00:00.000Z")


def test_failures_per_user_name_are_throttled_across_processes(accounts, tmp_path):
    accounts.add("ana", PASSWORD, "viewer", **CLI)
    other = Accounts(tmp_path / "home" / ACCOUNTS_FILE)  # another gunicorn worker: its own object on the same file
    for i in range(MAX_FAILURES):
        assert (accounts, other)[i % 2].verify("ana", OTHER, address=f"10.0.0.{i}") is None
    with pytest.raises(Throttled) as caught:
        other.verify("ANA", PASSWORD, address="10.9.9.9")  # the right password, from a new address: still refused
    assert 14 * 60 < caught.value.seconds <= FAILURE_WINDOW.total_seconds()
    assert str(caught.value) == "Too many failed sign-ins; try again in 15 minutes."
    last = accounts.audit_rows()[-1]
    assert (last["event"], last["user"], last["address"]) == ("sign_in_throttled", "ANA", "10.9.9.9")
    assert accounts.verify("bob", OTHER, address="10.9.9.9") is None  # another name from that address is not throttled


def test_failures_from_one_address_are_throttled_whatever_the_name(accounts):
    add_failures(accounts, MAX_ADDRESS_FAILURES - 1, user="someone", address="192.0.2.7", ago=timedelta(minutes=1))
    add_failures(accounts, 1, user="else", address="192.0.2.7", ago=timedelta(minutes=14))
    with pytest.raises(Throttled) as caught:
        accounts.verify("ana", PASSWORD, address="192.0.2.7")
    assert 50 <= caught.value.seconds <= 60  # when the oldest of them leaves the window, in a minute
    assert str(caught.value) == "Too many failed sign-ins; try again in 1 minute."
    assert [r["event"] for r in accounts.audit_rows()][-1] == "sign_in_throttled"


def test_failures_older_than_the_window_and_before_a_success_do_not_count(accounts):
    accounts.add("ana", PASSWORD, "viewer", **CLI)
    add_failures(accounts, MAX_FAILURES, user="ana", address="192.0.2.1", ago=FAILURE_WINDOW + timedelta(minutes=1))
    add_failures(accounts, MAX_FAILURES - 1, user="ana", address="192.0.2.2", ago=timedelta(minutes=2))
    assert accounts.verify("ana", PASSWORD, address="192.0.2.3").username == "ana"
    add_failures(accounts, 1, user="ana", address="192.0.2.4", ago=timedelta(0))
    assert accounts.verify("ana", PASSWORD, address="192.0.2.5").username == "ana"  # the success cleared the four before


def test_reset_and_disable_end_sessions(accounts):
    bob = accounts.add("bob", PASSWORD, "analyst", **CLI)
    first = accounts.open_session(bob)
    assert first.startswith(f"{bob.id}:0:") and accounts.by_session_id(first) == bob
    for bad in ("", "x", f"{bob.id}", f"{bob.id}:0", f"{bob.id}:0:1", "99:0:x", f"{bob.id}:7:{first.split(':')[2]}"):
        assert accounts.by_session_id(bad) is None
    bob = accounts.reset_password("bob", OTHER, **CLI)
    assert bob.session_epoch == 1 and accounts.by_session_id(first) is None
    second = accounts.open_session(bob)
    assert accounts.by_session_id(second) == bob
    bob = accounts.disable("bob", **CLI)
    assert bob.disabled and bob.session_epoch == 2 and accounts.by_session_id(second) is None
    assert not accounts.has_accounts()
    assert accounts.verify("bob", OTHER, address="10.0.0.1") is None
    assert accounts.audit_rows()[-1]["detail"] == {"reason": "disabled"}
    bob = accounts.enable("bob", **CLI)
    assert not bob.disabled and bob.session_epoch == 2 and accounts.by_session_id(second) is None
    assert accounts.enable("bob", **CLI) == bob  # already enabled: nothing changes, nothing recorded
    assert [e[0] for e in events(accounts)] == ["user_added", "password_reset", "user_disabled", "sign_in_failed", "user_enabled"]


def test_a_session_ends_at_sign_out_and_after_its_hours(accounts):

    from dashboard.accounts import SESSION_HOURS

    bob = accounts.add("bob", PASSWORD, "analyst", **CLI)
    one, two = accounts.open_session(bob), accounts.open_session(bob)
    accounts.end_session(one)
    assert accounts.by_session_id(one) is None and accounts.by_session_id(two) == bob  # one sign-out ends one session
    old = (datetime.now(UTC) - timedelta(hours=SESSION_HOURS, minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(accounts.path) as db:
        db.execute("UPDATE sessions SET started_at = ? WHERE sid = ?", (old, two.rpartition(":")[2]))
    assert accounts.by_session_id(two) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", PASSWORD, "viewer"), "a user name is 1 to 64 letters"),
        (("-ana", PASSWORD, "viewer"), "not starting with '-'"),
        (("ana lopez", PASSWORD, "viewer"), "a user name is"),
        (("a" * 65, PASSWORD, "viewer"), "a user name is"),
        (("ana\n", PASSWORD, "viewer"), "a user name is"),
        (("ana", "short-pw1", "viewer"), "A password needs at least 10 characters."),
        (("ana.lopez1", "ANA.LOPEZ1", "viewer"), "A password must not be the user name."),
        (("ana", PASSWORD, "root"), "expected a role among admin, analyst, coordinator, viewer"),
        (("ana", PASSWORD, "coordinator"), "A coordinator needs at least one region"),
        (("ana", PASSWORD, "viewer", ("KZ-KAR",)), "Only coordinators are limited to regions"),
    ],
)
def test_what_add_refuses(accounts, args, message):
    with pytest.raises(AccountError, match=message) as caught:
        accounts.add(*args, **CLI)
    assert args[1] not in str(caught.value)  # the password is never repeated
    assert accounts.list() == [] and accounts.audit_rows() == []


def test_user_names_are_unique_whatever_the_case(accounts):
    accounts.add("carl.d-x_y@example.org", PASSWORD, "coordinator", "KZ-KAR, KZ-ALA,KZ-KAR", **CLI)
    assert accounts.get("carl.d-x_y@example.org").regions == ("KZ-KAR", "KZ-ALA")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("CARL.D-X_Y@example.org", PASSWORD, "viewer", **CLI)


def test_roles_regions_and_the_last_admin(accounts):
    accounts.add("ana", PASSWORD, "admin", **CLI)
    accounts.add("carl", OTHER, "coordinator", ["AA"], **CLI)
    assert accounts.set_role("carl", regions="AA,BB", **CLI).regions == ("AA", "BB")
    assert accounts.set_role("carl", "coordinator", **CLI).regions == ("AA", "BB")  # unchanged: no audit row
    carl = accounts.set_role("carl", "viewer", **CLI)
    assert (carl.role, carl.regions) == ("viewer", ())
    with pytest.raises(AccountError, match="Only coordinators"):
        accounts.set_role("carl", "analyst", ["AA"], **CLI)
    with pytest.raises(AccountError, match="A coordinator needs at least one region"):
        accounts.set_role("carl", "coordinator", **CLI)
    with pytest.raises(AccountError, match="ana is the last enabled admin and cannot be given another role"):
        accounts.set_role("ana", "analyst", **CLI)
    with pytest.raises(AccountError, match="ana is the last enabled admin and cannot be disabled"):
        accounts.disable("ana", **CLI)
    with pytest.raises(AccountError, match="nobody: no such account"):
        accounts.disable("nobody", **CLI)
    accounts.set_role("carl", "admin", **CLI)
    assert accounts.disable("ana", **CLI).disabled
    with pytest.raises(AccountError, match="carl is the last enabled admin"):
        accounts.set_role("carl", "viewer", **CLI)
    changes = [r["detail"] for r in accounts.audit_rows() if r["event"] == "user_changed"]
    assert changes[0] == {
        "account": "carl",
        "old": {"role": "coordinator", "regions": ["AA"]},
        "new": {"role": "coordinator", "regions": ["AA", "BB"]},
    }
    assert [c["new"]["role"] for c in changes] == ["coordinator", "viewer", "admin"]


def test_the_audit_is_append_only(accounts):
    accounts.record("export", user="ana", address="10.0.0.1", detail={"format": "csv", "rows": 12})
    accounts.record("sign_out", user="ana", address="10.0.0.1")
    with pytest.raises(ValueError, match="no password"):
        accounts.record("export", user="ana", address="10.0.0.1", detail={"csrf_token": "abc"})
    since = accounts.audit_rows()[1]["at"]
    assert "sign_out" in [r["event"] for r in accounts.audit_rows(since)]
    assert accounts.audit_rows("2999-01-01") == []
    with sqlite3.connect(accounts.path) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE audit SET user = 'someone else'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM audit")
    db.close()
    assert [(r["event"], r["detail"]) for r in accounts.audit_rows()] == [("export", {"format": "csv", "rows": 12}), ("sign_out", None)]


def test_no_password_hash_or_key_in_the_audit_or_the_logs(accounts, caplog):
    caplog.set_level(logging.DEBUG)
    accounts.add("ana", PASSWORD, "admin", **CLI)
    accounts.verify("ana", PASSWORD, address="10.0.0.1")
    accounts.verify("ana", "Wrong-" + PASSWORD, address="10.0.0.1")
    accounts.reset_password("ana", OTHER, **CLI)
    for _ in range(MAX_FAILURES):
        add_failures(accounts, 1, user="ana", address="10.0.0.1", ago=timedelta(0))
    with pytest.raises(Throttled) as caught:
        accounts.verify("ana", OTHER, address="10.0.0.1")
    key = accounts.secret_key()
    with sqlite3.connect(accounts.path) as db:
        (stored,) = db.execute("SELECT password_hash FROM accounts").fetchone()
        audit = json.dumps(db.execute("SELECT * FROM audit").fetchall())
    db.close()
    assert stored.startswith("$argon2id$")
    audit += json.dumps(accounts.audit_rows(), ensure_ascii=False)  # the raw table and what audit_rows gives
    for secret in (PASSWORD, OTHER, stored, stored.split("$")[-1], key.hex(), repr(key)):
        assert secret not in audit and secret not in caplog.text and secret not in str(caught.value)
    assert "Wrong-" not in audit


def test_file_modes_and_the_secret_key(tmp_path):
    path = tmp_path / "new" / "deeper" / ACCOUNTS_FILE
    accounts = Accounts(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = accounts.secret_key()
    assert len(key) == 32 and key != bytes(32)
    assert stat.S_IMODE((path.parent / "secret_key").stat().st_mode) == 0o600
    assert Accounts(path).secret_key() == key == (path.parent / "secret_key").read_bytes()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.execute("INSERT INTO audit (at, event) VALUES ('2026-01-01T00:00:00.000Z', 'test')")
        for wal in path.parent.glob(ACCOUNTS_FILE + "-*"):  # SQLite gives its WAL files the database's mode
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600, wal
    db.close()


def test_an_existing_folder_keeps_its_mode(tmp_path):
    tmp_path.joinpath("shared").mkdir(mode=0o755)
    os.chmod(tmp_path / "shared", 0o755)
    Accounts(tmp_path / "shared" / ACCOUNTS_FILE, create=True)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(
        AccountError, match=r"accounts\.sqlite: no accounts yet; add the first admin with: obsmap users add NAME --role admin"
    ):
        Accounts(tmp_path / ACCOUNTS_FILE)
    assert not (tmp_path / ACCOUNTS_FILE).exists()
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all, just some bytes" * 30)
    with pytest.raises(AccountError, match="junk.sqlite: expected obsmap's accounts file"):
        Accounts(tmp_path / "junk.sqlite")
    (tmp_path / "mission").mkdir()
    open_store(tmp_path / "mission").close()
    with pytest.raises(AccountError, match="store.sqlite: expected obsmap's accounts file, found another SQLite database"):
        Accounts(tmp_path / "mission" / "store.sqlite")


def test_where_the_accounts_live(tmp_path, monkeypatch):
    mission = tmp_path / "mission"
    mission.mkdir()
    expected = tmp_path / ".mission-store" / ACCOUNTS_FILE
    assert accounts_path(mission) == expected  # no store yet: where open_store will put it
    accounts = Accounts.for_folder(mission, create=True)
    assert accounts.path == expected and expected.exists()
    open_store(mission).close()  # the store comes later: the link points into the same folder
    assert (mission / "store.sqlite").is_symlink()
    assert accounts_path(mission) == expected
    version = tmp_path / "mission.v2"  # a folder reached through a link: the store's home, not the link's target, counts
    version.mkdir()
    os.symlink(os.path.relpath(expected.parent / "store.sqlite", version), version / "store.sqlite")
    assert accounts_path(version) == expected
    monkeypatch.setenv("OBSMAP_ACCOUNTS", str(tmp_path / "elsewhere.sqlite"))
    assert accounts_path(mission) == tmp_path / "elsewhere.sqlite"
