"""Compressed replies (Flask-Compress): brotli when the browser takes it, else gzip.

The page's layout (the regions' GeoJSON travels in it once), every callback reply and Dash's scripts and styles are
text that compresses five to ten times; a briefing room's Wi-Fi or a regional office's link is where the page's
time goes. The README's "Compressed replies" has the measurements.

- **Streamed replies stay streamed**: ``/export.csv`` is compressed a slice at a time as it is written, never
  buffered whole, so a million forms still never sit in memory as one text. gzip is preferred there: zlib sends
  a compressed piece every ~300 KB of CSV, brotli holds up to ~8 MB (its window) before its first.
- **Dash's scripts and styles** (``/_dash-component-suites/``, the same bytes for every visitor of one obsmap
  version) are compressed once per process and kept (:class:`_Suites`): plotly.js alone is 4.6 MB, which costs
  tens of milliseconds of CPU each time.
- **Not the sign-in pages**: they hold the CSRF token next to what the request sent (the user name, ``next``); a
  compressed reply's length could tell an eavesdropper about the token (BREACH). Everything else that holds a
  secret holds nothing an outsider chose.
- Pictures and PDFs are compressed already: only text types are touched (Flask-Compress's list, SVG included, and CSV).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask, Response, request
from flask_compress import Compress

ALGORITHMS = ["br", "gzip"]
NOT_COMPRESSED = ("/sign-in", "/sign-out")  # see the module: a secret next to what the request sent
SUITES = "/_dash-component-suites/"
SUITES_KEPT = 64  # distinct script and style files kept compressed (a page loads about 20)


class _Suites:
    """Flask-Compress's cache interface, for Dash's component suites only (bounded; the same bytes for everyone)."""

    def __init__(self) -> None:
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._held.get(key)

    def set(self, key: str, value: bytes) -> None:
        if SUITES not in key:  # any other reply is its own, never kept
            return
        with self._lock:
            self._held[key] = value
            while len(self._held) > SUITES_KEPT:
                self._held.popitem(last=False)


def _cache_key(req) -> str:
    # Dash's suite URLs carry the package's version (?v=...), so one URL is one file's bytes; other replies never reach set().
    return req.full_path


def install(server: Flask) -> Compress:
    """Compress ``server``'s text replies (see the module); Flask-Compress's own after-request is replaced by :func:`_compress`."""
    server.config.update(
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=["gzip", "br"],  # gzip sends a piece every ~300 KB of CSV, brotli only every ~8 MB
        COMPRESS_STREAMS=True,
        COMPRESS_BR_LEVEL=4,  # brotli 4 is as fast as gzip 6 and smaller
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=500,
        COMPRESS_REGISTER=False,
        COMPRESS_CACHE_KEY=_cache_key,
    )
    plain = Compress(server)  # COMPRESS_REGISTER is off: _compress below decides which reply goes where
    server.config["COMPRESS_MIMETYPES"] = [*server.config["COMPRESS_MIMETYPES"], "text/csv"]  # its text types, and the CSV
    plain.init_app(server)
    plain.cache = None
    suites = Compress(server)
    suites.cache = _Suites()  # consulted only for replies that are not streamed

    @server.after_request
    def _compress(reply: Response) -> Response:
        if request.path.startswith(NOT_COMPRESSED):
            return reply
        if reply.direct_passthrough:  # a file (the assets): read whole and closed here; streaming it left the file open
            reply.direct_passthrough = False
            reply.make_sequence()
        return (suites if request.path.startswith(SUITES) else plain).after_request(reply)

    return plain
