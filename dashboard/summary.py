"""The mission's figures as plain data (what `obsmap summary --json` prints)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard.analysis import negative_share_by_region, statement_sentence, tally_by_phase, wilson_interval
from dashboard.filters import DEFAULT_MIN_N
from geo.i18n import languages, use
from geo.mission import MissionDataset
from geo.schema import FORM_TYPES


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _cell(n: int, assessed: int, negative: int, min_n: int) -> dict[str, Any]:
    ci = wilson_interval(negative, assessed)
    return {
        "n": n,
        "assessed": assessed,
        "negative": negative,
        "ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)],
        "too_few": 0 < assessed < min_n,  # nothing assessed is "no data" (ci95 null), as on the map
    }


def mission_summary(mission: MissionDataset, min_n: int = DEFAULT_MIN_N) -> dict[str, Any]:
    """Counts of the mission and, per phase and per region, forms / assessed / negative.

    Each cell also has ``ci95`` (Wilson 95 % interval of the negative share, proportions 0-1, ``None``
    when nothing was assessed) and ``too_few`` (some, but fewer than ``min_n``, assessed forms).

    ``statements`` are the phases' statement sentences in the current language; ``statements_by_language`` the
    same in every shipped language (``{"en": {...}, "ru": {...}}``).

    Stations come from the registry, observers and countries from the teams table (or the
    totals declared in mission.json); each is ``None`` when the mission has no such data.
    """
    # Rejected forms are out of every figure (as on the page by default); they are counted apart.
    rejected = mission.forms["review"] == "rejected" if "review" in mission.forms else pd.Series(False, index=mission.forms.index)
    forms = mission.forms[~rejected]
    stations = mission.stations
    teams = mission.teams
    if teams is not None and len(teams):
        n_teams = int(teams["team_id"].nunique())
        observers = int(pd.to_numeric(teams["observers"]).sum()) if "observers" in teams else None
        countries = (
            int(teams["countries"].dropna().str.split(";").explode().str.strip().replace("", pd.NA).nunique())
            if "countries" in teams
            else None
        )
    else:
        n_teams = int(forms["team_id"].nunique()) if forms["team_id"].notna().any() else None
        observers = _int_or_none(mission.meta.get("observers"))
        countries = _int_or_none(mission.meta.get("countries"))
    codes = list(mission.regions["code"])
    by_region: dict[str, dict[str, dict[str, int]]] = {code: {} for code in codes}
    for ft in FORM_TYPES:
        table = negative_share_by_region(forms[forms["form_type"] == ft], codes)
        for code, row in table.iterrows():
            by_region[code][ft] = _cell(int(row["n"]), int(row["assessed"]), int(row["negative"]), min_n)
    phases = tally_by_phase(forms)

    def statements() -> dict[str, str]:
        return {ft: statement_sentence(ft, t["negative"], t["assessed"]) for ft, t in phases.items()}

    by_language = {}
    for code in languages():
        with use(code):
            by_language[code] = statements()
    return {
        "name": mission.meta.get("name"),
        "synthetic": bool(mission.meta.get("synthetic", False)),
        "data_as_of": mission.meta.get("data_as_of"),
        "regions": int(len(mission.regions)),
        "polling_stations": int(len(stations)) if stations is not None else None,
        "evoting_stations": int((stations["evoting"] == "yes").sum()) if stations is not None and "evoting" in stations else None,
        "teams": n_teams,
        "observers": observers,
        "countries": countries,
        "forms_total": int(len(forms)),
        "forms_rejected": int(rejected.sum()),
        "min_n": min_n,
        "forms": {ft: _cell(t["n"], t["assessed"], t["negative"], min_n) for ft, t in phases.items()},
        "by_region": by_region,
        "statements": statements(),
        "statements_by_language": by_language,
    }
