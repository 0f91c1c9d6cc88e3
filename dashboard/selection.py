"""The forms a view selects: filtered once per (filters, data version) and shared by everything that view shows.

One user action asks for the same forms several times (the map, the headlines, the problem chart,
the timeline, the table, an export link followed later). :func:`select` filters the mission's
forms in one pass and keeps the result in a small per-process cache keyed on the mission's data
version and the filters that decide which forms are in (not the metric, the mode or ``min_n``), so
a later request for the same view (another user, an image, the CSV) filters nothing. A new data
version is a new key: the cache can never serve figures of older data.

:data:`dashboard.filters.work` counts filter parses, filter passes and cache hits; ``make bench``
prints them per user action.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TypeVar

import numpy as np
import pandas as pd

from dashboard.analysis import form_masks
from dashboard.counting import Codes, Counted, codes_for
from dashboard.filters import Filters, work
from geo.mission import MissionDataset

CACHE_SIZE = 32
MEMO_SIZE = 64  # figures and tables kept per cached view
T = TypeVar("T")
# Columns only the forms table and the CSV show (Selection.rows): the figures never read them.
ROWS_ONLY = frozenset({"form_id", "observer_org", "district_code", "urban_rural", "evoting", "comments", "form_key", "first_data_version"})
_cache: OrderedDict[tuple[str, Filters], Selection] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Selection:
    """A view's forms, in the variants the page needs, as rows to count (:class:`~dashboard.counting.Counted`:
    a mask over the mission's coded columns, nothing copied):

    - :attr:`phase`: the chosen phase, every filter applied (what the map and the table count);
    - :attr:`all_phases`: every phase, every other filter applied (the findings by phase);
    - :attr:`phase_any_problem`: the phase without the problem filter (a problem's own rate);
    - :attr:`present`: the phase without the assessment and problem filters (was a station observed at all).

    :attr:`phase_forms` is :attr:`phase` as a table (the drill-down's stations); :meth:`rows` and
    :meth:`row_chunks` give every column (the forms table, the CSV). Every frame is read-only.
    """

    forms: pd.DataFrame
    masks: dict[str, np.ndarray]
    codes: Codes
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` for these forms: a figure or a table of a view is made once, whoever
        asks for it again (another user, the same view after a detour) gets it from here. The key names
        everything besides the forms that the result depends on (the whole ``Filters`` and the role's
        privacy, in practice). Results are shared: never change one."""
        try:
            return self.memo[key]
        except KeyError:
            pass
        value = compute()
        if len(self.memo) >= MEMO_SIZE:
            self.memo.clear()
        self.memo[key] = value
        return value

    @cached_property
    def _counted(self) -> pd.DataFrame:
        """The columns the figures count with (a view: pandas copies on write only). Taking rows copies each
        column, so the figures' variants leave out what only the forms table and the CSV show."""
        return self.forms[[c for c in self.forms.columns if c not in ROWS_ONLY]]

    def _keep(self, *names: str) -> np.ndarray:
        keep = self.masks["base"]
        for name in names:
            keep = keep & self.masks[name]
        return keep

    def _count(self, *names: str) -> Counted:
        return Counted(self.codes, self._keep(*names))

    def row_chunks(self, every_phase: bool = False, size: int = 50_000) -> Iterator[pd.DataFrame]:
        """:meth:`rows` a slice at a time: what a streamed CSV writes, in memory bounded by ``size`` rows."""
        positions = np.flatnonzero(self.row_mask(every_phase))
        for start in range(0, len(positions), size):
            yield self.forms.iloc[positions[start : start + size]]

    def rows(self, every_phase: bool = False) -> pd.DataFrame:
        """The forms of :attr:`phase` (or :attr:`all_phases`) with every column: what the table and the CSV show."""
        return self.forms[self.row_mask(every_phase)]

    def row_mask(self, every_phase: bool = False) -> np.ndarray:
        """Which of the mission's forms :meth:`rows` lists (the forms table and the CSV), as a boolean array."""
        return self._keep("overall", "problem") if every_phase else self._keep("phase", "overall", "problem")

    @cached_property
    def phase(self) -> Counted:
        return self._count("phase", "overall", "problem")

    @cached_property
    def all_phases(self) -> Counted:
        return self._count("overall", "problem")

    @cached_property
    def phase_any_problem(self) -> Counted:
        return self._count("phase", "overall")

    @cached_property
    def present(self) -> Counted:
        return self._count("phase")

    @cached_property
    def phase_forms(self) -> pd.DataFrame:
        """:attr:`phase` as a table of the columns the figures read (a copy of those rows)."""
        return self._counted[self.phase.keep]


def forms_key(filters: Filters) -> Filters:
    """The part of the filters that decides which forms are in: metric, mode, min_n and drill do not."""
    problem = filters.problem if filters.filters_by_problem else None
    return replace(Filters(), **{k: getattr(filters, k) for k in FORM_FIELDS}, problem=problem)


FORM_FIELDS = ("form_type", "regions", "setting", "evoting", "orgs", "teams", "overall", "hours", "review", "conflict")


def forget_other_versions(version: str) -> None:
    """Drop cached views of other data versions (a live mission moved on): they would only hold memory."""
    with _lock:
        for key in [k for k in _cache if k[0] != version]:
            del _cache[key]


def select(mission: MissionDataset, filters: Filters) -> Selection:
    """The forms of ``filters`` in ``mission``: from the cache, or filtered now in one pass."""
    # A mission built in memory has no version: its identity keys it, for as long as it lives.
    key = (mission.version or f"object-{id(mission)}", forms_key(filters))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            work["cache_hits"] += 1
            return hit
    work["rows_filtered"] += 1
    masks = {name: mask.to_numpy(dtype=bool) for name, mask in form_masks(mission.forms, key[1]).items()}
    chosen = Selection(mission.forms, masks, codes_for(mission, mission.forms, mission.region_codes))
    with _lock:
        _cache[key] = chosen
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return chosen
