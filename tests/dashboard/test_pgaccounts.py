"""Accounts, sessions, the audit and the session key in PostgreSQL (dashboard/pgaccounts.py), on the tests' own server.

Two ``PgAccounts`` on one database stand for two servers: what one does, the other sees.
"""

from __future__ import annotations

import psycopg
import pytest

from dashboard.accounts import AccountError, Accounts, Throttled, accounts_path
from dashboard.pgaccounts import PgAccounts

PASSWORD = "pg-accounts-pass-4471"


@pytest.fixture()
def folder(tmp_path, pg_url, monkeypatch):
    """A mission folder whose store is PostgreSQL (its store.toml), and no $OBSMAP_ACCOUNTS."""
    monkeypatch.delenv("OBSMAP_ACCOUNTS", raising=False)
    monkeypatch.delenv("OBSMAP_STORE", raising=False)
    (tmp_path / "mission").mkdir()
    (tmp_path / "mission" / "store.toml").write_text(f'url = "{pg_url}"\n', encoding="utf-8")
    return tmp_path / "mission"


def test_a_folder_whose_store_is_postgresql_keeps_its_accounts_there(folder, pg_url):
    path = accounts_path(folder)
    one, two = Accounts(path, create=True), Accounts.for_folder(folder)
    assert isinstance(one, PgAccounts) and isinstance(two, PgAccounts) and one.location == pg_url
    ana = one.add("Ana", PASSWORD, "analyst", by="admin", address="local")
    assert two.get("ANA") == ana and two.verify("ana", PASSWORD, address="10.0.0.1") == ana  # names in any case
    with pytest.raises(AccountError, match="exists already"):
        two.add("ana", PASSWORD, "viewer", by="admin", address="local")
    session = one.open_session(ana)
    assert two.by_session_id(session) == ana
    two.end_session(session)
    assert one.by_session_id(session) is None  # signed out on one server: out on every one
    assert one.secret_key() == two.secret_key() and len(one.secret_key()) == 32  # the cookie's key, shared
    assert [r["event"] for r in one.audit_rows()] == ["user_added", "sign_in"] and one.audit_rows()[-1]["user"] == "Ana"


def test_failed_sign_ins_are_counted_across_servers(folder):
    one, two = Accounts(accounts_path(folder), create=True), Accounts(accounts_path(folder))
    one.add("bob", PASSWORD, "viewer", by="admin", address="local")
    for accounts in [one, two] * 2 + [one]:  # five failures, alternately on two servers
        assert accounts.verify("bob", "wrong-password-0", address="10.0.0.9") is None
    with pytest.raises(Throttled):
        two.verify("bob", PASSWORD, address="10.0.0.9")


def test_the_audit_is_append_only_in_postgresql_too(folder, pg_url):
    accounts = Accounts(accounts_path(folder), create=True)
    accounts.record("export", user="ana", address="local", detail={"rows": 3})
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sql in ("UPDATE audit SET event = 'nothing'", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(sql)
    assert [r["event"] for r in accounts.audit_rows()] == ["export"]


def test_the_last_admin_stays(folder):
    accounts = Accounts(accounts_path(folder), create=True)
    accounts.add("root", PASSWORD, "admin", by="cli", address="local")
    with pytest.raises(AccountError, match="last enabled admin"):
        accounts.disable("root", by="cli", address="local")
