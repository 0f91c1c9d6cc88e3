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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import MissionDataError
from geo.i18n import _
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


_JSON_SPECIAL = r'["\\\x00-\x1f]'  # what json.dumps escapes in a string (ensure_ascii=False): quote, backslash, controls


def _json_cells(column: pd.Series) -> Any:
    """Each cell of ``column`` as ``json.dumps(str(cell), ensure_ascii=False)`` writes it, ``null`` when missing (a pyarrow array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column.dtype, pd.StringDtype):
        text = pa.array(column.astype("string").array, type=pa.string())
    elif pd.api.types.is_float_dtype(column.dtype):  # as str() writes a float: numpy's shortest round-trip form is the same
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        text = pa.array(values.astype(str), type=pa.string(), mask=np.isnan(values))
    else:  # anything else: as str() writes it
        cells = column.astype(object).tolist()
        text = pa.array([None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v) for v in cells], type=pa.string())
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    special = pc.fill_null(pc.match_substring_regex(text, _JSON_SPECIAL), False)
    if pc.any(special).as_py():  # rare (a comment with a quote or a line break): those cells as json.dumps writes them
        fixed = [json.dumps(v, ensure_ascii=False) for v in pc.filter(text, special).to_pylist()]
        quoted = pc.replace_with_mask(quoted, special, pa.array(fixed, type=pa.string()))
    return pc.fill_null(quoted, "null")


def rows_json(frame: pd.DataFrame) -> list[str]:
    """Each row of ``frame`` as the store keeps it: ``json.dumps(row, ensure_ascii=False, sort_keys=True)`` of the row
    as a dict of text (``None`` for missing cells), byte for byte, built a column at a time; its blake2b is
    :func:`content_hash` of that row."""
    import pyarrow.compute as pc

    if len(frame) == 0:
        return []
    if frame.shape[1] == 0:
        return ["{}"] * len(frame)
    parts: list[Any] = []
    for i, name in enumerate(sorted(frame.columns)):
        parts += [("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": ", _json_cells(frame[name])]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "").to_pylist()


def _hash_text(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _normal_times(values: list[Any]) -> list[str]:
    """:func:`normal_time` of each value, each distinct value parsed once (an import stamps a million forms alike)."""
    codes, uniques = pd.factorize(pd.array(values, dtype=object), use_na_sentinel=False)
    normal = [normal_time(u) for u in uniques]
    return [normal[c] for c in codes.tolist()]


BULK_CHUNK = 50_000  # rows whose JSON is built and written at a time: bounds the memory of a large batch
# The columns the set-based path writes, in the order of its rows.
VERSION_COLUMNS = (
    "id", "form_key", "version_id", "source", "content_hash", "submitted_at", "ingested_at", "data_version", "row_json",
)  # fmt: skip
CURRENT_COLUMNS = ("form_key", "version", "submitted_at", "review", "deleted", "first_data_version", "changed_data_version")


def _ahead(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each made in a thread one step ahead of its use: the next chunk's JSON and hashes are built while
    SQLite writes this one (it lets other threads run meanwhile). An error in either is raised here."""
    import queue

    made: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():  # the consumer gone (an error there): nothing more is made
            try:
                made.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", end))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))

    worker = threading.Thread(target=run, name="obsmap-bulk-json", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = made.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


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
                raise MissionDataError(
                    _("{path}: store schema {found}, this obsmap reads schema {schema}.").format(
                        path=self.path, found=found, schema=SCHEMA_VERSION
                    )
                )
            if self._meta("store_id") is None:  # names this store, so nothing made from another one is taken for it
                self._db.execute("INSERT OR IGNORE INTO store_meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
        except sqlite3.DatabaseError as exc:
            raise MissionDataError(
                _("{path}: expected obsmap's SQLite store, found a file SQLite cannot use ({error}).").format(path=self.path, error=exc)
            ) from exc

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
        submissions = list(submissions)
        # Rows only (no deletion, review-only change or Kobo edit chain): applied set-based, with the same outcome.
        bulk = self._bulk_ok() and all(s.row is not None and not s.deleted and not s.previous_id for s in submissions)

        def contents() -> Iterator[tuple[list[str], list[str]]]:
            for start in range(0, len(submissions), BULK_CHUNK):
                part = submissions[start : start + BULK_CHUNK]
                yield (
                    [json.dumps(s.row, ensure_ascii=False, sort_keys=True, default=str) for s in part],
                    [content_hash(s.row) for s in part],
                )

        def apply(db: sqlite3.Connection, version: int, now: str, result: IngestResult) -> None:
            if not bulk:
                for sub in submissions:
                    self._apply(db, sub, source, version, now, result)
                return
            keys, version_ids = [s.form_key for s in submissions], [s.version_id for s in submissions]
            times, reviews = _normal_times([s.submitted_at for s in submissions]), [s.review for s in submissions]
            self._apply_many(db, keys, version_ids, times, reviews, contents(), source, version, now, result)

        return self._ingest_batch(apply, source, cursor, set_aside)

    def ingest_frame(
        self,
        forms: pd.DataFrame,
        source: str,
        *,
        cursor: str | None = None,
        set_aside: Iterable[dict[str, Any]] = (),
    ) -> IngestResult:
        """:meth:`ingest` of a table of rows at once: an import's million forms in seconds, not minutes.

        ``forms`` holds the canonical columns (text or missing; a number is kept as ``str`` writes it), ``form_key``
        and ``submitted_at``, and optionally ``version_id`` and ``review``. Row ``i`` is
        ``Submission(form_key, {canonical columns}, submitted_at, version_id, review=review)``, and the store ends
        exactly as :meth:`ingest` of those submissions leaves it (versions and their ids, current forms, counts,
        data version); the rows' JSON and hashes are built a column at a time.
        """
        n = len(forms)

        def column(name: str) -> list[Any]:
            if name not in forms:
                return [None] * n
            values = forms[name].astype(object)
            return values.where(values.notna(), None).tolist()

        if not self._bulk_ok():
            canonical = forms[list(FORM_COLUMNS)].astype(object)
            records = canonical.where(canonical.notna(), None).to_dict("records")
            subs = [
                Submission(k, {c: None if v is None else str(v) for c, v in r.items()}, at, vid, review=rv)
                for k, r, at, vid, rv in zip(
                    column("form_key"), records, column("submitted_at"), column("version_id"), column("review"), strict=True
                )
            ]
            return self.ingest(subs, source, cursor=cursor, set_aside=set_aside)

        def contents() -> Iterator[tuple[list[str], list[str]]]:
            for start in range(0, n, BULK_CHUNK):
                texts = rows_json(forms.iloc[start : start + BULK_CHUNK][list(FORM_COLUMNS)])
                yield texts, [_hash_text(t) for t in texts]

        keys = [str(k) for k in column("form_key")]
        times = _normal_times(column("submitted_at"))
        # A new store's first large batch (a first import) is written through a rollback journal, once, rather than to
        # the write-ahead log and then again into the file; as atomic (a killed import leaves a journal SQLite rolls
        # back), and WAL again at once after it. With another connection open the mode stays WAL (SQLite refuses).
        direct = (
            isinstance(self._db, sqlite3.Connection)  # SQLite's journal; PostgreSQL has its own (an import of 50,000 failed there)
            and n >= BULK_CHUNK
            and self._db.execute("SELECT 1 FROM form_versions LIMIT 1").fetchone() is None
        )
        if direct:
            direct = self._db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        try:
            return self._ingest_batch(
                lambda db, version, now, result: self._apply_many(
                    db, keys, column("version_id"), times, column("review"), contents(), source, version, now, result
                ),
                source,
                cursor,
                set_aside,
            )
        finally:
            if direct:
                with suppress(sqlite3.OperationalError):  # a reader holds the file this instant: the next open sets WAL
                    self._db.execute("PRAGMA journal_mode=WAL")

    def _insert_rows(self, db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> None:
        """Many rows into ``table`` (one of the store's own, named here, never from input): SQLite's ``executemany``
        of one prepared INSERT; the PostgreSQL store sends them by COPY (:meth:`geo.pgstore.PgStore._insert_rows`)."""
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    def _bulk_ok(self) -> bool:
        """Whether the set-based path applies (explicit version ids, temporary tables): SQLite here, PostgreSQL too
        (:class:`geo.pgstore.PgStore`); a store without it applies each submission in turn."""
        return isinstance(self._db, sqlite3.Connection)

    def _ingest_batch(self, apply: Any, source: str, cursor: str | None, set_aside: Iterable[dict[str, Any]]) -> IngestResult:
        """One transaction: ``apply(db, version, now, result)`` writes the forms, then the rows set aside, the cursor
        and (when a figure could have changed) the new data version."""
        result = IngestResult()
        with self._transaction() as db:
            version = int(db.execute("SELECT value FROM store_meta WHERE key = 'data_version'").fetchone()[0]) + 1
            now = now_utc()
            apply(db, version, now, result)
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

    def _apply_many(
        self,
        db: sqlite3.Connection,
        keys: list[str],
        version_ids: list[str | None],
        submitted: list[str],
        reviews: list[str | None],
        contents: Iterator[tuple[list[str], list[str]]],
        source: str,
        version: int,
        now: str,
        result: IngestResult,
    ) -> None:
        """:meth:`_apply` of every row in turn (rows only, no ``previous_id``), set-based: the same versions with the
        same ids, the same current forms and counts. ``submitted`` is already normal; ``contents`` gives each
        chunk's row JSON and content hashes, in order.

        Versions depend only on whether (form, content) is known, so they are written chunk by chunk in the
        batch's order (ids as one INSERT at a time would give them: the largest plus one). The current forms are
        then decided against the store as it was: a form given twice in the batch is decided in rounds (its first
        row, then its second, ...), each round seeing the one before, as row-by-row application would.
        """
        n = len(keys)
        top = db.execute("SELECT MAX(id) FROM form_versions").fetchone()[0]
        had_versions = top is not None
        top = first = top or 0
        had_forms = db.execute("SELECT 1 FROM forms_current LIMIT 1").fetchone() is not None
        unique = pd.Index(keys).is_unique
        vids = [0] * n
        made: dict[tuple[str, str], int] = {}  # (form, content) written in this batch; only when a form repeats in it
        start = 0
        for texts, hashes in _ahead(contents):
            stop = start + len(texts)
            pairs = list(zip(keys[start:stop], hashes, strict=True))
            known = self._known_versions(db, pairs) if had_versions else {}
            fresh: list[tuple[Any, ...]] = []
            if not known and unique:  # every row a new version (a first import): ids in the batch's order
                ids = range(top + 1, top + 1 + len(texts))
                top += len(texts)
                vids[start:stop] = ids
                part = (keys[start:stop], version_ids[start:stop], repeat(source), hashes, submitted[start:stop], repeat(now))
                fresh = list(zip(ids, *part, repeat(version), texts, strict=False))
            for i, pair, text in zip(range(start, stop), pairs, texts, strict=True) if not fresh else ():
                vid = known.get(pair) or made.get(pair)
                if vid is None:
                    top += 1
                    vid = top
                    if not unique:
                        made[pair] = vid
                    fresh.append((vid, pair[0], version_ids[i], source, pair[1], submitted[i], now, version, text))
                vids[i] = vid
            self._insert_rows(db, "form_versions", VERSION_COLUMNS, fresh)
            start = stop
        if start != n:
            raise RuntimeError(f"store: {n} rows but contents for {start}; this is a bug in obsmap.")
        if not had_forms and not had_versions and unique and not any(rv in REVIEW_STATES and rv != "pending" for rv in reviews):
            # A new store (a first import): each row made one version, of its own form, pending: the current forms are
            # those versions, copied inside SQLite in one statement (their submitted_at is the row's).
            db.execute(
                "INSERT INTO forms_current (form_key, version, submitted_at, review, deleted, first_data_version, changed_data_version) "
                "SELECT form_key, id, submitted_at, 'pending', 0, ?, ? FROM form_versions WHERE id > ? ORDER BY id",
                (version, version, first),
            )
            result.new += n
            return
        if unique:
            rounds: list[Any] = [range(n)]
        else:
            seen = pd.Series(keys).groupby(keys, sort=False).cumcount().to_numpy()
            rounds = [[int(i) for i in (seen == r).nonzero()[0]] for r in range(int(seen.max()) + 1)]
        for r, rows in enumerate(rounds):
            for begin in range(0, len(rows), BULK_CHUNK):  # a round's forms are distinct: decided a chunk at a time
                part = rows[begin : begin + BULK_CHUNK]
                current = self._current_of(db, [keys[i] for i in part]) if had_forms or r > 0 else {}
                fresh_forms, updates = [], []
                all_new = not (had_forms or r > 0)  # a store without forms (a first import): every form is new
                if all_new:
                    states = [rv if rv in REVIEW_STATES else "pending" for rv in (reviews[i] for i in part)]
                    fresh_forms = [(keys[i], vids[i], submitted[i], st, 0, version, version) for i, st in zip(part, states, strict=True)]
                    result.new += len(fresh_forms)
                for i in () if all_new else part:
                    key, at, vid = keys[i], submitted[i], vids[i]
                    review = reviews[i] if reviews[i] in REVIEW_STATES else None
                    cur = current.get(key)
                    if cur is None:
                        fresh_forms.append((key, vid, at, review or "pending", 0, version, version))
                        result.new += 1
                        continue
                    cur_version, cur_at, cur_review, cur_deleted = cur
                    newer = at >= cur_at
                    moved = newer and vid != cur_version
                    reviewed = bool(newer and review and review != cur_review)
                    restored = bool(newer and cur_deleted)
                    if not (moved or reviewed or restored):
                        if not newer and vid != cur_version:
                            result.older += 1
                        else:
                            result.unchanged += 1
                        continue
                    kept_review = review if reviewed else cur_review
                    updates.append(
                        (vid if moved else cur_version, at if moved else cur_at, kept_review, 0 if restored else cur_deleted, version, key)
                    )
                    if moved:
                        result.updated += 1
                    else:
                        result.reviewed += 1
                self._insert_rows(db, "forms_current", CURRENT_COLUMNS, fresh_forms)
                db.executemany(
                    "UPDATE forms_current SET version = ?, submitted_at = ?, review = ?, deleted = ?, changed_data_version = ? "
                    "WHERE form_key = ?",
                    updates,
                )

    def _known_versions(self, db: sqlite3.Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The id of each (form, content hash) of ``pairs`` the store holds, in one query (through a temporary table)."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_versions (form_key TEXT NOT NULL, content_hash TEXT NOT NULL)")
        db.execute("DELETE FROM batch_versions")
        self._insert_rows(db, "batch_versions", ("form_key", "content_hash"), pairs)
        found = db.execute(
            "SELECT v.form_key, v.content_hash, v.id FROM batch_versions b "
            "JOIN form_versions v ON v.form_key = b.form_key AND v.content_hash = b.content_hash"
        ).fetchall()
        db.execute("DELETE FROM batch_versions")
        return {(k, h): i for k, h, i in found}

    def _current_of(self, db: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[Any, ...]]:
        """(version, submitted_at, review, deleted) of each form of ``keys`` the store holds, in one query."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_keys (form_key TEXT NOT NULL)")
        db.execute("DELETE FROM batch_keys")
        self._insert_rows(db, "batch_keys", ("form_key",), ((k,) for k in keys))
        found = db.execute(
            "SELECT c.form_key, c.version, c.submitted_at, c.review, c.deleted FROM batch_keys b "
            "JOIN forms_current c ON c.form_key = b.form_key"
        ).fetchall()
        db.execute("DELETE FROM batch_keys")
        return {r[0]: r[1:] for r in found}


def open_store(folder: Path | str) -> Store:
    """The live store of a mission folder, created on first use: PostgreSQL when $OBSMAP_STORE (``--store``) or the
    folder's ``store.toml`` names one (:func:`geo.pgstore.store_location`), else SQLite:

    A new store is made beside the folder, in ``.NAME-store/``, and the folder holds a relative
    symbolic link ``store.sqlite`` to it (SQLite follows the link; its WAL files sit beside the real
    file). ``obsmap import`` writes a new version of the folder each time and carries the link over,
    so the store, and any sync writing to it, outlive every re-import. Without symbolic links the
    store is a plain file in the folder.
    """
    folder = Path(folder)
    from geo.pgstore import LOCATION_FILE, PgStore, record_location, store_location  # --store postgresql://...

    url = store_location(folder)
    if url is not None:
        if not folder.is_dir():
            raise MissionDataError(_("{folder}: expected a mission folder for the store, found none.").format(folder=folder))
        store = PgStore(url, path=folder / LOCATION_FILE)
        record_location(folder, url)  # serve, summary and brief on this folder find it without the flag
        return store
    link = folder / STORE_FILE
    if link.exists():
        return Store(link)
    if not folder.is_dir():
        raise MissionDataError(_("{folder}: expected a mission folder for the store, found none.").format(folder=folder))
    home = folder.parent / f".{folder.name}-store"
    try:
        home.mkdir(exist_ok=True)
        os.symlink(os.path.relpath(home / STORE_FILE, folder.resolve()), link)
    except FileExistsError:
        pass  # another process (a sync, a reader) made the link meanwhile: the same store
    except (OSError, NotImplementedError):
        pass  # no symbolic links here: a plain file in the folder (never remove `home`: another process may use it)
    return Store(link)


def store_of(folder: Path | str) -> Path | str | None:
    """Where the live store of the mission folder ``folder`` is: a PostgreSQL URL (:func:`geo.pgstore.store_location`),
    its ``store.sqlite``, or None when it has none (yet)."""
    from geo.pgstore import store_location

    link = Path(folder) / STORE_FILE
    return store_location(folder) or (link if link.exists() else None)


def connect_store(location: Path | str) -> Store:
    """The store at ``location`` (as :func:`store_of` gives it): a ``postgresql://`` URL, else an SQLite file."""
    from geo.pgstore import PgStore, is_pg_location

    return PgStore(location) if is_pg_location(location) else Store(location)
