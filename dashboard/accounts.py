"""Who may sign in to the dashboard, with which role, and the audit of what they did.

Accounts live in one SQLite file, ``accounts.sqlite``, beside the mission's live store: in ``.NAME-store/`` next to
the mission folder (the folder :func:`geo.store.open_store` makes), not in the mission folder itself. ``obsmap import``
replaces the mission folder on every re-import and carries the store link over, so accounts, sessions and the audit
outlive re-imports just as the forms do. ``$OBSMAP_ACCOUNTS`` names another file (one set of accounts for several
missions, or a protected volume). When the mission's store is PostgreSQL (``--store``), its accounts are in that
database (:mod:`dashboard.pgaccounts`), so every server of the mission shares them.

The ``audit`` table is obsmap's own record of who signed in, who failed to, who changed an account, and what the web
layer reports (exports, briefs, refusals), like ODK Central's ``/v1/audits``. It is append-only: triggers refuse any
UPDATE or DELETE. Nothing secret is ever written to it or to a log: no password, no hash, no key, no token.

Every call opens its own short connection (WAL, a busy timeout), so gunicorn's threads and worker processes can share
the file; the failed sign-in counts behind the rate limit are read from the audit table, so they hold across them all.

>>> ROLES
('admin', 'analyst', 'coordinator', 'viewer')
>>> Account(1, "ana", "viewer", (), False, 3, "2026-11-28T10:00:00.000Z").session_id()
'1:3'
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.errors import ObsmapError
from geo.i18n import _, ngettext, number
from geo.store import STORE_FILE

log = logging.getLogger(__name__)

ROLES = ("admin", "analyst", "coordinator", "viewer")
ACCOUNTS_FILE = "accounts.sqlite"
SECRET_KEY_FILE = "secret_key"
SCHEMA_VERSION = 1
MAX_FAILURES = 5  # failed sign-ins for one user name within FAILURE_WINDOW
# ... and from one address: higher, since an office or a hotel behind one NAT address signs in many people.
MAX_ADDRESS_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10
BUSY_TIMEOUT_MS = 10_000
SESSION_HOURS = 12  # a sign-in lasts this long, however busy (an election night's shift)

USERNAME = re.compile(r"[A-Za-z0-9._@][A-Za-z0-9._@-]{0,63}")
SECRET_WORDS = ("password", "secret", "token", "cookie")  # detail keys record() refuses: the audit holds no secret

SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    regions_json TEXT NOT NULL DEFAULT '[]',
    disabled INTEGER NOT NULL DEFAULT 0,
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    user TEXT,
    address TEXT,
    detail_json TEXT
);
CREATE INDEX IF NOT EXISTS audit_event_at ON audit (event, at);
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""

_hasher = PasswordHasher()
_dummy: list[str] = []  # a hash of a random string, made once: unknown users cost the same argon2 verify as known ones
_dummy_lock = threading.Lock()


def _last_admin(doing: str) -> str:
    """The refusal to leave no enabled admin, per what was asked ("disabled", "given another role")."""
    if doing == "disabled":
        return _("{user} is the last enabled admin and cannot be disabled; make another admin first.")
    return _("{user} is the last enabled admin and cannot be given another role; make another admin first.")


class AccountError(ObsmapError):
    """An account operation that cannot be done; ``str(err)`` is one sentence (never holding a password)."""


class Throttled(AccountError):
    """Too many failed sign-ins for a user name or from an address; ``seconds`` until the next try is allowed."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        minutes = max(1, -(-seconds // 60))
        message = ngettext(
            "Too many failed sign-ins; try again in {n} minute.", "Too many failed sign-ins; try again in {n} minutes.", minutes
        )
        super().__init__(message.format(n=number(minutes)))


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str  # one of ROLES
    regions: tuple[str, ...]  # region codes granted (coordinators only; () for the other roles)
    disabled: bool
    session_epoch: int  # goes up on password reset and disable: sessions made before stop working
    created_at: str

    def session_id(self) -> str:
        """What Flask-Login keeps in the session cookie: the id and the epoch, so a reset or disable ends old sessions."""
        return f"{self.id}:{self.session_epoch}"


def accounts_path(folder: Path | str) -> Path:
    """Where the accounts of the mission folder ``folder`` are: $OBSMAP_ACCOUNTS if set, else beside its live store:
    in the folder the ``store.sqlite`` link points into, or, before there is a store, in ``.NAME-store/`` beside the
    folder, where :func:`geo.store.open_store` will put it."""
    if os.environ.get("OBSMAP_ACCOUNTS"):
        return Path(os.environ["OBSMAP_ACCOUNTS"])
    folder = Path(folder)  # not resolved: the folder is often a link that re-imports switch; the store's home stays
    from geo.pgstore import LOCATION_FILE, store_location

    if store_location(folder):  # the store is PostgreSQL: the accounts are in it too (dashboard/pgaccounts.py)
        return folder / LOCATION_FILE
    store = folder / STORE_FILE
    if store.exists():
        return Path(os.path.realpath(store)).parent / ACCOUNTS_FILE
    return folder.parent / f".{folder.name}-store" / ACCOUNTS_FILE


def now_iso(when: datetime | None = None) -> str:
    """UTC time to the millisecond, fixed width, so that text order is time order.

    >>> now_iso(datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC))
    '2026-11-28T10:00:00.123Z'
    """
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def printable(text: str, limit: int | None = None) -> str:
    """``text`` cut to ``limit`` characters, with control and other unprintable characters replaced by ``?``.

    >>> printable("ana\\x1b[31m\\n", 6)
    'ana?[3'
    """
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise AccountError(
            _("{user}: a user name is 1 to 64 letters, digits, '.', '_', '-' or '@', not starting with '-'.").format(
                user=repr(printable(str(username), 64))
            )
        )
    return username


def check_password(username: str, password: str) -> None:
    """Refuse a password that is too short or is the user name; the message never repeats the password."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(
            ngettext("A password needs at least {n} character.", "A password needs at least {n} characters.", MIN_PASSWORD).format(
                n=MIN_PASSWORD
            )
        )
    if password.casefold() == username.casefold():
        raise AccountError(_("A password must not be the user name."))


def check_role(role: str, regions: tuple[str, ...]) -> None:
    if role not in ROLES:
        raise AccountError(_("{role}: expected a role among {roles}.").format(role=repr(printable(str(role), 64)), roles=", ".join(ROLES)))
    if role == "coordinator" and not regions:
        raise AccountError(_("A coordinator needs at least one region (--regions CODE,CODE)."))
    if role != "coordinator" and regions:
        # TRANSLATORS: {role} is a role as --role names it: admin, analyst or viewer.
        raise AccountError(_("Only coordinators are limited to regions; a {role} sees every region, so give no regions.").format(role=role))


def _regions(regions: Any) -> tuple[str, ...]:
    if isinstance(regions, str):
        regions = regions.split(",")
    return tuple(dict.fromkeys(r.strip() for r in regions or () if r.strip()))


class Accounts:
    """The accounts file of a mission; see the module's docstring. Safe to share between threads and processes."""

    def __new__(cls, path: Path | str, *, create: bool = False) -> Accounts:
        if cls is Accounts and Path(path).name == "store.toml":  # the folder's store is PostgreSQL: so are its accounts
            from dashboard.pgaccounts import PgAccounts

            return super().__new__(PgAccounts)
        return super().__new__(cls)

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise AccountError(
                    _("{path}: no accounts yet; add the first admin with: {command}").format(
                        path=self.path, command="obsmap users add NAME --role admin --data DIR"
                    )
                )
            self._create_file()
        try:
            with self._db() as db:
                found = db.execute("PRAGMA user_version").fetchone()[0]
                if found not in (0, SCHEMA_VERSION):
                    raise AccountError(
                        _("{path}: accounts schema {found}, this obsmap reads schema {version}.").format(
                            path=self.path, found=found, version=SCHEMA_VERSION
                        )
                    )
                if found == 0:
                    if set(_tables(db)) - {"accounts", "audit", "sessions"}:  # e.g. $OBSMAP_ACCOUNTS naming the mission's store
                        raise AccountError(
                            _("{path}: expected obsmap's accounts file, found another SQLite database.").format(path=self.path)
                        )
                    db.execute("PRAGMA journal_mode=WAL")  # kept in the file: every later connection is in WAL mode
                    db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AccountError(
                _("{path}: expected obsmap's accounts file, found a file SQLite cannot use ({error}).").format(path=self.path, error=exc)
            ) from exc

    @classmethod
    def for_folder(cls, folder: Path | str, *, create: bool = False) -> Accounts:
        """The accounts of the mission folder ``folder`` (see :func:`accounts_path`)."""
        return cls(accounts_path(folder), create=create)

    def _create_file(self) -> None:
        if not self.path.parent.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # SQLite gives its WAL files this mode
            log.info("created the accounts file %s", self.path)
        except FileExistsError:
            pass  # another process made it meanwhile: the same file

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short connection; with ``write``, one transaction holding the write lock from the start."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA synchronous = NORMAL")
            db.row_factory = sqlite3.Row
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # ----------------------------------------------------------------------------------------- reading

    @staticmethod
    def _account(row: sqlite3.Row | None) -> Account | None:
        if row is None:
            return None
        regions = tuple(json.loads(row["regions_json"]))
        return Account(row["id"], row["username"], row["role"], regions, bool(row["disabled"]), row["session_epoch"], row["created_at"])

    def get(self, username: str) -> Account | None:
        """The account named ``username`` (any case), or None."""
        with self._db() as db:
            return self._account(db.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone())

    def open_session(self, account: Account) -> str:
        """A new sign-in session of ``account``: its id (``account:epoch:random``), what the browser's signed cookie holds.

        The session lives here, not only in the cookie: signing out ends it for good (a copied cookie is worth nothing
        after), and it ends by itself :data:`SESSION_HOURS` after it began, however busy.
        """
        sid = secrets.token_urlsafe(24)
        with self._db(write=True) as db:
            db.execute("INSERT INTO sessions (sid, account_id, started_at) VALUES (?, ?, ?)", (sid, account.id, now_iso()))
        return f"{account.session_id()}:{sid}"

    def end_session(self, session_id: str) -> None:
        """Sign-out: the session can never be used again."""
        sid = str(session_id).rpartition(":")[2]
        with self._db(write=True) as db:
            db.execute("UPDATE sessions SET ended_at = ? WHERE sid = ? AND ended_at IS NULL", (now_iso(), sid))

    def by_session_id(self, session_id: str) -> Account | None:
        """The account of a session made by :meth:`open_session`; None once it was ended or is older than
        :data:`SESSION_HOURS`, or once its account was disabled or its password reset."""
        try:
            ident, epoch, sid = str(session_id).split(":")
            ident_n, epoch_n = int(ident), int(epoch)
        except ValueError:
            return None
        oldest = now_iso(datetime.now(UTC) - timedelta(hours=SESSION_HOURS))
        with self._db() as db:
            row = db.execute(
                "SELECT a.* FROM accounts a JOIN sessions s ON s.account_id = a.id WHERE a.id = ? AND a.session_epoch = ? "
                "AND a.disabled = 0 AND s.sid = ? AND s.ended_at IS NULL AND s.started_at >= ?",
                (ident_n, epoch_n, sid, oldest),
            ).fetchone()
        return self._account(row)

    def list(self) -> list[Account]:
        with self._db() as db:
            return [self._account(row) for row in db.execute("SELECT * FROM accounts ORDER BY username")]

    def has_accounts(self) -> bool:
        """At least one enabled account (else the dashboard has nobody to let in)."""
        with self._db() as db:
            return db.execute("SELECT 1 FROM accounts WHERE disabled = 0 LIMIT 1").fetchone() is not None

    def audit_rows(self, since: str | None = None) -> list[dict]:
        """The audit, oldest first; ``since`` an ISO date or time (UTC unless it says otherwise)."""
        query, params = "SELECT * FROM audit", ()
        if since:
            query, params = query + " WHERE at >= ?", (_iso_bound(since),)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id", params).fetchall()
        return [
            {k: row[k] for k in ("id", "at", "event", "user", "address")} | {"detail": json.loads(row["detail_json"] or "null")}
            for row in rows
        ]

    # ----------------------------------------------------------------------------------------- changing

    def record(self, event: str, *, user: str | None, address: str | None, detail: dict | None = None) -> None:
        """Append one audit row (the web layer's "sign_out", "export", "brief", "denied", ...)."""
        with self._db(write=True) as db:
            self._record(db, event, user=user, address=address, detail=detail)

    @staticmethod
    def _record(db: sqlite3.Connection, event: str, *, user: str | None, address: str | None, detail: dict | None = None) -> None:
        if any(word in str(key).lower() for key in detail or {} for word in SECRET_WORDS):
            raise ValueError(f"audit detail keys {sorted(detail)}: the audit holds no password, secret, token or cookie")
        db.execute(
            "INSERT INTO audit (at, event, user, address, detail_json) VALUES (?, ?, ?, ?, ?)",
            (
                now_iso(),
                event,
                None if user is None else printable(user, 64),
                None if address is None else printable(address, 100),
                None if detail is None else json.dumps(detail, ensure_ascii=False, default=str),
            ),
        )

    def _existing(self, db: sqlite3.Connection, username: str) -> Account:
        account = self._account(db.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone())
        if account is None:
            raise AccountError(_("{user}: no such account; see obsmap users list.").format(user=printable(str(username), 64)))
        return account

    @staticmethod
    def _check_not_last_admin(db: sqlite3.Connection, account: Account, doing: str) -> None:
        if account.role == "admin" and not account.disabled:
            others = db.execute("SELECT 1 FROM accounts WHERE role = 'admin' AND disabled = 0 AND id != ? LIMIT 1", (account.id,))
            if others.fetchone() is None:
                raise AccountError(_last_admin(doing).format(user=account.username))

    def add(self, username: str, password: str, role: str, regions: Any = (), *, by: str, address: str) -> Account:
        """A new account; the password is kept only as an argon2 hash."""
        check_username(username)
        regions = _regions(regions)
        check_role(role, regions)
        check_password(username, password)
        password_hash = _hasher.hash(password)  # before the write lock: hashing takes a tenth of a second
        stamp = now_iso()
        with self._db(write=True) as db:
            try:
                db.execute(
                    "INSERT INTO accounts (username, password_hash, role, regions_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (username, password_hash, role, json.dumps(regions), stamp, stamp),
                )
            except sqlite3.IntegrityError:
                raise AccountError(_("{user}: an account with this name exists already.").format(user=username)) from None
            self._record(db, "user_added", user=by, address=address, detail={"account": username, "role": role, "regions": list(regions)})
            account = self._existing(db, username)
        log.info("account %s added (%s) by %s", username, role, by)
        return account

    def set_role(self, username: str, role: str | None = None, regions: Any = None, *, by: str, address: str) -> Account:
        """Change the role, the regions, or both; a role other than coordinator drops the regions."""
        with self._db(write=True) as db:
            old = self._existing(db, username)
            new_role = role or old.role
            kept = old.regions if new_role == "coordinator" else ()
            new_regions = kept if regions is None else _regions(regions)
            check_role(new_role, new_regions)
            if (new_role, new_regions) == (old.role, old.regions):
                return old
            if new_role != "admin":
                self._check_not_last_admin(db, old, "given another role")
            db.execute(
                "UPDATE accounts SET role = ?, regions_json = ?, updated_at = ? WHERE id = ?",
                (new_role, json.dumps(new_regions), now_iso(), old.id),
            )
            detail = {
                "account": old.username,
                "old": {"role": old.role, "regions": list(old.regions)},
                "new": {"role": new_role, "regions": list(new_regions)},
            }
            self._record(db, "user_changed", user=by, address=address, detail=detail)
            return self._existing(db, username)

    def _set_disabled(self, username: str, disabled: bool, *, by: str, address: str) -> Account:
        with self._db(write=True) as db:
            old = self._existing(db, username)
            if old.disabled == disabled:
                return old
            if disabled:
                self._check_not_last_admin(db, old, "disabled")
            db.execute(
                "UPDATE accounts SET disabled = ?, session_epoch = session_epoch + ?, updated_at = ? WHERE id = ?",
                (int(disabled), int(disabled), now_iso(), old.id),  # disabling ends the account's sessions
            )
            self._record(db, "user_disabled" if disabled else "user_enabled", user=by, address=address, detail={"account": old.username})
            return self._existing(db, username)

    def disable(self, username: str, *, by: str, address: str) -> Account:
        """The account can no longer sign in, and its open sessions end."""
        return self._set_disabled(username, True, by=by, address=address)

    def enable(self, username: str, *, by: str, address: str) -> Account:
        return self._set_disabled(username, False, by=by, address=address)

    def reset_password(self, username: str, password: str, *, by: str, address: str) -> Account:
        """A new password; the account's open sessions end."""
        account = self.get(username)
        if account is None:
            raise AccountError(_("{user}: no such account; see obsmap users list.").format(user=printable(str(username), 64)))
        check_password(account.username, password)
        password_hash = _hasher.hash(password)
        with self._db(write=True) as db:
            account = self._existing(db, username)
            db.execute(
                "UPDATE accounts SET password_hash = ?, session_epoch = session_epoch + 1, updated_at = ? WHERE id = ?",
                (password_hash, now_iso(), account.id),
            )
            self._record(db, "password_reset", user=by, address=address, detail={"account": account.username})
            return self._existing(db, username)

    # ----------------------------------------------------------------------------------------- signing in

    def _throttled_for(self, username: str, address: str) -> int:
        """Seconds until a sign-in as ``username`` from ``address`` is allowed again; 0 if allowed now.

        The failures are counted in the audit table itself, so the limit holds across gunicorn's workers and threads
        and across restarts. Two attempts at the same instant may both pass the check: the limit is a few over, never
        lifted. A successful sign-in clears the user name's count, not the address's (one known account must not let
        an address go on guessing others).
        """
        start = now_iso(datetime.now(UTC) - FAILURE_WINDOW)
        with self._db() as db:
            by_user = db.execute(
                "SELECT at FROM audit WHERE event = 'sign_in_failed' AND user = ? COLLATE NOCASE AND at >= ? AND at > "
                "COALESCE((SELECT MAX(at) FROM audit WHERE event = 'sign_in' AND user = ? COLLATE NOCASE), '') "
                "ORDER BY at DESC LIMIT ?",
                (username, start, username, MAX_FAILURES),
            ).fetchall()
            by_address = db.execute(
                "SELECT at FROM audit WHERE event = 'sign_in_failed' AND address = ? AND at >= ? ORDER BY at DESC LIMIT ?",
                (address, start, MAX_ADDRESS_FAILURES),
            ).fetchall()
        wait = 0.0
        for rows, limit in ((by_user, MAX_FAILURES), (by_address, MAX_ADDRESS_FAILURES)):
            if len(rows) >= limit:  # allowed again when the oldest of the last MAX_FAILURES leaves the window
                until = datetime.strptime(rows[-1]["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + FAILURE_WINDOW
                wait = max(wait, (until - datetime.now(UTC)).total_seconds())
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def _throttle_recorded(self, username: str, address: str) -> bool:
        start = now_iso(datetime.now(UTC) - FAILURE_WINDOW)
        with self._db() as db:
            found = db.execute(
                "SELECT 1 FROM audit WHERE event = 'sign_in_throttled' AND user = ? AND address = ? AND at >= ? LIMIT 1",
                (username, address, start),
            ).fetchone()
        return found is not None

    def verify(self, username: str, password: str, *, address: str) -> Account | None:
        """The account if ``password`` is its password and it is enabled, else None; every attempt is audited.

        Raises :class:`Throttled`, without looking at the password, after :data:`MAX_FAILURES` failed sign-ins for
        the user name, or :data:`MAX_ADDRESS_FAILURES` from the address, within :data:`FAILURE_WINDOW`.
        """
        attempted = printable(str(username), 64)
        wait = self._throttled_for(attempted, address)
        if wait:
            if not self._throttle_recorded(attempted, address):  # once per name and address and window: no audit flood
                self.record("sign_in_throttled", user=attempted, address=address, detail={"retry_after_s": wait})
                log.warning("sign-in throttled for %r from %s", attempted, address)
            raise Throttled(wait)
        with self._db() as db:
            row = db.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone()
        if row is None:
            _matches(_dummy_hash(), password)  # the same time as for a known user: the reply does not tell who exists
            self.record("sign_in_failed", user=attempted, address=address, detail={"reason": "unknown user"})
            return None
        account = self._account(row)
        if not _matches(row["password_hash"], password):
            self.record("sign_in_failed", user=account.username, address=address, detail={"reason": "wrong password"})
            return None
        if account.disabled:
            self.record("sign_in_failed", user=account.username, address=address, detail={"reason": "disabled"})
            return None
        detail = None
        if _hasher.check_needs_rehash(row["password_hash"]):  # argon2's parameters went up since: keep the hash current
            fresh = _hasher.hash(password)
            with self._db(write=True) as db:  # unless a reset came meanwhile
                update = "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?"
                db.execute(update, (fresh, account.id, row["password_hash"]))
            detail = {"rehashed": True}
        self.record("sign_in", user=account.username, address=address, detail=detail)
        return account

    # ----------------------------------------------------------------------------------------- the key

    def secret_key(self) -> bytes:
        """The Flask session and CSRF key: 32 random bytes in ``secret_key`` beside the accounts file (mode 0600).

        Made once, by whichever process comes first (O_EXCL); the others read it. Never logged.
        """
        path = self.path.parent / SECRET_KEY_FILE
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            for _attempt in range(50):  # the process that made it may still be writing its 32 bytes
                key = path.read_bytes()
                if len(key) >= 32:
                    return key
                time.sleep(0.02)
            raise AccountError(
                _("{path}: expected 32 random bytes (the session key); delete the file to make a new one.").format(path=path)
            ) from None
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        log.info("created the session key file %s", path)
        return key


def _tables(db: sqlite3.Connection) -> list[str]:
    return [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _dummy_hash() -> str:
    with _dummy_lock:
        if not _dummy:
            _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
        return _dummy[0]


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _iso_bound(since: str) -> str:
    """An ISO date or time, as the audit's UTC text stamps, for comparing; a time without a zone is UTC.

    >>> _iso_bound("2026-11-28"), _iso_bound("2026-11-28T12:00+02:00")
    ('2026-11-28T00:00:00.000Z', '2026-11-28T10:00:00.000Z')
    """
    try:
        when = datetime.fromisoformat(since)
    except ValueError:
        raise AccountError(
            _("{value}: expected an ISO date or time, such as 2026-11-28 or 2026-11-28T10:00.").format(value=repr(since))
        ) from None
    return now_iso(when if when.tzinfo else when.replace(tzinfo=UTC))
