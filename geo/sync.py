"""Live sync: forms from ODK Central, KoboToolbox and a watch folder into the mission's live store.

``obsmap sync --data DIR [--config FILE] [--once | --every 60]`` reads the sources from a TOML file
(default ``DIR/sync.toml``)::

    [sync]                      # optional; these are the defaults
    timeout = 30                # seconds per HTTP request
    retries = 6                 # tries per request (network error, timeout, 5xx, 429, a page cut short)
    backoff_base = 1            # first wait between tries, seconds; then 2, 4, ... with jitter
    backoff_max = 60            # longest wait between tries, seconds
    page_size = 1000            # forms per page (ODK $top, Kobo limit; at most 30000)
    reconcile_every = 10        # Kobo: a full reconciliation every Nth round (and on the first)

    [[odk]]
    url = "https://central.example.org"
    project = 3
    forms = ["eday_voting", "eday_count"]
    email_env = "OBSMAP_ODK_EMAIL"          # names of environment variables (these are the defaults)
    password_env = "OBSMAP_ODK_PASSWORD"
    # credentials = "/etc/obsmap/odk.toml"  # or a file (mode 0600) holding the keys email and password

    [[kobo]]
    url = "https://kf.kobotoolbox.org"
    asset = "aBcD1234eFgH"
    token_env = "OBSMAP_KOBO_TOKEN"         # the default; or credentials = "/path/kobo.toml" with token = "..."

    [[watch]]
    folder = "incoming"                     # relative to the config file's folder

Credentials never come from the command line and never reach a log line or an error message: every
message is redacted against every secret known to the run, and request headers are never printed.

How each source is followed, and why nothing is lost or counted twice:

- **Each page is one transaction**: its rows and the source's new cursor are written together
  (:meth:`geo.ingest.Ingestor.ingest`), so a sync killed at any moment resumes from its last commit;
  a page delivered twice is a no-op (the store keeps identical content once).
- **ODK Central** (no webhooks: polled). Every change of a submission moves one of three time stamps:
  creation (``__system/submissionDate``), an edit or a review (``__system/updatedAt``), a deletion
  (``__system/deletedAt``). Each is followed as its own stream, ``$filter=<field> ge <cursor>``,
  ``$orderby=<field> asc``. See :class:`_TimeStream` for why ``ge`` and a set of ids already seen.
- **KoboToolbox** v2: new submissions by ``_submission_time`` (same ``ge`` scheme); edits keep
  ``_submission_time`` and are never pushed, so a **full reconciliation** (every ``reconcile_every``
  rounds, on the first round of a run, and again after one that was cut short) pages through every
  submission by ``_id``, ingests what changed and marks deleted the forms of this source that the
  server no longer lists.
- **Watch folder**: each export file dropped there (.csv .tsv .txt .xlsx) is ingested once: the folder's
  cursor lists each file taken (name, size, time, SHA-256), so the same content dropped again, under any
  name, changes nothing. A file still being written (size changed since the last look, or modified less
  than 2 s ago) waits for the next round.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import stat
import threading
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests

from geo.csvsafe import to_safe_csv
from geo.errors import InputError, ObsmapError
from geo.forms_import import PERSONAL_METADATA, Mapping, canonical_columns, read_table, reason_codes, reason_texts
from geo.i18n import _, ngettext, number
from geo.importer import check_form_file_size
from geo.ingest import Delivery, Ingestor
from geo.store import IngestResult, Store

log = logging.getLogger("obsmap.sync")

CONFIG_FILE = "sync.toml"
WATCH_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
WATCH_SETTLE_SECONDS = 2.0  # a file modified more recently than this may still be being written
KOBO_MAX_LIMIT = 30000  # KoboToolbox's largest page
EPOCH = "1970-01-01T00:00:00.000Z"

ODK_REVIEW = {None: "pending", "": "pending", "edited": "pending", "needsReview": "pending", "hasIssues": "flagged",
              "approved": "approved", "rejected": "rejected"}  # fmt: skip
KOBO_REVIEW = {
    "": "pending",
    "validation_status_approved": "approved",
    "validation_status_not_approved": "rejected",
    "validation_status_on_hold": "flagged",
    # the labels a CSV export writes
    "approved": "approved",
    "not approved": "rejected",
    "on hold": "flagged",
}


# ------------------------------------------------------------------------------------------- errors
class SourceFailed(ObsmapError):
    """A source cannot go on this round (refused credentials, a 4xx, retries used up). One sentence, redacted."""


class _Transient(Exception):
    """A failure worth retrying: network error, timeout, 5xx, 429, a page cut short or not JSON."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class _Unauthorized(Exception):
    """HTTP 401: the caller may log in again once."""


class _Stopped(Exception):  # noqa: N818 - a signal, not an error
    """The stop event was set while waiting."""


class Secret:
    """A credential: its text only through :meth:`reveal`; printing it shows ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class Redactor:
    """Replaces every secret known to the run (and the session tokens it obtains) by ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 3:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


# ------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class Settings:
    timeout: float = 30.0
    retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    page_size: int = 1000
    reconcile_every: int = 10
    mapping: str | None = None  # a --mapping TOML (columns and values), relative to the config file


@dataclass(frozen=True)
class OdkConfig:
    url: str
    project: int
    forms: tuple[str, ...]
    email: Secret
    password: Secret
    where: str  # how the credentials were given, for messages: "OBSMAP_ODK_EMAIL/OBSMAP_ODK_PASSWORD" or a file


@dataclass(frozen=True)
class KoboConfig:
    url: str
    asset: str
    token: Secret
    where: str
    reconcile_every: int


@dataclass(frozen=True)
class WatchConfig:
    folder: Path


@dataclass(frozen=True)
class SyncConfig:
    path: Path
    settings: Settings
    odk: tuple[OdkConfig, ...] = ()
    kobo: tuple[KoboConfig, ...] = ()
    watch: tuple[WatchConfig, ...] = ()
    warnings: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        out = []
        for src in self.odk:
            out += [src.email.reveal(), src.password.reveal()]
        out += [src.token.reveal() for src in self.kobo]
        return out


_KEYS = {
    "sync": {"timeout", "retries", "backoff_base", "backoff_max", "page_size", "reconcile_every", "mapping"},
    "odk": {"url", "project", "forms", "email_env", "password_env", "credentials"},
    "kobo": {"url", "asset", "token_env", "credentials", "reconcile_every"},
    "watch": {"folder"},
}


def load_config(mission_dir: Path | str, path: Path | str | None = None, *, environ: dict[str, str] | None = None) -> SyncConfig:
    """Read and check a sync config; every problem is one :class:`InputError` sentence naming the file and key."""
    path = Path(path) if path is not None else Path(mission_dir) / CONFIG_FILE
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            _("{path}: sync config not found; expected a TOML file with [[odk]], [[kobo]] or [[watch]] sources.").format(path=path)
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(_("{path}: expected a TOML sync config ({error}).").format(path=path, error=exc)) from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InputError(
            _("{path}: unknown table {table}; expected [sync], [[odk]], [[kobo]] and [[watch]].").format(path=path, table=repr(unknown[0]))
        )
    base = path.parent
    warnings: list[str] = []
    settings = _settings(path, data.get("sync", {}))

    def entries(kind: str) -> list[tuple[str, dict[str, Any]]]:
        found = data.get(kind, [])
        if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
            raise InputError(
                _("{path}: {kind} must be a list of tables, written [[{table}]].").format(path=path, kind=repr(kind), table=kind)
            )
        out = []
        for i, entry in enumerate(found, 1):
            where = f"[[{kind}]] #{i}"
            extra = sorted(set(entry) - _KEYS[kind])
            if extra:
                raise InputError(
                    _("{path}: {where}: unknown key {key}; expected {expected}.").format(
                        path=path, where=where, key=repr(extra[0]), expected=", ".join(sorted(_KEYS[kind]))
                    )
                )
            out.append((where, entry))
        return out

    odk = []
    for where, entry in entries("odk"):
        url = _url(path, where, entry)
        project = entry.get("project")
        if isinstance(project, str) and project.strip().isdigit():
            project = int(project)
        if not isinstance(project, int) or isinstance(project, bool) or project < 0:
            raise InputError(
                _("{path}: {where}: key 'project' must be ODK Central's project number, found {value}.").format(
                    path=path, where=where, value=repr(project)
                )
            )
        forms = entry.get("forms")
        if isinstance(forms, str):
            forms = [forms]
        if not isinstance(forms, list) or not forms or not all(isinstance(f, str) and f.strip() for f in forms):
            raise InputError(
                _("{path}: {where}: key 'forms' must list the form ids, e.g. forms = [\"eday_voting\"].").format(path=path, where=where)
            )
        creds, how = _credentials(
            path, where, entry, base, environ, {"email": "OBSMAP_ODK_EMAIL", "password": "OBSMAP_ODK_PASSWORD"}, warnings
        )
        odk.append(OdkConfig(url, project, tuple(f.strip() for f in forms), creds["email"], creds["password"], how))
    kobo = []
    for where, entry in entries("kobo"):
        url = _url(path, where, entry)
        asset = entry.get("asset")
        if not isinstance(asset, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", asset.strip()):
            raise InputError(
                _("{path}: {where}: key 'asset' must be the project's asset uid (letters and digits), found {value}.").format(
                    path=path, where=where, value=repr(asset)
                )
            )
        every = entry.get("reconcile_every", settings.reconcile_every)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise InputError(
                _("{path}: {where}: key 'reconcile_every' must be a whole number of rounds, 1 or more, found {value}.").format(
                    path=path, where=where, value=repr(every)
                )
            )
        creds, how = _credentials(path, where, entry, base, environ, {"token": "OBSMAP_KOBO_TOKEN"}, warnings)
        kobo.append(KoboConfig(url, asset.strip(), creds["token"], how, every))
    watch = []
    for where, entry in entries("watch"):
        folder = entry.get("folder")
        if not isinstance(folder, str) or not folder.strip():
            raise InputError(_("{path}: {where}: key 'folder' must name the folder to watch.").format(path=path, where=where))
        watch.append(WatchConfig((base / folder.strip()).resolve()))
    if not (odk or kobo or watch):
        raise InputError(_("{path}: no sources; expected at least one [[odk]], [[kobo]] or [[watch]] table.").format(path=path))
    return SyncConfig(path, settings, tuple(odk), tuple(kobo), tuple(watch), tuple(warnings))


def _settings(path: Path, table: Any) -> Settings:
    if not isinstance(table, dict):
        raise InputError(_("{path}: [sync] must be a table of settings.").format(path=path))
    extra = sorted(set(table) - _KEYS["sync"])
    if extra:
        raise InputError(
            _("{path}: [sync]: unknown key {key}; expected {expected}.").format(
                path=path, key=repr(extra[0]), expected=", ".join(sorted(_KEYS["sync"]))
            )
        )
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in table:
            continue
        value = table[f.name]
        if f.name == "mapping":
            if not isinstance(value, str) or not (path.parent / value).is_file():
                raise InputError(
                    _("{path}: [sync]: key 'mapping' must name a mapping TOML file beside the config, found {value}.").format(
                        path=path, value=repr(value)
                    )
                )
            values["mapping"] = str(path.parent / value)
            continue
        whole = f.name in ("retries", "page_size", "reconcile_every")
        ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if not ok or isinstance(value, bool) or value <= 0 or (f.name == "page_size" and value > KOBO_MAX_LIMIT):
            if f.name == "page_size":
                text = _("{path}: [sync]: key {key} must be a whole number above 0 up to {limit}, found {value}.")
            elif whole:
                text = _("{path}: [sync]: key {key} must be a whole number above 0, found {value}.")
            else:
                text = _("{path}: [sync]: key {key} must be a number of seconds above 0, found {value}.")
            raise InputError(text.format(path=path, key=repr(f.name), limit=KOBO_MAX_LIMIT, value=repr(value)))
        values[f.name] = value
    return Settings(**values)


def _url(path: Path, where: str, entry: dict[str, Any]) -> str:
    url = entry.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url.strip()):
        raise InputError(
            _("{path}: {where}: key 'url' must be the server's address, like https://host, found {value}.").format(
                path=path, where=where, value=repr(url)
            )
        )
    url = url.strip().rstrip("/")
    host = url.split("/")[2]
    if "@" in host:
        raise InputError(
            _("{path}: {where}: key 'url' must not carry credentials; name them with *_env keys or a credentials file.").format(
                path=path, where=where
            )
        )
    if url.startswith("http://") and host.split(":")[0] not in ("127.0.0.1", "localhost", "[::1]"):
        raise InputError(
            _(
                "{path}: {where}: key 'url' {url} is plain http: the password or token would cross the network unencrypted; use https."
            ).format(path=path, where=where, url=repr(url))
        )
    return url


def _credentials(
    path: Path, where: str, entry: dict[str, Any], base: Path, environ: Any, defaults: dict[str, str], warnings: list[str]
) -> tuple[dict[str, Secret], str]:
    """The credentials named by ``<key>_env`` (environment) or ``credentials`` (a TOML file), never their values in messages."""
    if "credentials" in entry:
        file = entry["credentials"]
        if not isinstance(file, str) or not file.strip():
            raise InputError(_("{path}: {where}: key 'credentials' must be the path of a credentials file.").format(path=path, where=where))
        file_path = (base / file.strip()).expanduser()
        try:
            mode = file_path.stat().st_mode
            text = file_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                _("{path}: {where}: credentials file {file} cannot be read ({error}).").format(
                    path=path, where=where, file=file_path, error=exc.strerror
                )
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                _("{file}: credentials file readable by other users (mode {mode}); chmod 600 it.").format(
                    file=file_path, mode=f"{stat.S_IMODE(mode):04o}"
                )
            )
        try:
            creds = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            # No detail: the parser's message could quote a line of the file, secret included.
            raise InputError(
                _("{file}: expected a TOML credentials file with {keys} keys.").format(file=file_path, keys=_and(list(defaults)))
            ) from None
        out = {}
        for key in defaults:
            value = creds.get(key)
            if not isinstance(value, str) or not value:
                raise InputError(
                    _("{file}: key {key} missing or empty; expected {keys} (text).").format(
                        file=file_path, key=repr(key), keys=_and(list(defaults))
                    )
                )
            out[key] = Secret(value)
        # TRANSLATORS: completes "check the ..." in a refused-login message.
        return out, _("credentials file {file}").format(file=file_path)
    out = {}
    names = []
    for key, default in defaults.items():
        name = entry.get(f"{key}_env", default)
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(
                _("{path}: {where}: key '{key}_env' must name an environment variable, found {value}.").format(
                    path=path, where=where, key=key, value=repr(name)
                )
            )
        value = environ.get(name)
        if not value:
            raise InputError(
                _(
                    "{path}: {where}: the environment variable {name} (key '{key}_env') is not set; "
                    "set it, or give a credentials file with key 'credentials'."
                ).format(path=path, where=where, name=name, key=key)
            )
        out[key] = Secret(value)
        names.append(name)
    # TRANSLATORS: completes "check the ..." in a refused-login message; {names} are environment variables.
    return out, _("environment {names}").format(names="/".join(names))


def _and(words: list[str]) -> str:
    """``a and b`` (the keys a credentials file must hold)."""
    if len(words) < 2:
        return "".join(words)
    return _("{first} and {last}").format(first=", ".join(words[:-1]), last=words[-1])


# ------------------------------------------------------------------------------------------- http
class Http:
    """JSON over HTTP with a timeout on every request, retries with bounded exponential backoff, and redaction."""

    def __init__(self, settings: Settings, redact: Redactor, wait: Callable[[float], None]) -> None:
        self.settings = settings
        self.redact = redact
        self.wait = wait
        self.session = requests.Session()  # proxies and CA bundles from the environment still apply

    def close(self) -> None:
        self.session.close()

    def backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
        return min(self.settings.backoff_max, delay * random.uniform(0.75, 1.25))  # noqa: S311 - jitter, not crypto

    def json(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: Callable[[], dict[str, str]] | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        check: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The JSON answer of one request; retries what is worth retrying, raises :class:`SourceFailed` otherwise.

        ``headers`` is called at each try (a fresh token after a login); a 401 raises :class:`_Unauthorized`.
        """
        tries = self.settings.retries
        problem = ""
        for attempt in range(tries):
            try:
                return self._once(method, url, what, headers, params, body, check)
            except _Transient as exc:
                problem = self.redact(str(exc))
                if attempt + 1 == tries:
                    break
                delay = exc.wait if exc.wait is not None else self.backoff(attempt)
                log.warning("%s: %s; try %d of %d in %.1f s", what, problem, attempt + 2, tries, delay)
                self.wait(delay)
        raise SourceFailed(
            self.redact(
                ngettext(
                    "{what}: gave up after {n} tries ({problem}); the next round resumes from the cursor.",
                    "{what}: gave up after {n} tries ({problem}); the next round resumes from the cursor.",
                    tries,
                ).format(what=what, n=number(tries), problem=problem)
            )
        )

    def _once(self, method, url, what, headers, params, body, check) -> Any:
        timeout = (min(10.0, self.settings.timeout), self.settings.timeout)
        try:
            resp = self.session.request(method, url, headers=headers() if headers else None, params=params, json=body, timeout=timeout)
        except requests.Timeout:
            raise _Transient(_("no answer within {seconds} s").format(seconds=number(self.settings.timeout))) from None
        except requests.RequestException as exc:
            raise _Transient(_("network error ({error})").format(error=type(exc).__name__)) from None
        with resp:
            status = resp.status_code
            if status == 401:
                raise _Unauthorized()
            if status == 429:
                raise _Transient(_("HTTP 429 too many requests"), _retry_after(resp.headers.get("Retry-After")))
            if status >= 500:
                raise _Transient(f"HTTP {status}")
            if status >= 400:
                detail = _error_detail(resp)
                raise SourceFailed(
                    self.redact(
                        _("{what}: the server answered HTTP {status}{detail}; this source is skipped this round.").format(
                            what=what, status=status, detail=detail
                        )
                    )
                )
            try:
                data = json.loads(resp.content)
            except ValueError:
                raise _Transient(_("a page cut short or not JSON")) from None
            if check is not None and not check(data):
                raise _Transient(_("an answer not shaped as expected (a page cut short?)"))
            return data


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), within 0..600; None without one."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(600.0, seconds))


def _error_detail(resp: requests.Response) -> str:
    """A short, safe reason from an error body (ODK: message, Kobo: detail); never headers."""
    try:
        data = resp.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        text = data.get("message") or data.get("detail")
        if isinstance(text, str) and text.strip():
            return f" ({text.strip().splitlines()[0][:200]})"
    return ""


# ------------------------------------------------------------------------------------------- rows
_GEOPOINT_TEXT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)(?:\s+(-?\d+(?:\.\d+)?))?(?:\s+(-?\d+(?:\.\d+)?))?\s*$")
_PERSONAL = {p.lower() for p in PERSONAL_METADATA}


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text.strip() else None


def flatten_odk(record: dict[str, Any]) -> dict[str, str | None]:
    """One OData ``Submissions`` row named as ODK Central's CSV export names it: ``group-question``,
    a geopoint as ``q-Latitude``/``q-Longitude``/``q-Altitude``/``q-Accuracy``, ``KEY`` = ``__id``.

    Repeats (navigation links) and the submitter's name, id and device are left out.
    """
    system = record.get("__system") or {}
    out: dict[str, str | None] = {"SubmissionDate": _text(system.get("submissionDate"))}

    def walk(prefix: str, obj: dict[str, Any]) -> None:
        for key, value in obj.items():
            if key.startswith("__") or "@odata" in key:
                continue
            name = f"{prefix}-{key}" if prefix else key
            if isinstance(value, dict) and value.get("type") == "Point" and isinstance(value.get("coordinates"), list):
                coords = [*value["coordinates"], None, None, None][:3]
                accuracy = (value.get("properties") or {}).get("accuracy")
                for axis, v in zip(("Longitude", "Latitude", "Altitude"), coords, strict=True):
                    out[f"{name}-{axis}"] = _text(v)
                out[f"{name}-Accuracy"] = _text(accuracy)
            elif isinstance(value, dict) and "type" in value and "coordinates" in value:
                continue  # a geotrace or geoshape: not a location obsmap uses
            elif isinstance(value, dict):
                walk(name, value)
            elif isinstance(value, list):
                continue
            elif name.lower() not in _PERSONAL:
                out[name] = _text(value)

    walk("", record)
    out["KEY"] = _text(record.get("__id"))
    out["ReviewState"] = _text(system.get("reviewState"))
    out["Edits"] = _text(system.get("edits"))
    out["FormVersion"] = _text(system.get("formVersion"))
    return out


def flatten_kobo(record: dict[str, Any]) -> dict[str, str | None]:
    """One KoboToolbox v2 ``data`` record named as its CSV export names it: group paths as they are, a
    geopoint ``grp/q`` ("lat lon alt precision") also as ``grp/_q_latitude`` ... ``grp/_q_precision``.

    Lists and objects (repeats, attachments, notes) and the submitter's user name are left out;
    ``_validation_status`` becomes its uid.
    """
    out: dict[str, str | None] = {}
    found_point = False
    for key, value in record.items():
        base = key.split("/")[-1]
        if base.lower() in _PERSONAL:
            continue
        if key == "_validation_status":
            out[key] = _text(value.get("uid")) if isinstance(value, dict) else _text(value)
            continue
        if isinstance(value, list | dict):
            continue
        out[key] = _text(value)
        if isinstance(value, str) and key == base and key.startswith("_"):
            continue  # tool metadata is never a question
        match = _GEOPOINT_TEXT.match(value) if isinstance(value, str) else None
        if match and value.strip().count(" ") >= 2 and abs(float(match[1])) <= 90 and abs(float(match[2])) <= 180:
            group, _slash, q = key.rpartition("/")
            prefix = f"{group}/_{q}" if group else f"_{q}"
            for axis, v in zip(("latitude", "longitude", "altitude", "precision"), match.groups(), strict=True):
                out[f"{prefix}_{axis}"] = v
            found_point = True
    where = record.get("_geolocation")
    if not found_point and isinstance(where, list) and len(where) == 2 and all(isinstance(v, int | float) for v in where):
        out["_geolocation_latitude"], out["_geolocation_longitude"] = _text(where[0]), _text(where[1])
    return out


def utc_iso(value: Any) -> str | None:
    """An ISO 8601 time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC; a time without offset is taken as UTC)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _strip_uuid(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = text.strip()
    return text[5:] if text.lower().startswith("uuid:") else text


def odk_delivery(record: dict[str, Any]) -> Delivery:
    """The :class:`Delivery` of one OData row: ``__id`` is the form, ``updatedAt`` (else ``submissionDate``) the version's time."""
    system = record.get("__system") or {}
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    deleted = system.get("deletedAt") is not None
    at = utc_iso(system.get("deletedAt") if deleted else system.get("updatedAt") or system.get("submissionDate"))
    return Delivery(
        form_key=str(record["__id"]),
        submitted_at=at or EPOCH,
        version_id=_text(meta.get("instanceID")) or str(record["__id"]),
        review=ODK_REVIEW.get(system.get("reviewState")),
        deleted=deleted,
        has_row=not deleted,
    )


def kobo_delivery(record: dict[str, Any]) -> Delivery:
    """The :class:`Delivery` of one Kobo record: ``meta/rootUuid`` (without ``uuid:``) is the form, else ``_uuid``
    chained through ``meta/deprecatedID``. ``_submission_time`` does not change on an edit: versions of a form
    share it, and the one delivered last (the server's current one) wins."""
    uuid = _strip_uuid(record.get("_uuid")) or _strip_uuid(record.get("meta/instanceID")) or str(record.get("_id"))
    status = record.get("_validation_status")
    uid = str((status.get("uid") if isinstance(status, dict) else status) or "").strip()
    return Delivery(
        form_key=_strip_uuid(record.get("meta/rootUuid")) or uuid,
        submitted_at=utc_iso(record.get("_submission_time")) or EPOCH,
        version_id=uuid,
        previous_id=_strip_uuid(record.get("meta/deprecatedID")),
        review=KOBO_REVIEW.get(uid if uid.startswith("validation_") else uid.lower()),
    )


def table_of(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    """Flattened rows as a table of text cells (``<NA>`` = blank), columns in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    if not columns:  # deletions only: one empty row each
        return pd.DataFrame(index=range(len(rows)))
    return pd.DataFrame.from_records(rows, columns=list(columns)).astype("string").reset_index(drop=True)


def file_deliveries(table: pd.DataFrame, path: Path, modified_at: str, mapping: Mapping | None = None) -> list[Delivery]:
    """One :class:`Delivery` per row of an export file: ODK Central's (``KEY``), KoboToolbox's (``_uuid``), or
    canonical (``form_id``, the file's time as the version's time)."""
    lower = {c.lower(): c for c in table.columns}
    by_base = {c.split("/")[-1].lower(): c for c in table.columns}

    def col(*names: str) -> pd.Series:
        for name in names:
            src = lower.get(name.lower()) or by_base.get(name.lower())
            if src is not None:
                return table[src]
        return pd.Series(pd.NA, index=table.index, dtype="string")

    out = []
    if "key" in lower:  # ODK Central
        for key, version, at, review in zip(
            col("KEY"), col("meta-instanceID", "instanceID"), col("SubmissionDate"), col("ReviewState"), strict=True
        ):
            out.append(Delivery(_text(key) or "", utc_iso(at) or modified_at, _text(version), review=ODK_REVIEW.get(_text(review))))
        return out
    if "_uuid" in lower:  # KoboToolbox
        for uuid, root, previous, at, review in zip(
            col("_uuid"), col("rootUuid"), col("deprecatedID"), col("_submission_time"), col("_validation_status"), strict=True
        ):
            uuid = _strip_uuid(uuid)
            status = (_text(review) or "").strip()
            state = KOBO_REVIEW.get(status if status.startswith("validation_") else status.lower())
            out.append(Delivery(_strip_uuid(root) or uuid or "", utc_iso(at) or modified_at, uuid, _strip_uuid(previous), state))
        return out
    sources, fallback, _ignored = canonical_columns(list(table.columns), mapping or Mapping(), path)
    ids = table[sources.get("form_id") or fallback["form_id"]]
    return [Delivery((_text(v) or "").strip(), modified_at) for v in ids]


# ------------------------------------------------------------------------------------------- summary
@dataclass
class SourceSummary:
    """What a source did over a sync: forms new, updated (a new version), reviewed, deleted, set aside, and errors."""

    new: int = 0
    updated: int = 0
    reviewed: int = 0
    deleted: int = 0
    set_aside: int = 0
    unchanged: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, result: IngestResult) -> None:
        self.new += result.new
        self.updated += result.updated
        self.reviewed += result.reviewed
        self.deleted += result.deleted
        self.set_aside += result.set_aside
        self.unchanged += result.unchanged + result.older

    def merge(self, other: SourceSummary) -> None:
        for name in ("new", "updated", "reviewed", "deleted", "set_aside", "unchanged", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages += other.messages

    def as_dict(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "updated": self.updated,
            "reviewed": self.reviewed,
            "deleted": self.deleted,
            "set_aside": self.set_aside,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "messages": list(self.messages),
        }

    def line(self) -> str:
        counts = {name: number(getattr(self, name)) for name in ("new", "updated", "reviewed", "deleted", "set_aside")}
        # TRANSLATORS: what one source did in a sync round: forms new, updated (a new version), reviewed, deleted, set aside.
        parts = _("{new} new, {updated} updated, {reviewed} reviewed, {deleted} deleted, {set_aside} set aside").format(**counts)
        if not self.errors:
            return parts
        return ngettext("{counts}, {n} error(s)", "{counts}, {n} error(s)", self.errors).format(counts=parts, n=number(self.errors))


# ------------------------------------------------------------------------------------------- context
@dataclass
class _Round:
    ingestor: Ingestor
    http: Http
    settings: Settings
    wait: Callable[[float], None]
    stopped: Callable[[], bool]
    first: bool  # the first round of this run
    once: bool

    def commit(
        self, source: str, rows: list[dict[str, str | None]], deliveries: list[Delivery], cursor: str, summary: SourceSummary
    ) -> None:
        """Rows and the source's cursor in one transaction (deletions carry an empty row)."""
        result = self.ingestor.ingest(table_of(rows), deliveries, source, cursor=cursor)
        summary.add(result)

    def check_stop(self) -> None:
        if self.stopped():
            raise _Stopped()


def _load_cursor(store: Store, source: str) -> dict[str, Any]:
    raw = store.cursor(source)
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _dump(cursor: dict[str, Any]) -> str:
    return json.dumps(cursor, sort_keys=True, separators=(",", ":"))


class _TimeStream:
    """Keyset paging on one time stamp, so that no version is lost when several share a time stamp.

    Why ``ge`` and not ``gt``: a cursor ``gt T`` would lose the rows at exactly ``T`` that did not fit on
    the page that ended at ``T`` (time stamps tie: Kobo's are whole seconds, Central's are printed to the
    millisecond while it stores microseconds). So each page asks ``ge T``, ordered by the time stamp,
    for ``page_size + len(seen)`` rows, where ``seen`` holds the ids already ingested whose time stamp
    is exactly ``T``; those are dropped, the rest ingested. A full page always holds at least one row
    not seen, so the paging always moves on, and a row moved to a later time stamp (edited, reviewed)
    comes back under its new time stamp. The cursor ``{"t": T, "seen": [...]}`` is committed with the page.
    """

    def __init__(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.t: str | None = state.get("t")
        self.seen: set[str] = set(state.get("seen") or [])

    def state(self) -> dict[str, Any]:
        return {"t": self.t, "seen": sorted(self.seen)}

    def fresh(self, rows: Iterable[tuple[str, str | None]]) -> list[bool]:
        """For each (id, time stamp) of a page: not seen before."""
        return [not (t == self.t and rid in self.seen) for rid, t in rows]

    def advance(self, rows: list[tuple[str, str | None]]) -> None:
        times = [t for _, t in rows if t is not None]
        if not times:
            return
        top = max(times)
        at_top = {rid for rid, t in rows if t == top}
        self.seen = (self.seen | at_top) if top == self.t else at_top
        self.t = top


# ------------------------------------------------------------------------------------------- ODK Central
class OdkServer:
    """One ODK Central server and project: a session token from ``POST /v1/sessions``, renewed once on a 401."""

    def __init__(self, config: OdkConfig, http: Http, redact: Redactor) -> None:
        self.config = config
        self.http = http
        self.redact = redact
        self._token: str | None = None

    def _login(self) -> None:
        body = {"email": self.config.email.reveal(), "password": self.config.password.reveal()}
        what = f"ODK Central {self.config.url}"
        try:
            data = self.http.json("POST", f"{self.config.url}/v1/sessions", what, body=body, check=lambda d: isinstance(d, dict))
        except _Unauthorized:
            raise SourceFailed(
                _("{what} refused the email and password (HTTP 401); check the {where}.").format(what=what, where=self.config.where)
            ) from None
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise SourceFailed(_("{what}: POST /v1/sessions answered without a session token.").format(what=what))
        self.redact.add(token)
        self._token = token

    def get(self, path: str, params: dict[str, Any], what: str, check: Callable[[Any], bool]) -> Any:
        if self._token is None:
            self._login()
        url = f"{self.config.url}/v1/projects/{self.config.project}/{path}"
        for first in (True, False):
            try:
                return self.http.json(
                    "GET", url, what, headers=lambda: {"Authorization": f"Bearer {self._token}"}, params=params, check=check
                )
            except _Unauthorized:
                if not first:
                    break
                self._login()  # the session expired: log in again, once
        raise SourceFailed(
            _("{what}: ODK Central refused the session (HTTP 401) after a new login; check the {where}.").format(
                what=what, where=self.config.where
            )
        )


_ODK_STREAMS = (("created", "__system/submissionDate"), ("updated", "__system/updatedAt"), ("deleted", "__system/deletedAt"))


def _odk_value(record: dict[str, Any], field_path: str) -> str | None:
    value: Any = record
    for part in field_path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return _text(value)


class OdkForm:
    """One form of an ODK Central project, followed through three time streams (see the module's docstring)."""

    def __init__(self, server: OdkServer, form: str) -> None:
        self.server = server
        self.form = form
        self.name = f"odk:{server.config.url}/projects/{server.config.project}/forms/{form}"

    def run(self, rnd: _Round, summary: SourceSummary) -> None:
        store = rnd.ingestor.store
        cursor = _load_cursor(store, self.name)
        streams = {name: _TimeStream(cursor.get(name)) for name, _ in _ODK_STREAMS}
        path = f"forms/{quote(self.form, safe='')}.svc/Submissions"
        for name, field_path in _ODK_STREAMS:
            stream = streams[name]
            while True:
                rnd.check_stop()
                top = rnd.settings.page_size + len(stream.seen)
                # Filtering on __system/deletedAt is what makes Central list deleted submissions too
                # (odataExcludeDeleted in central-backend); the other two streams see live ones only.
                params = {
                    "$filter": f"{field_path} ge {stream.t or EPOCH}",
                    "$orderby": f"{field_path} asc",
                    "$top": str(top),
                }
                # TRANSLATORS: completes "since ..." when nothing was read yet: "(created since the start)".
                since = stream.t or _("the start")
                # TRANSLATORS: {stream} is ODK Central's stream of submissions: created, updated or deleted (kept in English).
                what = _("{source} ({stream} since {time})").format(source=self.name, stream=name, time=since)
                data = self.server.get(path, params, what, _odata_page)
                page = data["value"]
                keyed = [(str(r.get("__id")), _odk_value(r, field_path)) for r in page]
                fresh = [r for r, new in zip(page, stream.fresh(keyed), strict=True) if new and r.get("__id") is not None]
                stream.advance(keyed)
                cursor[name] = stream.state()
                deliveries = [odk_delivery(r) for r in fresh]
                if name == "deleted":  # a deletion only: no row to check
                    deliveries = [d for d in deliveries if d.deleted]
                    rows: list[dict[str, str | None]] = [{} for _ in deliveries]
                else:
                    kept = [(r, d) for r, d in zip(fresh, deliveries, strict=True) if not d.deleted]
                    rows, deliveries = [flatten_odk(r) for r, _ in kept], [d for _, d in kept]
                rnd.commit(self.name, rows, deliveries, _dump(cursor), summary)
                if len(page) < top:
                    break


def _odata_page(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("value"), list) and all(isinstance(r, dict) for r in data["value"])


# ------------------------------------------------------------------------------------------- KoboToolbox
def _kobo_page(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("results"), list) and all(isinstance(r, dict) for r in data["results"])


class KoboAsset:
    """One KoboToolbox project (asset): new submissions by ``_submission_time``, and a periodic full reconciliation."""

    def __init__(self, config: KoboConfig, http: Http) -> None:
        self.config = config
        self.http = http
        self.name = f"kobo:{config.url}/assets/{config.asset}"
        self.url = f"{config.url}/api/v2/assets/{quote(config.asset, safe='')}/data/"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.config.token.reveal()}", "Accept": "application/json"}

    def _get(self, params: dict[str, Any], what: str) -> list[dict[str, Any]]:
        try:
            data = self.http.json("GET", self.url, what, headers=self._headers, params={"format": "json", **params}, check=_kobo_page)
        except _Unauthorized:
            raise SourceFailed(
                _("{what}: KoboToolbox refused the token (HTTP 401); check the {where}.").format(what=what, where=self.config.where)
            ) from None
        return data["results"]

    def run(self, rnd: _Round, summary: SourceSummary) -> None:
        store = rnd.ingestor.store
        cursor = _load_cursor(store, self.name)
        since = cursor.get("since_full")
        full = since is None or bool(cursor.get("full_pending")) or since + 1 >= self.config.reconcile_every or (rnd.first and not rnd.once)
        if full:
            self._reconcile(rnd, cursor, summary)
        stream = _TimeStream(cursor.get("new"))
        while True:
            rnd.check_stop()
            top = rnd.settings.page_size + len(stream.seen)
            params: dict[str, Any] = {"sort": json.dumps({"_submission_time": 1, "_id": 1}), "start": 0, "limit": min(top, KOBO_MAX_LIMIT)}
            if top > KOBO_MAX_LIMIT:  # more than a page of forms in one second: step over those seen by position
                params.update(start=len(stream.seen), limit=rnd.settings.page_size)
            if stream.t is not None:
                params["query"] = json.dumps({"_submission_time": {"$gte": stream.t}})
            page = self._get(params, _("{source} (new since {time})").format(source=self.name, time=stream.t or _("the start")))
            keyed = [(str(r.get("_id")), _text(r.get("_submission_time"))) for r in page]
            fresh = [r for r, new in zip(page, stream.fresh(keyed), strict=True) if new]
            stream.advance(keyed)
            cursor["new"] = stream.state()
            last = len(page) < params["limit"]
            if last and not full:
                cursor["since_full"] = (since or 0) + 1
            rnd.commit(self.name, [flatten_kobo(r) for r in fresh], [kobo_delivery(r) for r in fresh], _dump(cursor), summary)
            if last:
                break

    def _reconcile(self, rnd: _Round, cursor: dict[str, Any], summary: SourceSummary) -> None:
        """Page through every submission by ``_id`` (stable while forms are added or deleted meanwhile), ingest them,
        then mark deleted the forms of this source the server no longer lists.

        Cut short, it starts again next round (``full_pending``): the listing must be whole before anything is deleted.
        """
        cursor["full_pending"] = True
        listed_keys: set[str] = set()
        listed_versions: set[str] = set()
        newest: list[tuple[str, str | None]] = []
        after: int | None = None
        while True:
            rnd.check_stop()
            params: dict[str, Any] = {"sort": json.dumps({"_id": 1}), "start": 0, "limit": rnd.settings.page_size}
            if after is not None:
                params["query"] = json.dumps({"_id": {"$gt": after}})
            page = self._get(params, _("{source} (full reconciliation)").format(source=self.name))
            deliveries = [kobo_delivery(r) for r in page]
            for record, d in zip(page, deliveries, strict=True):
                if record.get("meta/rootUuid"):
                    listed_keys.add(d.form_key)
                else:
                    listed_versions.add(d.version_id or d.form_key)
                newest.append((str(record.get("_id")), _text(record.get("_submission_time"))))
            ids = [r.get("_id") for r in page if isinstance(r.get("_id"), int)]
            if ids:
                after = max(ids)
            rnd.commit(self.name, [flatten_kobo(r) for r in page], deliveries, _dump(cursor), summary)
            if not ids:  # an empty page ends the listing: a server that caps pages below `limit` must not end it early
                break
        store = rnd.ingestor.store
        listed_keys |= set(store.keys_for_versions(listed_versions).values()) | listed_versions
        known = store.keys_from_source(self.name)
        gone = sorted(known - listed_keys)
        if not newest and known:  # an empty listing is more likely a permission change than every form deleted
            summary.messages.append(
                ngettext(
                    "the server lists no submissions but {n} form(s) came from it; none marked deleted.",
                    "the server lists no submissions but {n} form(s) came from it; none marked deleted.",
                    len(known),
                ).format(n=number(len(known)))
            )
            gone = []
        now = utc_iso(datetime.now(UTC).isoformat()) or EPOCH
        # Everything the server listed is in the store now: the stream of new forms may start after the newest.
        stream = _TimeStream(cursor.get("new"))
        top = max((t for _, t in newest if t), default=None)
        if top is not None and (stream.t is None or top >= stream.t):
            stream.advance([(rid, t) for rid, t in newest if t == top])
            cursor["new"] = stream.state()
        cursor.update(full_pending=False, since_full=0)
        rnd.commit(self.name, [{} for _ in gone], [Delivery(k, now, deleted=True, has_row=False) for k in gone], _dump(cursor), summary)


# ------------------------------------------------------------------------------------------- watch folder
class WatchFolder:
    """Export files dropped in a folder, each ingested once. The folder is one source, ``watch:<folder>``; its cursor
    lists the files taken (name, size, time, SHA-256), written with each file's rows. A file whose content was
    already taken (the same export dropped again, under any name, or only touched) changes nothing."""

    def __init__(self, config: WatchConfig, mission_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = config.folder
        try:
            label = str(self.folder.resolve().relative_to(mission_dir.resolve()))
        except ValueError:
            label = str(self.folder.resolve())
        self.name = f"watch:{label}"
        self.clock = clock
        self._sizes: dict[str, int] = {}  # size at the last look, to see a file still growing
        self._failed: dict[str, tuple[int, int]] = {}  # files that could not be read, until they change

    def run(self, rnd: _Round, summary: SourceSummary) -> None:
        if not self.folder.is_dir():
            raise SourceFailed(
                _("{folder}: watch folder not found; create it or fix the [[watch]] folder in the sync config.").format(folder=self.folder)
            )
        for path in sorted(self.folder.iterdir()):
            rnd.check_stop()
            if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in WATCH_SUFFIXES:
                continue
            try:
                self._one(rnd, path, summary)
            except SourceFailed as exc:  # one unreadable file does not hold the others back
                summary.errors += 1
                summary.messages.append(str(exc))

    def _one(self, rnd: _Round, path: Path, summary: SourceSummary) -> None:
        info = path.stat()
        size, mtime_ns = info.st_size, info.st_mtime_ns
        growing = self._sizes.get(path.name) not in (None, size)
        self._sizes[path.name] = size
        if growing or self.clock() - info.st_mtime < WATCH_SETTLE_SECONDS:
            return  # maybe still being written: next round
        cursor = _load_cursor(rnd.ingestor.store, self.name)
        files: dict[str, dict[str, Any]] = cursor.setdefault("files", {})
        known = files.get(path.name) or {}
        if (known.get("size"), known.get("mtime_ns")) == (size, mtime_ns) or self._failed.get(path.name) == (size, mtime_ns):
            return
        try:
            check_form_file_size(path)  # the import's stated limits, for a dropped file too, before it is read
        except InputError as exc:
            self._failed[path.name] = (size, mtime_ns)
            raise SourceFailed(str(exc)) from None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        files[path.name] = {"size": size, "mtime_ns": mtime_ns, "sha256": digest}
        if any(f.get("sha256") == digest for name, f in files.items() if name != path.name) or known.get("sha256") == digest:
            rnd.ingestor.store.ingest([], self.name, cursor=_dump(cursor))  # content already taken: remember the file only
            return
        try:
            table = read_table(path)
            modified = utc_iso(datetime.fromtimestamp(info.st_mtime, UTC).isoformat()) or EPOCH
            deliveries = file_deliveries(table, path, modified)
        except InputError as exc:
            self._failed[path.name] = (size, mtime_ns)
            raise SourceFailed(str(exc)) from None
        # A file is an export: one row per form, as for `obsmap import` (a repeated id is set aside, not a version).
        result = rnd.ingestor.ingest(table.reset_index(drop=True), deliveries, self.name, cursor=_dump(cursor), one_row_per_form=True)
        summary.add(result)
        summary.messages.append(
            _("{file}: {new} new, {updated} updated, {set_aside} set aside.").format(
                file=path.name, new=number(result.new), updated=number(result.updated), set_aside=number(result.set_aside)
            )
        )


# ------------------------------------------------------------------------------------------- loop
def build_sources(config: SyncConfig, mission_dir: Path, http: Http, redact: Redactor) -> list[Any]:
    sources: list[Any] = []
    for odk in config.odk:
        server = OdkServer(odk, http, redact)
        sources += [OdkForm(server, form) for form in odk.forms]
    sources += [KoboAsset(kobo, http) for kobo in config.kobo]
    sources += [WatchFolder(watch, mission_dir) for watch in config.watch]
    return sources


def sync_main(
    mission_dir: Path | str,
    config: Path | str | SyncConfig | None = None,
    once: bool = False,
    every: float = 60.0,
    progress: Callable[[str], Any] = print,
    stop_event: threading.Event | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
    rounds: int | None = None,
) -> dict[str, SourceSummary]:
    """Sync the mission's sources into its live store: one round with ``once``, else a round every ``every`` seconds
    until ``stop_event`` is set (or ``rounds`` rounds, for tests). Returns, per source, what it did.

    A source that fails (refused credentials, a 4xx, retries used up) is skipped for the round with one sentence
    through ``progress``; the others go on. ``sleep`` replaces the waits (backoff, Retry-After, between rounds).
    """
    mission_dir = Path(mission_dir)
    cfg = config if isinstance(config, SyncConfig) else load_config(mission_dir, config)
    redact = Redactor()
    for secret in cfg.secrets():
        redact.add(secret)
    stop_event = stop_event or threading.Event()

    def say(text: str) -> None:
        text = redact(text)
        log.info("%s", text)
        progress(text)

    def wait(seconds: float) -> None:
        if stop_event.is_set():
            raise _Stopped()
        if sleep is not None:
            sleep(seconds)
        elif stop_event.wait(seconds):
            raise _Stopped()
        if stop_event.is_set():
            raise _Stopped()

    for warning in cfg.warnings:
        say(_("warning: {warning}").format(warning=warning))
    http = Http(cfg.settings, redact, wait)
    ingestor = Ingestor(mission_dir, cfg.settings.mapping)
    totals: dict[str, SourceSummary] = {}
    try:
        sources = build_sources(cfg, mission_dir, http, redact)
        if once:
            text = ngettext("sync: {n} source(s) from {config}", "sync: {n} source(s) from {config}", len(sources))
        else:
            text = ngettext(
                "sync: {n} source(s) from {config}, a round every {seconds} s",
                "sync: {n} source(s) from {config}, a round every {seconds} s",
                len(sources),
            )
        say(text.format(n=number(len(sources)), config=cfg.path, seconds=number(every)))
        done = 0
        while True:
            rnd = _Round(ingestor, http, cfg.settings, wait, stop_event.is_set, first=done == 0, once=once)
            for source in sources:
                if stop_event.is_set():
                    break
                summary = SourceSummary()
                try:
                    source.run(rnd, summary)
                except _Stopped:
                    pass  # what was committed counts; the loop ends below
                except ObsmapError as exc:
                    summary.errors += 1
                    summary.messages.append(str(exc))
                except Exception as exc:  # one source's bug must not stop the others on election night
                    summary.errors += 1
                    summary.messages.append(_("unexpected {error}: {message}").format(error=type(exc).__name__, message=exc))
                    log.debug("%s", redact(traceback.format_exc()))
                summary.messages = [redact(m) for m in summary.messages]
                for message in summary.messages:
                    say(f"{source.name}: {message}")
                totals.setdefault(source.name, SourceSummary()).merge(summary)
                if summary.new or summary.updated or summary.reviewed or summary.deleted or summary.set_aside:
                    say(f"{source.name}: {summary.line()}")
            done += 1
            if any(totals[s.name].set_aside for s in sources if s.name in totals):
                _write_set_aside(ingestor.store, mission_dir)
            if once or stop_event.is_set() or (rounds is not None and done >= rounds):
                break
            try:
                wait(every)
            except _Stopped:
                break
    finally:
        ingestor.close()
        http.close()
    return totals


SET_ASIDE_LIVE = "set_aside_live.csv"


def _write_set_aside(store: Store, mission_dir: Path) -> None:
    """Every row the store keeps aside (any source), with its source, row, reason and original values, as a CSV
    beside the mission: what an analyst opens to see what did not count, and why."""
    target = mission_dir / SET_ASIDE_LIVE
    tmp = target.with_name(f".{target.name}.tmp")
    rows = store.set_aside_rows()
    # The store keeps each reason's stable English text; the file gives it in the language of the sync, with its
    # code beside it (the same in every language), translated once per distinct reason.
    rows.insert(rows.columns.get_loc("reason"), "reason_code", reason_codes(rows["reason"].astype("string")))
    rows["reason"] = reason_texts(rows["reason"].astype("string"))
    to_safe_csv(rows, tmp)  # formula-like cells written as text (geo.csvsafe)
    os.replace(tmp, target)


def summary_json(totals: dict[str, SourceSummary]) -> dict[str, Any]:
    return {name: s.as_dict() for name, s in totals.items()}
