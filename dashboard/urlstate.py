"""The URL is the view: the page's query string <-> :class:`Filters`.

    ?form=counting&region=KZ-YUZ,KZ-ZHA&metric=problem&problem=protocol_tampering&org=ODIHR
    &team=T017&setting=urban&evoting=yes&overall=bad,very_bad&hours=8-20&drill=KZ-YUZ

Unknown parameters and values that do not fit are ignored, each with a notice for the page;
parsing never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from dashboard.analysis import DEFAULT_MIN_N, EVOTING, HOURS_RANGE, METRICS, MIN_N_RANGE, SETTINGS, Filters
from geo.schema import FORM_TYPES, OVERALL_LEVELS, PROBLEMS

MAX_NOTICES = 10
PARAMS = ("form", "region", "metric", "problem", "org", "team", "setting", "evoting", "overall", "hours", "drill", "min_n", "mode")


@dataclass(frozen=True)
class Known:
    """What this mission has, to check URL values against."""

    regions: frozenset[str]
    orgs: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    min_n: int = DEFAULT_MIN_N  # the server's small-sample threshold, used when the URL gives none


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_query(search: str | None, known: Known) -> tuple[Filters, list[str]]:
    """``?a=b&...`` -> (filters, notices). Each notice is one sentence about one ignored value."""
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    notices: list[str] = []
    data: dict = {"min_n": known.min_n}

    def take(name: str) -> str | None:
        values = query.pop(name, None)
        if not values:
            return None
        if len(values) > 1:
            notices.append(f"Parameter '{name}' was given {len(values)} times; the first value is used.")
        return values[0]

    def one_of(name: str, allowed, key: str, normalise=lambda v: v) -> None:
        value = take(name)
        if value is None or value == "":
            return
        if normalise(value) in allowed:
            data[key] = normalise(value)
        else:
            notices.append(f"Ignored {name}={value!r}: expected one of {', '.join(allowed)}.")

    def many(name: str, allowed, key: str, what: str, normalise=lambda v: v) -> None:
        value = take(name)
        if not value:
            return
        good = []
        for item in _split(value):
            if normalise(item) in allowed:
                good.append(normalise(item))
            else:
                notices.append(f"Ignored {name} {item!r}: not {what} of this mission.")
        data[key] = good

    one_of("form", FORM_TYPES, "form_type")
    many("region", known.regions, "regions", "a region")
    one_of("metric", METRICS, "metric")
    one_of("problem", tuple(PROBLEMS), "problem")
    many("org", known.orgs, "orgs", "an observer organisation")
    many("team", known.teams, "teams", "a team")
    one_of("setting", SETTINGS, "setting")
    one_of("evoting", EVOTING, "evoting")
    many("overall", OVERALL_LEVELS, "overall", "an assessment level", normalise=lambda v: v.replace("_", " ").lower())
    hours = take("hours")
    if hours:
        try:
            if not hours.isascii():
                raise ValueError
            start, end = (int(h) for h in hours.split("-"))
            if not HOURS_RANGE[0] <= start < end <= HOURS_RANGE[1]:
                raise ValueError
            data["hours"] = [start, end]
        except ValueError:
            notices.append(f"Ignored hours={hours!r}: expected a range like 8-20 within {HOURS_RANGE[0]}-{HOURS_RANGE[1]}.")
    drill = take("drill")
    if drill:
        if drill in known.regions:
            data["drill"] = drill
            if data.get("regions") and data["regions"] != [drill]:
                notices.append(f"Ignored region=: drill={drill} shows that region only.")
        else:
            notices.append(f"Ignored drill={drill!r}: not a region of this mission.")
    one_of("mode", ("analysis", "briefing"), "mode")
    min_n = take("min_n")
    if min_n:
        if min_n.isdigit() and MIN_N_RANGE[0] <= int(min_n) <= MIN_N_RANGE[1]:
            data["min_n"] = int(min_n)
        else:
            notices.append(f"Ignored min_n={min_n!r}: expected a whole number from {MIN_N_RANGE[0]} to {MIN_N_RANGE[1]}.")
    for name in query:
        notices.append(f"Ignored unknown parameter {name!r}.")
    if len(notices) > MAX_NOTICES:
        notices = [*notices[:MAX_NOTICES], f"… and {len(notices) - MAX_NOTICES} more ignored values."]
    return Filters.from_dict(data, known_regions=set(known.regions)), notices


def to_query(filters: Filters, *, always_form: bool = False, default_min_n: int = DEFAULT_MIN_N) -> str:
    """The query string for ``filters``, defaults left out ("" for the default view).

    ``always_form`` writes ``form=`` even for the default phase: ``/export.csv`` without it
    exports every phase.
    """
    default = Filters()
    pairs: list[tuple[str, str]] = []
    if always_form or filters.form_type != default.form_type:
        pairs.append(("form", filters.form_type))
    if filters.regions and not filters.drill:
        pairs.append(("region", ",".join(filters.regions)))
    if filters.metric != default.metric:
        pairs.append(("metric", filters.metric))
    if filters.problem:
        pairs.append(("problem", filters.problem))
    if filters.orgs:
        pairs.append(("org", ",".join(filters.orgs)))
    if filters.teams:
        pairs.append(("team", ",".join(filters.teams)))
    if filters.setting:
        pairs.append(("setting", filters.setting))
    if filters.evoting:
        pairs.append(("evoting", filters.evoting))
    if filters.overall:
        pairs.append(("overall", ",".join(o.replace(" ", "_") for o in filters.overall)))
    if filters.hours:
        pairs.append(("hours", f"{filters.hours[0]}-{filters.hours[1]}"))
    if filters.drill:
        pairs.append(("drill", filters.drill))
    if filters.min_n != default_min_n:
        pairs.append(("min_n", str(filters.min_n)))
    if filters.mode == "briefing":
        pairs.append(("mode", "briefing"))
    return "?" + urlencode(pairs, safe=",") if pairs else ""
