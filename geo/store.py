"""The mission's live store: every version of every form, the current one, its review state, and a data version.

Embedded default: SQLite in WAL mode inside the mission folder (``store.sqlite``): nothing to install,
and readers (the dashboard) never wait for the writer (a sync or an import). The SQL is plain, so the
same schema can live in PostgreSQL behind the same interface.

- **One logical form** is one ``form_key`` (ODK's root ``__id``, Kobo's ``meta/rootUuid``, else the
  ``_uuid`` chain through ``meta/deprecatedID``, else a file's ``form_id``). Each delivery of it is a
  *version*; the current version is the latest by the tool's own time stamp, and an identical
  resubmission (same content) is a no-op.
- **Review** is one of :data:`REVIEW_STATES`; **deletions** keep the history and take the form out.
- **The data version** is a number that goes up in the same transaction as any change a figure could
  see. Everything the dashboard shows is a function of (filters, data version).
- **Cursors**: each source's position is written in the same transaction as the rows it covers, so a
  sync killed at any moment resumes where its last commit ended: nothing lost, nothing doubled.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import MissionDataError
from geo.schema import FORM_COLUMNS

STORE_FILE = "store.sqlite"
SCHEMA_VERSION = 1
REVIEW_STATES = ("pending", "flagged", "approved", "rejected")

SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS form_versions (
    id INTEGER PRIMARY KEY,
    form_key TEXT NOT NULL,
    version_id TEXT,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    data_version INTEGER NOT NULL,
    row_json TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS form_versions_content ON form_versions (form_key, content_hash);
CREATE INDEX IF NOT EXISTS form_versions_version_id ON form_versions (version_id);
CREATE TABLE IF NOT EXISTS forms_current (
    form_key TEXT PRIMARY KEY,
    version INTEGER NOT NULL REFERENCES form_versions (id),
    submitted_at TEXT NOT NULL,
    review TEXT NOT NULL DEFAULT 'pending',
    deleted INTEGER NOT NULL DEFAULT 0,
    first_data_version INTEGER NOT NULL,
    changed_data_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    row_ref TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT,
    original_json TEXT NOT NULL,
    data_version INTEGER NOT NULL,
    UNIQUE (source, row_ref, reason, original_json)
);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Submission:
    """One version of one form, as a source delivered it.

    ``row`` holds the canonical columns as text (already checked, region resolved). ``previous_id``
    is the tool's id of the version this one replaces (Kobo's ``meta/deprecatedID``): when its
    ``form_key`` is not known otherwise, the chain gives it. ``submitted_at`` (ISO 8601, UTC) orders
    versions. ``review`` ``None`` leaves the state as it is; ``deleted`` takes the form out.
    """

    form_key: str
    row: dict[str, Any] | None
    submitted_at: str
    version_id: str | None = None
    previous_id: str | None = None
    review: str | None = None
    deleted: bool = False


@dataclass
class IngestResult:
    """What one :meth:`Store.ingest` changed; ``data_version`` is the store's version after it."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0  # a version older than the current one: kept in the history, not shown
    reviewed: int = 0
    deleted: int = 0
    set_aside: int = 0
    data_version: int = 0

    @property
    def changed(self) -> bool:
        """Whether a figure could have changed (rows set aside change none: they are kept, not counted)."""
        return bool(self.new or self.updated or self.reviewed or self.deleted)


def now_utc() -> str:
    """Now, in UTC with microseconds: the store's time stamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normal_time(value: str) -> str:
    """An ISO 8601 time as UTC with microseconds, so versions compare as text in time order
    ("…00Z" and "…00.500Z" from two tools would not). Without a zone, UTC is assumed."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return value
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(row: dict[str, Any] | None) -> str:
    """The same canonical content gives the same hash, whatever the key order or the source."""
    clean = {k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)) for k, v in (row or {}).items()}
    return hashlib.blake2b(json.dumps(clean, sort_keys=True, ensure_ascii=False).encode(), digest_size=16).hexdigest()


class Store:
    """A mission's store in SQLite (WAL). Writes are serialised by a lock; share a Store between threads
    only for reading (the dashboard) or only for writing (a sync), not both: a read on the writer's
    connection during its transaction would see rows not yet committed."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
            self._db.executescript(SCHEMA)
            found = self._meta("schema_version")
            if found is None:
                self._db.execute("INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self._db.execute("INSERT OR IGNORE INTO store_meta VALUES ('data_version', '0')")
            elif int(found) != SCHEMA_VERSION:
                raise MissionDataError(f"{self.path}: store schema {found}, this obsmap reads schema {SCHEMA_VERSION}.")
            if self._meta("store_id") is None:  # names this store, so nothing made from another one is taken for it
                self._db.execute("INSERT OR IGNORE INTO store_meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        except sqlite3.DatabaseError as exc:
            raise MissionDataError(f"{self.path}: expected obsmap's SQLite store, found a file SQLite cannot use ({exc}).") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- reading
    def _meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else found[0]

    def store_id(self) -> str:
        """A random name given to the store when it was made: a store made again (with its versions from 1) has another."""
        return self._meta("store_id") or ""

    def data_version(self) -> int:
        """The number that changes whenever a figure could change: one indexed read, cheap to poll."""
        return int(self._meta("data_version") or 0)

    def cursor(self, source: str) -> str | None:
        found = self._db.execute("SELECT value FROM cursors WHERE source = ?", (source,)).fetchone()
        return None if found is None else found[0]

    def current_forms(self, changed_since: int | None = None) -> pd.DataFrame:
        """The current version of every form not deleted: canonical columns as text, plus ``review``,
        ``form_key``, ``first_data_version`` (when it first arrived) and ``changed_data_version``.

        ``changed_since``: only the forms changed after that data version, deleted ones included (with
        ``deleted`` true and no values): what brings a snapshot of that version up to date.
        """
        where = "c.deleted = 0" if changed_since is None else "c.changed_data_version > ?"
        rows = self._db.execute(
            "SELECT c.form_key, c.review, c.first_data_version, c.changed_data_version, c.deleted, v.row_json "  # noqa: S608
            f"FROM forms_current c JOIN form_versions v ON v.id = c.version WHERE {where} ORDER BY c.form_key",
            () if changed_since is None else (changed_since,),
        ).fetchall()
        extra = ("form_key", "review", "first_data_version", "changed_data_version", "deleted")
        records = [{**({} if r[4] else json.loads(r[5])), **dict(zip(extra, r[:5], strict=True))} for r in rows]
        frame = pd.DataFrame.from_records(records, columns=[*FORM_COLUMNS, *extra])
        for col in FORM_COLUMNS:
            frame[col] = frame[col].astype("string")
        frame["deleted"] = frame["deleted"].astype(bool)
        return frame if changed_since is not None else frame.drop(columns="deleted")

    def keys_from_source(self, source: str) -> set[str]:
        """The forms (not deleted) whose current version came from ``source``: what a full reconciliation compares."""
        rows = self._db.execute(
            "SELECT c.form_key FROM forms_current c JOIN form_versions v ON v.id = c.version WHERE c.deleted = 0 AND v.source = ?",
            (source,),
        ).fetchall()
        return {r[0] for r in rows}

    def keys_for_versions(self, version_ids: Iterable[str]) -> dict[str, str]:
        """The form each known tool version id belongs to (a Kobo chain without rootUuid resolves through it)."""
        ids = sorted(set(version_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT version_id, form_key FROM form_versions WHERE version_id IN ({marks})"  # noqa: S608 - placeholders
            out.update(dict(self._db.execute(query, chunk).fetchall()))
        return out

    def counts(self) -> dict[str, int]:
        """Forms current (not deleted), versions kept, deleted, rejected, set aside."""
        one = lambda sql: int(self._db.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "forms": one("SELECT COUNT(*) FROM forms_current WHERE deleted = 0"),
            "versions": one("SELECT COUNT(*) FROM form_versions"),
            "deleted": one("SELECT COUNT(*) FROM forms_current WHERE deleted = 1"),
            "rejected": one("SELECT COUNT(*) FROM forms_current WHERE deleted = 0 AND review = 'rejected'"),
            "set_aside": one("SELECT COUNT(*) FROM set_aside"),
        }

    def set_aside_rows(self) -> pd.DataFrame:
        query = "SELECT source, row_ref AS row, reason, detail, original_json AS original FROM set_aside ORDER BY id"
        return pd.read_sql_query(query, self._db)

    def history(self, form_key: str) -> list[dict[str, Any]]:
        """Every version of one form, oldest first."""
        rows = self._db.execute(
            "SELECT version_id, source, submitted_at, ingested_at, row_json FROM form_versions "
            "WHERE form_key = ? ORDER BY submitted_at, id",
            (form_key,),
        ).fetchall()
        return [{"version_id": r[0], "source": r[1], "submitted_at": r[2], "ingested_at": r[3], "row": json.loads(r[4])} for r in rows]

    # ------------------------------------------------------------------------------------- writing
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def ingest(
        self,
        submissions: Iterable[Submission],
        source: str,
        *,
        cursor: str | None = None,
        set_aside: Iterable[dict[str, Any]] = (),
    ) -> IngestResult:
        """Apply one batch from ``source`` in one transaction, with the source's new ``cursor``.

        ``set_aside`` rows (``row``, ``reason``, ``detail``, ``original``) are kept with their reason;
        the same row set aside twice is kept once.
        """
        result = IngestResult()
        with self._transaction() as db:
            version = int(db.execute("SELECT value FROM store_meta WHERE key = 'data_version'").fetchone()[0]) + 1
            now = now_utc()
            for sub in submissions:
                self._apply(db, sub, source, version, now, result)
            for bad in set_aside:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO set_aside (source, row_ref, reason, detail, original_json, data_version) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (source, str(bad["row"]), bad["reason"], bad.get("detail"), bad.get("original") or "{}", version),
                ).rowcount
                result.set_aside += inserted
            if cursor is not None:
                db.execute(
                    "INSERT INTO cursors VALUES (?, ?, ?) "
                    "ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (source, cursor, now),
                )
            if result.changed:
                db.execute("UPDATE store_meta SET value = ? WHERE key = 'data_version'", (str(version),))
            result.data_version = version if result.changed else version - 1
        return result

    def _apply(self, db: sqlite3.Connection, sub: Submission, source: str, version: int, now: str, result: IngestResult) -> None:
        key = sub.form_key
        sub = replace(sub, submitted_at=normal_time(sub.submitted_at))
        if sub.previous_id:  # Kobo: an edit points at the version it replaces; its form is that one's form
            found = db.execute("SELECT form_key FROM form_versions WHERE version_id = ? LIMIT 1", (sub.previous_id,)).fetchone()
            if found:
                key = found[0]
        current = db.execute("SELECT version, submitted_at, review, deleted FROM forms_current WHERE form_key = ?", (key,)).fetchone()
        if sub.deleted:
            if current and not current[3]:
                db.execute("UPDATE forms_current SET deleted = 1, changed_data_version = ? WHERE form_key = ?", (version, key))
                result.deleted += 1
            return
        review = sub.review if sub.review in REVIEW_STATES else None
        if sub.row is None:  # a review change only
            if current and review and review != current[2]:
                db.execute("UPDATE forms_current SET review = ?, changed_data_version = ? WHERE form_key = ?", (review, version, key))
                result.reviewed += 1
            return
        digest = content_hash(sub.row)
        known = db.execute("SELECT id, submitted_at FROM form_versions WHERE form_key = ? AND content_hash = ?", (key, digest)).fetchone()
        if known is None:
            row_json = json.dumps(sub.row, ensure_ascii=False, sort_keys=True, default=str)
            version_row = db.execute(
                "INSERT INTO form_versions (form_key, version_id, source, content_hash, submitted_at, ingested_at, data_version, row_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, sub.version_id, source, digest, sub.submitted_at, now, version, row_json),
            ).lastrowid
        else:
            version_row = known[0]
        if current is None:
            db.execute(
                "INSERT INTO forms_current (form_key, version, submitted_at, review, deleted, first_data_version, changed_data_version) "
                "VALUES (?, ?, ?, ?, 0, ?, ?)",
                (key, version_row, sub.submitted_at, review or "pending", version, version),
            )
            result.new += 1
            return
        cur_version, cur_at, cur_review, cur_deleted = current
        newer = sub.submitted_at >= cur_at
        changes: dict[str, Any] = {}
        if newer and version_row != cur_version:
            changes.update(version=version_row, submitted_at=sub.submitted_at)
        if newer and review and review != cur_review:
            changes["review"] = review
        if newer and cur_deleted:
            changes["deleted"] = 0  # a later delivery of a deleted form brings it back (a restore, or a wrong deletion)
        if not changes:
            if not newer and version_row != cur_version:
                result.older += 1
            else:
                result.unchanged += 1
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE forms_current SET {sets}, changed_data_version = ? WHERE form_key = ?", (*changes.values(), version, key))  # noqa: S608
        if "version" in changes:
            result.updated += 1
        else:
            result.reviewed += 1


def open_store(folder: Path | str) -> Store:
    """The live store of a mission folder, created on first use.

    A new store is made beside the folder, in ``.NAME-store/``, and the folder holds a relative
    symbolic link ``store.sqlite`` to it (SQLite follows the link; its WAL files sit beside the real
    file). ``obsmap import`` writes a new version of the folder each time and carries the link over,
    so the store, and any sync writing to it, outlive every re-import. Without symbolic links the
    store is a plain file in the folder.
    """
    folder = Path(folder)
    link = folder / STORE_FILE
    if link.exists():
        return Store(link)
    if not folder.is_dir():
        raise MissionDataError(f"{folder}: expected a mission folder for the store, found none.")
    home = folder.parent / f".{folder.name}-store"
    try:
        home.mkdir(exist_ok=True)
        os.symlink(os.path.relpath(home / STORE_FILE, folder.resolve()), link)
    except FileExistsError:
        pass  # another process (a sync, a reader) made the link meanwhile: the same store
    except (OSError, NotImplementedError):
        pass  # no symbolic links here: a plain file in the folder (never remove `home`: another process may use it)
    return Store(link)
