"""The mission a server shows: a fixed one, or a folder whose live store changes while it runs.

Every request asks :meth:`LiveMission.current`; when the store's data version has moved (a sync or
an import committed), the folder is read again, once, and every later request gets the new
snapshot. The check is one indexed read of SQLite (readers never wait for the writer) and one stat of
mission.json (a re-import rewrites it), so a page can ask every 30 seconds at no cost worth measuring.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from dashboard import table_pages
from dashboard.filters import DEFAULT_MIN_N, Known
from dashboard.selection import forget_other_versions
from geo.mission import MISSION_FILE, MissionDataset, load_mission
from geo.store import Store, connect_store, store_of

POLL_SECONDS = 30  # how often an open page asks whether the data changed (NEMO polls every 30 s)


class LiveMission:
    """``current()`` is the mission as of the store's latest commit; a MissionDataset given directly never changes."""

    def __init__(self, source: MissionDataset | Path | str, min_n: int = DEFAULT_MIN_N) -> None:
        self.min_n = min_n
        self._lock = threading.Lock()
        self._store: Store | None = None
        if isinstance(source, MissionDataset):
            self._path: Path | None = None
            self._mission = source
        else:
            self._path = Path(source)
            self._mission = load_mission(self._path)
        self._seen = self._stamp()

    @property
    def is_live(self) -> bool:
        """Whether forms can arrive while the server runs (the folder has, or may get, a live store)."""
        return self._path is not None

    def store_version(self) -> int | None:
        """The store's data version now (``None`` without a store): the cheap check a page polls."""
        if self._path is None:
            return None
        if self._store is None:
            location = store_of(self._path)  # store.sqlite, or PostgreSQL ($OBSMAP_STORE, the folder's store.toml)
            if location is None:
                return None
            with self._lock:
                if self._store is None:
                    self._store = connect_store(location)
        return self._store.data_version()

    def _stamp(self) -> tuple[int | None, float | None]:
        """What says the data changed: the store's version, and when mission.json was last written (a re-import)."""
        if self._path is None:
            return None, None
        try:
            written = (self._path / MISSION_FILE).stat().st_mtime_ns
        except OSError:
            written = None
        return self.store_version(), written

    def current(self) -> MissionDataset:
        """The mission as of the latest commit (or re-import), read again only when one of them moved."""
        stamp = self._stamp()
        if self._path is None or stamp == self._seen:
            return self._mission
        with self._lock:
            if stamp != self._seen:
                self._mission = load_mission(self._path)
                self._seen = stamp
                forget_other_versions(self._mission.version)
                table_pages.clear_caches()  # the forms table's lists and orders of older data: only memory now
        return self._mission

    def known(self, mission: MissionDataset | None = None) -> Known:
        """What a view of ``mission`` (default: the current one) may name (regions, organisations, teams)."""
        return _known(mission if mission is not None else self.current(), self.min_n)


@lru_cache(maxsize=16)  # the current mission and a few users' scoped copies of it
def _known(mission: MissionDataset, min_n: int) -> Known:
    from dashboard.views import known_values

    return known_values(mission, min_n)
