"""Forms as numbers, for counting: every tally a view shows is a ``np.bincount`` over a row mask.

A view's figures count the same forms in a dozen ways (by phase, by region, by hour, per problem,
teams, stations). Taking the view's rows out of the forms table for each of them copied every
column each time: at 1,000,000 forms about 24 ms per variant, four variants per view. Here the
columns the figures count are turned into small integer codes once per forms table
(:class:`Codes`, built lazily, one array at a time, and kept as long as the table lives), and a
view's forms are a boolean mask over them (:class:`Counted`): a tally is one ``bincount`` over
the rows the mask keeps, with nothing copied but the codes of those rows.

The counting rules are those of :mod:`dashboard.analysis`, whose functions take either a forms
table or a :class:`Counted`; this module only says how the numbers are laid out.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from geo.schema import FORM_TYPES, PROBLEMS


class Codes:
    """The counted columns of one forms table as integer codes; a missing or unknown value gets the last code.

    ``regions`` fixes the order of the region codes (the mission's, else the values found).
    Read-only; arrays are made on first use and kept.
    """

    def __init__(self, forms: pd.DataFrame, regions: tuple[str, ...] | None = None) -> None:
        self.forms = forms
        self.size = len(forms)
        if regions is not None:
            self.regions = tuple(dict.fromkeys(regions))

    @cached_property
    def regions(self) -> tuple[str, ...]:
        """The region codes counted by, in order: given, else those of the forms."""
        return tuple(sorted(self.forms["region_code"].dropna().unique()))

    @staticmethod
    def _categorical(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
        codes = pd.Categorical(values, categories=list(categories)).codes.astype(np.int32)
        codes[codes < 0] = len(categories)  # missing or not one of them: the spare last bin
        return codes

    @cached_property
    def phase(self) -> np.ndarray:
        """Index into FORM_TYPES."""
        return self._categorical(self.forms["form_type"], FORM_TYPES)

    @cached_property
    def region(self) -> np.ndarray:
        """Index into :attr:`regions`."""
        return self._categorical(self.forms["region_code"], self.regions)

    @cached_property
    def assessed(self) -> np.ndarray:
        """The form has an overall assessment."""
        return self.forms["negative"].notna().to_numpy(dtype=bool)

    @cached_property
    def negative(self) -> np.ndarray:
        """Assessed bad or very bad."""
        return self.forms["negative"].fillna(False).to_numpy(dtype=bool)

    @cached_property
    def state(self) -> np.ndarray:
        """The assessment as a number: 0 none, 1 assessed and not bad, 2 bad or very bad."""
        return (self.assessed.astype(np.int32) + self.negative).astype(np.int32)

    @cached_property
    def _hours(self) -> tuple[np.ndarray, np.ndarray]:
        hour = self.forms["hour"].astype(float).to_numpy()
        timed = ~np.isnan(hour)
        hours, index = np.unique(np.floor(hour[timed]).astype(np.int64), return_inverse=True)
        codes = np.full(self.size, len(hours), dtype=np.int32)  # no time: the spare last bin
        codes[timed] = index
        return codes, hours

    @property
    def hour(self) -> np.ndarray:
        """Index into :attr:`hours`; ``len(hours)`` when the form has no time."""
        return self._hours[0]

    @property
    def hours(self) -> np.ndarray:
        """The whole hours since election-day midnight at which forms were observed, in order (however far apart)."""
        return self._hours[1]

    def with_state(self, name: str) -> np.ndarray:
        """``name``'s code (phase, region, hour) times 3 plus :attr:`state`: one count gives a bin's forms by assessment."""
        key = f"_{name}_state"
        found = self.__dict__.get(key)
        if found is None:
            found = self.__dict__[key] = getattr(self, name) * 3 + self.state
        return found

    @cached_property
    def answered(self) -> dict[str, np.ndarray]:
        """Per problem question: the form answered it (yes or no)."""
        return {p: self.forms[p].notna().to_numpy(dtype=bool) for p in PROBLEMS}

    @cached_property
    def yes(self) -> dict[str, np.ndarray]:
        """Per problem question: the form answered "yes"."""
        return {p: self.forms[p].fillna(False).to_numpy(dtype=bool) for p in PROBLEMS}

    @cached_property
    def _stations(self) -> tuple[np.ndarray, pd.Index]:
        codes, uniques = pd.factorize(self.forms["ps_id"])
        codes = codes.astype(np.int32)
        codes[codes < 0] = len(uniques)
        return codes, pd.Index(uniques)

    @property
    def station(self) -> np.ndarray:
        """Index into :attr:`station_ids` (the forms' polling stations)."""
        return self._stations[0]

    @property
    def station_ids(self) -> pd.Index:
        return self._stations[1]

    @cached_property
    def _teams(self) -> tuple[np.ndarray, int]:
        codes, uniques = pd.factorize(self.forms["team_id"])
        codes = codes.astype(np.int32)
        codes[codes < 0] = len(uniques)
        return codes, len(uniques)

    @property
    def team(self) -> np.ndarray:
        return self._teams[0]

    @property
    def n_teams(self) -> int:
        return self._teams[1]


@dataclass(frozen=True, eq=False)
class Counted:
    """Some rows of a forms table, for counting: its :class:`Codes` and which rows are in (``None``: all)."""

    codes: Codes
    keep: np.ndarray | None = None

    @classmethod
    def of(cls, forms: pd.DataFrame | Counted, regions: tuple[str, ...] | list[str] | None = None) -> Counted:
        """``forms`` as counted rows: a table is coded whole (a view's forms are already a :class:`Counted`)."""
        if isinstance(forms, Counted):
            return forms
        return cls(Codes(forms, tuple(regions) if regions is not None else None))

    @cached_property
    def n(self) -> int:
        return self.codes.size if self.keep is None else int(np.count_nonzero(self.keep))

    def __len__(self) -> int:
        return self.n

    def rows(self, also: np.ndarray | None = None) -> np.ndarray | None:
        """The mask of the rows counted (and ``also``), or ``None`` for every row."""
        if also is None:
            return self.keep
        return also if self.keep is None else self.keep & also

    def count(self, also: np.ndarray | None = None) -> int:
        """How many of the rows (that are also ``also``)."""
        mask = self.rows(also)
        return self.codes.size if mask is None else int(np.count_nonzero(mask))

    def bincount(self, index: np.ndarray, size: int, also: np.ndarray | None = None) -> np.ndarray:
        """How many rows (that are also ``also``) fall in each of ``size`` bins of ``index`` (the spare last code dropped)."""
        mask = self.rows(also)
        return np.bincount(index if mask is None else index[mask], minlength=size + 1)[:size]

    def tally(self, name: str, size: int) -> pd.DataFrame:
        """Per bin of ``name`` (phase, region, hour: ``size`` bins): ``n`` rows, ``assessed``, ``negative``; one count."""
        counts = self.bincount(self.codes.with_state(name), 3 * size).reshape(size, 3)
        return pd.DataFrame({"n": counts.sum(axis=1), "assessed": counts[:, 1] + counts[:, 2], "negative": counts[:, 2]})

    def by_region(self, region_codes: list[str] | tuple[str, ...], **flags: np.ndarray | None) -> pd.DataFrame:
        """One row per region of ``region_codes`` (in order; codes it lacks count 0): ``n`` rows and, for each
        named flag, the rows where it is true. Rows of other regions are left out."""
        regions = self.codes.regions
        columns = {"n": self.bincount(self.codes.region, len(regions))}
        columns.update({name: self.bincount(self.codes.region, len(regions), flag) for name, flag in flags.items()})
        out = pd.DataFrame(columns, index=pd.Index(regions, name="region_code"))
        return out.reindex(list(region_codes), fill_value=0).astype(int)

    def teams(self) -> int:
        """How many teams the rows come from."""
        return int(np.count_nonzero(self.bincount(self.codes.team, self.codes.n_teams)))

    def stations_seen(self) -> pd.Index:
        """The polling stations (ps_id) of the rows."""
        seen = self.bincount(self.codes.station, len(self.codes.station_ids)) > 0
        return self.codes.station_ids[seen]


_codes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def codes_for(owner: object, forms: pd.DataFrame, regions: tuple[str, ...]) -> Codes:
    """The :class:`Codes` of ``forms``, made once per ``owner`` (a mission: compared by identity) and kept while it lives."""
    with _lock:
        found = _codes.get(owner)
        if found is None:
            found = _codes[owner] = Codes(forms, regions)
        return found
