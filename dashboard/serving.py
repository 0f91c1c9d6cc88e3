"""``obsmap serve``'s production server: gunicorn, embedded in the command (no subprocess, nothing on a command line).

The command decides who may sign in before anything starts (:func:`dashboard.auth.accounts_to_serve`); this module
only runs the app it is given. Choices, each measured on the 2-core machine this was written on with the demo
mission and ``make load`` (100 simulated people, 2 minutes; the README's "Measured" has the numbers):

- **Worker processes** (``--workers``, default :func:`default_workers`: two per core, at most 8; 4 on 2 cores).
  A view change is tens of ms of Python holding the GIL, so processes, not threads, put the cores to work; more
  processes than cores keep a core busy while a worker waits (a reply being sent, an SQLite write, a picture drawn
  by chromium, a sign-in's argon2 hash) and keep one slow request from holding up the rest. 100 people on 2 cores:
  4 workers and 2 did as well (p95 of a phase change 150 and 210 ms over the run, 87 and 98 ms once everyone had
  arrived; 0.75 of the 2 cores busy); 4 cost 120 MB more (PSS), and leave room for exports and sign-ins.
- **One thread per worker (gunicorn's sync worker) by default.** In back-to-back runs of the same load, gthread
  workers with 4 threads had a p95 1.8 times the sync workers', with connection resets, and 2 threads (accepting
  only while a thread is free) 3.5 times: a process's threads share its GIL, and a gthread worker accepts
  connections while its threads are busy, so one worker queues requests while another idles; its 2 s keep-alive
  closes connections that a client is about to reuse. A sync worker takes a connection only when it is free (the
  kernel's accept queue balances the workers) and closes it after the reply. ``--threads N`` switches to gthread
  workers, for servers reached directly by many slow clients or drawing many pictures at once.
- **Timeouts.** A sync worker busy with one request longer than ``TIMEOUT_S`` is killed and replaced: three times
  :data:`dashboard.exports.RENDER_TIMEOUT_S`, so a picture or a brief (each chromium step bounded by that) is never
  cut by gunicorn first. On SIGTERM workers finish the request in hand, for up to ``GRACEFUL_TIMEOUT_S``, and exit;
  Ctrl+C (SIGINT) stops at once.
- **Preload: the app is built once, in the master, and forked** (copy-on-write), when the mission folder has no live
  store (the demo, a folder made by hand). One load instead of one per worker; the workers share its pages;
  ``gc.freeze()`` before the fork keeps Python's collector from touching (and so copying) them. Measured with 4
  workers on the demo (PSS, shared pages counted once): 190-230 MB at the start against 510 MB when each worker
  loads, 330-370 MB after 600 requests against 560 MB; 1.6 CPU-seconds to start against 3.5. Nothing opened in
  the master survives the fork: without a store, building the app opens no SQLite connection (the accounts are
  read and written on short connections of their own), no thread, no chromium (the export renderer starts on a
  worker's first picture); the test suite checks the master holds no database file open. It also gives the open
  demo's one random session key to every worker, so a page's CSRF token works on all of them.
- **A folder with a live store is loaded in each worker**, after the fork, with the modules imported (and frozen)
  in the master: building the app opens the store (an SQLite connection, which must not cross a fork), and every
  new data version is read again by each worker anyway, so a master copy would only go stale in memory.
  (A ``LiveMission`` that could close its store before the fork would let these folders be preloaded too.)

Workers share nothing but files: the live store, and the accounts file, which holds the sessions, so a sign-in made
on one worker is good on all (Flask's session key is the accounts' ``secret_key`` file); and, with ``--cache
redis://...``, the view's parts and pictures (:mod:`dashboard.cache`: without it each worker keeps its own). Each
worker draws pictures and prints briefs with one chromium of its own, started on its first (:class:`dashboard.exports.Renderer`).
"""

from __future__ import annotations

import gc
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from dashboard.accounts import Accounts
from dashboard.auth import NO_SIGN_IN_NOTE
from dashboard.exports import RENDER_TIMEOUT_S
from geo.errors import ObsmapError
from geo.i18n import _, ngettext, number
from geo.store import store_of

MAX_WORKERS = 8
TIMEOUT_S = 3 * RENDER_TIMEOUT_S
GRACEFUL_TIMEOUT_S = 30
APP_LOAD_ERROR = 4  # gunicorn's exit status for "App failed to load."


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(n_cores: int | None = None) -> int:
    """Worker processes by default: two per core, at least 2, at most :data:`MAX_WORKERS`.

    >>> default_workers(1), default_workers(2), default_workers(4), default_workers(16)
    (2, 4, 8, 8)
    """
    return max(2, min(2 * (n_cores or cores()), MAX_WORKERS))


def bind_address(host: str, port: int) -> str:
    """gunicorn's ``bind`` for ``host``: an IPv6 address goes in brackets.

    >>> bind_address("127.0.0.1", 8050), bind_address("::1", 8050)
    ('127.0.0.1:8050', '[::1]:8050')
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def preloads(folder: Path) -> bool:
    """Whether the app is built once in the master (no live store) or in each worker (a live store: see the module)."""
    return store_of(folder) is None  # SQLite or PostgreSQL: a live store is read in each worker


class Server(BaseApplication):
    """gunicorn configured in code (no command line, no config file, no ``GUNICORN_CMD_ARGS``), serving ``factory()``."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any], secret_key: bytes | None = None) -> None:
        self._factory = factory
        self._options = options
        self._secret_key = secret_key
        super().__init__(prog="obsmap serve")

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # a setting an older gunicorn lacks (the control socket came in 25.1) is left out
                self.cfg.set(key, value)

    def load(self) -> Any:
        """The Flask server of the app: in the master when preloading (an error stops ``obsmap serve`` with its
        sentence), else in each worker (the sentence, then gunicorn's "App failed to load")."""
        if self.cfg.preload_app:
            app = self._factory()
        else:
            try:
                app = self._factory()
            except ObsmapError as exc:
                print(f"obsmap: {exc}", file=sys.stderr, flush=True)
                sys.exit(APP_LOAD_ERROR)
        if self._secret_key is not None:  # the open demo loaded in each worker: one session key for all of them
            app.server.config["SECRET_KEY"] = self._secret_key
        return app.server


def serve(
    factory: Callable[[], Any],
    *,
    folder: Path,
    host: str,
    port: int,
    accounts: Accounts | None,
    workers: int,
    threads: int = 1,
) -> int:
    """Serve ``factory()`` (a Dash app) on ``host:port`` until SIGTERM or Ctrl+C; the exit code of ``obsmap serve``."""
    preload = preloads(folder)
    url_host = f"[{host}]" if ":" in host else host
    workers_text = ngettext("{n} worker process", "{n} worker processes", workers).format(n=number(workers))
    if threads > 1:
        # TRANSLATORS: {workers} is "4 worker processes"; the line reads "with 4 worker processes x 2 threads".
        workers_text = ngettext("{workers} x {n} thread", "{workers} x {n} threads", threads).format(
            workers=workers_text, n=number(threads)
        )

    def when_ready(_arbiter: Any) -> None:
        """In the master, listening, before the first fork: freeze what is loaded (see the module), then say where."""
        if not preload:
            import dashboard.exports  # noqa: F401 - the rest came with create_app: every worker shares them

        gc.collect()
        gc.freeze()
        url = f"http://{url_host}:{port}/"
        print(
            "obsmap: "
            + _("serving {folder} at {url} with {workers} (Ctrl+C to stop)").format(folder=folder, url=url, workers=workers_text),
            flush=True,
        )
        sign_in = _(NO_SIGN_IN_NOTE) if accounts is None else _("sign-in required (accounts in {path})").format(path=accounts.path)
        print(f"obsmap: {sign_in}", flush=True)

    options = {
        "bind": [bind_address(host, port)],
        "workers": workers,
        "worker_class": "sync" if threads == 1 else "gthread",
        "threads": threads,
        "timeout": TIMEOUT_S,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "preload_app": preload,
        "proc_name": "obsmap",
        "loglevel": "warning",  # worker timeouts, crashes and boot failures; the audit trail records who did what
        "accesslog": None,
        "control_socket_disable": True,  # gunicorn's runtime control socket (one fixed path per user): not wanted
        "when_ready": when_ready,
    }
    key = secrets.token_bytes(32) if accounts is None and not preload else None
    try:
        Server(factory, options, key).run()
    except SystemExit as exc:
        if exc.code == APP_LOAD_ERROR:
            return 2  # the worker printed the sentence
        raise
    return 0
