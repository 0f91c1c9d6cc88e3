"""The parts of a view, shared by every worker: Flask-Caching, in this process by default, Redis with ``--cache``.

Everything a page shows is a function of (filters, data version), so a part that one worker drew (the map's patch,
the headlines, a chart, the table by region) can be handed to every other worker and every other user with the
same view and the same rights. :func:`remember` is the second level behind each view's own memo
(:meth:`dashboard.selection.Selection.remember`): the process's memo first, then this cache, then draw and store.

- **The key** names everything a part depends on: the scoped mission's ``version`` (the data's digest and store
  version, and the reader's scope: regions and aggregates-only, see :meth:`dashboard.access.Access.scope`), the
  part's name, the whole ``Filters`` and the role's privacy, and the versions of obsmap, Dash and Plotly (a part
  drawn by other code is another part). It is written out canonically (JSON, sorted) and hashed, so it has the
  same fixed length in every process whatever Python's hash seed: ``obsmap:part:<sha256>``.
- **A mission without a version** (built in memory, e.g. by a test) is never shared: its only name is an object
  id, which another process, or this one later, may give to other data.
- **Values** are pickled (Flask-Caching's way): Dash components, Plotly figures and Dash's ``Patch`` (which
  pickles its operations: :class:`dash.Patch` defines ``__getstate__``) come back equal. Whoever can write to the
  Redis can therefore run code in obsmap: give obsmap a Redis of its own, on 127.0.0.1 or behind a password.
- **Redis down or unreachable**: the part is drawn here, one warning is logged, and the cache is left alone for
  :data:`RETRY_S` seconds (no request waits on a dead server), then tried again; short socket timeouts bound a
  request's wait on a server that stopped answering.
- **Secrets**: ``--cache`` (and ``$OBSMAP_CACHE``) may name a Redis user but never its password (a command line
  can be read by every user of the machine); the password is read from the file ``$OBSMAP_CACHE_PASSWORD_FILE``
  names, and never logged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from flask_caching import Cache

from geo.errors import ObsmapError
from geo.i18n import _, current

T = TypeVar("T")
CACHE_ENV = "OBSMAP_CACHE"
PASSWORD_FILE_ENV = "OBSMAP_CACHE_PASSWORD_FILE"
TIMEOUT_S = 3600  # a part of an old data version is never asked for again: it only waits to expire
THRESHOLD = 128  # entries kept by the in-process cache: parts (a few KB each), pictures and briefs (0.1-1 MB)
LARGEST_BYTES = 2_000_000  # a picture larger than this is not kept (a drilled map of a huge network): memory first
RETRY_S = 30.0  # after a failure, the shared cache is left alone this long
SOCKET_TIMEOUT_S = 0.5  # Redis answers in well under a millisecond on a LAN; a stalled one costs a request this much
KEY_PREFIX = "obsmap:part:"
EXTENSION = "obsmap_cache"

log = logging.getLogger(__name__)


def _versions() -> str:
    names = []
    for package in ("obsmap", "dash", "plotly"):
        try:
            names.append(f"{package}={version(package)}")
        except PackageNotFoundError:  # run from a checkout without an install
            names.append(f"{package}=?")
    return ",".join(names)


CODE = _versions()


def cache_config(url: str | None = None) -> dict[str, Any]:
    """Flask-Caching's configuration for ``url`` (default ``$OBSMAP_CACHE``, else in-process).

    ``simple`` (the default): each process keeps its own; ``none``: nothing kept beyond a view's own memo;
    ``redis://[user@]host:port/db`` or ``rediss://...`` (TLS): shared by every worker and every server using it.
    Raises :class:`ObsmapError` (one sentence) for anything else, and for a password in the URL.

    >>> cache_config("simple")["CACHE_TYPE"], cache_config("none")["CACHE_TYPE"]
    ('SimpleCache', 'NullCache')
    >>> cache_config("redis://127.0.0.1:6379/2")["CACHE_REDIS_URL"]
    'redis://127.0.0.1:6379/2'
    >>> cache_config("redis://:secret@127.0.0.1:6379/0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.ObsmapError: --cache (or $OBSMAP_CACHE) must not hold a password (...): put it in a file ... $OBSMAP_CACHE_PASSWORD_FILE.
    """
    url = (url if url is not None else os.environ.get(CACHE_ENV, "")).strip() or "simple"
    common = {"CACHE_DEFAULT_TIMEOUT": TIMEOUT_S, "CACHE_KEY_PREFIX": ""}  # part_key() names the keys itself
    if url == "simple":
        return {**common, "CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": THRESHOLD}
    if url == "none":
        return {**common, "CACHE_TYPE": "NullCache"}
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("redis", "rediss") or not parts.hostname:
        shown = url if "@" not in url else _("that URL")  # credentials are never repeated
        raise ObsmapError(_("--cache (or ${env}) takes simple, none or redis://host:port/db, not {url}.").format(env=CACHE_ENV, url=shown))
    if parts.password is not None or "password" in parts.query.lower():
        raise ObsmapError(
            _(
                "--cache (or ${env}) must not hold a password (any user of this machine can read a command line): put it in a file only "
                "obsmap can read and name that file in ${file_env}."
            ).format(env=CACHE_ENV, file_env=PASSWORD_FILE_ENV)
        )
    options: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": SOCKET_TIMEOUT_S}
    secret_file = os.environ.get(PASSWORD_FILE_ENV)
    if secret_file:
        try:
            options["password"] = Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ObsmapError(
                _("${env}: cannot read {file} ({error}).").format(env=PASSWORD_FILE_ENV, file=secret_file, error=exc.strerror)
            ) from None
    shown = f"{parts.scheme}://{parts.hostname}:{port or 6379}{parts.path or '/0'}"
    return {**common, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_OPTIONS": options, "OBSMAP_CACHE_SHOWN": shown}


class SharedCache:
    """One app's cache of view parts (see the module): a Flask-Caching ``Cache`` and what to do when it fails."""

    def __init__(self, server: Flask, config: dict[str, Any]) -> None:
        self.kind = config["CACHE_TYPE"]
        self.where = config.get("OBSMAP_CACHE_SHOWN", self.kind)
        # "none": no Cache at all (Flask-Caching's NullCache would only warn that it caches nothing)
        self.cache = None if self.kind == "NullCache" else Cache(server, config={k: v for k, v in config.items() if k.startswith("CACHE_")})
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._unshareable: set = set()

    def _usable(self) -> bool:
        return self.cache is not None and time.monotonic() >= self._down_until

    def _failed(self, doing: str, exc: Exception) -> None:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + RETRY_S
        if first:  # one warning per outage, not one per request
            log.warning(
                "the shared cache (%s) failed %s: %s: %s; parts are drawn here until it answers again (tried every %.0f s)",
                self.where,
                doing,
                type(exc).__name__,
                exc,
                RETRY_S,
            )

    def _answered(self) -> None:
        if self._down_until:
            with self._lock:
                if self._down_until:
                    self._down_until = 0.0
                    log.warning("the shared cache (%s) answers again", self.where)

    def remember(self, mission_version: str, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, or what any process using this cache computed for the same version and key."""
        if not shareable(mission_version) or not self._usable():
            return compute()
        assert self.cache is not None
        name = part_key(mission_version, key)
        try:
            held = self.cache.get(name)
        except Exception as exc:  # Redis gone or a timeout (drawn here; left alone a while), or a value that no longer unpickles
            self._trouble("reading", key, exc)
            held = None
        else:
            self._answered()
        if isinstance(held, tuple) and len(held) == 1:
            return held[0]
        value = compute()
        if self._usable() and not (isinstance(value, bytes) and len(value) > LARGEST_BYTES):
            try:
                self.cache.set(name, (value,))  # a 1-tuple: a part that is None is a hit too
            except Exception as exc:
                self._trouble("writing", key, exc)
        return value

    def _trouble(self, doing: str, key: Hashable, exc: Exception) -> None:
        """The server failing (left alone a while, one warning) or one value that cannot travel (that part only)."""
        if isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith("redis"):
            self._failed(doing, exc)
            return
        part = key[0] if isinstance(key, tuple) and key else key
        if part not in self._unshareable:  # a programming matter (a value pickle cannot take): said once per part
            self._unshareable.add(part)
            log.warning("the part %r cannot be shared (%s %s: %s): it is drawn in each worker", part, doing, type(exc).__name__, exc)


def install(server: Flask, url: str | None = None) -> SharedCache:
    """Give ``server`` its cache of view parts (``url``: see :func:`cache_config`)."""
    shared = SharedCache(server, cache_config(url))
    server.extensions[EXTENSION] = shared
    return shared


def remember(mission_version: str, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` through the current app's shared cache (:meth:`SharedCache.remember`); outside an app, computed."""
    shared = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if shared is None:
        return compute()
    return shared.remember(mission_version, key, compute)


def remember_made(kind: str, digest: str, compute: Callable[[], T]) -> T:
    """Something made from a source alone (``digest``: the source's SHA-256, e.g. a figure's JSON for its PNG): the same
    source makes the same bytes whoever asks, so it is shared like a part, under its own kind."""
    return remember(f"made-{kind}", (digest,), compute)


def shareable(mission_version: str) -> bool:
    """Whether parts of a mission with this version may leave the process: not when it has no version of its own.

    >>> shareable("1f2e-store7|all|forms"), shareable(""), shareable("object-1402|KZ-KAR|forms")
    (True, False, False)
    """
    return bool(mission_version) and not mission_version.startswith("object-")


def part_key(mission_version: str, key: Hashable, language: str | None = None) -> str:
    """The cache's name for a part: fixed length, the same in every process for the same version, key and language
    (``language``: the current one by default; a part holds words, so a Russian view's parts are never an English one's).

    >>> from dashboard.filters import Filters
    >>> k = part_key("v1|all|forms", ("map", Filters("voting", regions=("KZ-KAR",)), False))
    >>> k.startswith("obsmap:part:"), len(k), k == part_key("v1|all|forms", ("map", Filters("voting", regions=("KZ-KAR",)), False))
    (True, 76, True)
    >>> k == part_key("v1|all|aggregates", ("map", Filters("voting", regions=("KZ-KAR",)), False))
    False
    >>> key = ("map", Filters("voting", regions=("KZ-KAR",)), False)
    >>> k == part_key("v1|all|forms", key, "ru"), k == part_key("v1|all|forms", key, "en")
    (False, True)
    """
    words = language or current()
    text = json.dumps([CODE, mission_version, words, _canonical(key)], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return KEY_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON, the same in every process (no object ids, no set order, no hash seed)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__qualname__, **{f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a cache key holds {type(value).__name__}, which has no stable name across processes")
