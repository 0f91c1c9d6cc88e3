"""Who is asking, and what of the mission they may see: enforced on the server, for every response.

Every callback and download route starts from :func:`current_access` and reads the mission through
:meth:`Access.scope` and the view through :meth:`Access.restrict`, so nothing a role may not see ever
reaches the code that draws the page:

- *admin* and *analyst*: every region, every form, comments, team ids, exports;
- *coordinator*: the same, for the regions granted to them only. Their mission **is** those regions'
  forms (and stations): a crafted URL, callback payload or export request naming another region finds
  no form of it, and every total is a total of their regions;
- *viewer* (briefings, leadership): aggregates only. Their mission has no comments and no team ids
  (team ids become anonymous numbers, so "from 35 teams" still counts); no forms table, no forms CSV,
  no station drill-down; the smallest N shown as a share is the server's, whatever the URL says, and a
  cell behind fewer forms says "too few" without its count.

Without accounts (the demo on this machine only) the page is open, as an analyst, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import pandas as pd

from dashboard.filters import Filters
from geo.i18n import N_, Labels, _
from geo.mission import MissionDataset

VIEWER_NOTICE = N_("Polling-station detail and team filters are for analysts and coordinators; this account sees aggregates.")
# A role as the header names it (the role itself stays the account's English word).
ROLE_LABELS = Labels({"admin": N_("admin"), "analyst": N_("analyst"), "coordinator": N_("coordinator"), "viewer": N_("viewer")})


class NotSignedIn(Exception):
    """A request reached data code without a signed-in user (the sign-in gate should have refused it first)."""


@dataclass(frozen=True)
class Access:
    """One user's rights: their role and, for a coordinator, the regions granted."""

    user: str | None
    role: str
    regions: frozenset[str] | None = None  # None: every region
    open: bool = False  # no sign-in: the demo on this machine only

    @property
    def sees_forms(self) -> bool:
        """Forms one by one (the table, the forms CSV, stations, comments, team ids): not for viewers."""
        return self.role != "viewer"

    @property
    def aggregates_only(self) -> bool:
        return self.role == "viewer"

    def restrict(self, filters: Filters, server_min_n: int) -> tuple[Filters, list[str]]:
        """The view this user may have, and what was left out of the asked one, in words.

        A coordinator's view is always within their regions: no region chosen means all of theirs (so
        the page says which), and a region or drill-down that is not theirs is left out. A viewer's
        drill-down and team filter are dropped, and their ``min_n`` never goes below the server's.
        (Their mission holds nothing else in any case: see :meth:`scope`.)
        """
        notices: list[str] = []
        if self.regions is not None:
            theirs = tuple(code for code in filters.regions if code in self.regions)
            others = [code for code in filters.regions if code not in self.regions]
            if others:
                notices.append(_("Not among your regions, left out: {regions}.").format(regions=", ".join(others)))
            drill = filters.drill if filters.drill in self.regions else None
            filters = replace(filters, regions=theirs or tuple(sorted(self.regions)), drill=drill)
        if self.aggregates_only:
            if filters.drill or filters.teams:
                notices.append(_(VIEWER_NOTICE))
            filters = replace(filters, drill=None, teams=(), min_n=max(filters.min_n, server_min_n))
        return filters, notices

    def scope(self, mission: MissionDataset) -> MissionDataset:
        """The mission as this user may read it (the same object when nothing is held back)."""
        if self.regions is None and not self.aggregates_only:
            return mission
        return _scoped(mission, self.regions, self.aggregates_only)

    def describe(self) -> str:
        """ "alice · coordinator (KZ-KAR, KZ-PAV)" for the header."""
        if self.open:
            return _("No sign-in")
        where = f" ({', '.join(sorted(self.regions))})" if self.regions is not None else ""
        return f"{self.user} · {ROLE_LABELS.get(self.role, self.role)}{where}"


OPEN = Access(user=None, role="analyst", open=True)


@lru_cache(maxsize=16)
def _scoped(mission: MissionDataset, regions: frozenset[str] | None, aggregates_only: bool) -> MissionDataset:
    """A copy of ``mission`` with only ``regions``' forms and stations; for aggregates, without comments and
    with anonymous team numbers. Its ``version`` names the scope, so cached views never mix users' data."""
    forms = mission.forms
    stations = mission.stations
    if regions is not None:
        forms = forms[forms["region_code"].isin(regions).to_numpy()]
        if stations is not None and "region_code" in stations:
            stations = stations[stations["region_code"].isin(regions).to_numpy()]
    teams = mission.teams
    if regions is not None and teams is not None and "team_id" in teams:
        teams = teams[teams["team_id"].isin(forms["team_id"].dropna().unique())]
    if aggregates_only:
        forms = forms.copy()
        forms["comments"] = pd.Series(pd.NA, index=forms.index, dtype="string")
        codes, _uniques = pd.factorize(forms["team_id"])
        forms["team_id"] = pd.Series(codes, index=forms.index).map(lambda c: pd.NA if c < 0 else f"{c + 1}").astype("string")
        teams = None  # team lists name observers
    scope = "all" if regions is None else ",".join(sorted(regions))
    return replace(
        mission,
        forms=forms,
        stations=stations,
        teams=teams,
        version=f"{mission.version or f'object-{id(mission)}'}|{scope}|{'aggregates' if aggregates_only else 'forms'}",
    )


def current_access() -> Access:
    """The signed-in user's access in this request (the app's open access when it has no accounts).

    Raises :class:`NotSignedIn` when no one is signed in: data code never runs for an anonymous request.
    """
    from flask import current_app
    from flask_login import current_user

    if current_app.config.get("OBSMAP_OPEN"):
        return OPEN
    if not current_user or not current_user.is_authenticated:
        raise NotSignedIn("sign in first")
    account = current_user.account
    regions = frozenset(account.regions) if account.role == "coordinator" else None
    return Access(user=account.username, role=account.role, regions=regions)
