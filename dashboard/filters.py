"""The view's filters, each declared once in :data:`SPEC`.

A filter's URL parameter (also the ``obsmap brief`` flag), its field on :class:`Filters`, the page
control that shows it, the values it allows, its label and its help live in one :class:`Field`.
Everything else is derived from the spec: reading and writing the URL, the filter store's JSON,
the controls' values, the brief's flags and the "which selection" line.

The URL keeps lists readable (``region=KZ-YUZ,KZ-ZHA``): a literal comma inside a value is
written ``%2C`` and the separators stay bare, so any value (commas, quotes, non-ASCII) round-trips:

>>> known = Known(regions=frozenset({"KZ-YUZ"}), orgs=frozenset({"OSCE PA, Delegation", "ODIHR"}))
>>> query = to_query(Filters(form_type="voting", orgs=("OSCE PA, Delegation", "ODIHR")))
>>> query
'?form=voting&org=OSCE+PA%2C+Delegation,ODIHR'
>>> parse_query(query, known)[0].orgs
('OSCE PA, Delegation', 'ODIHR')

Parsing never raises: a value that does not fit is left out, with one sentence saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from geo.i18n import N_, NP_, _, browser_language, current, languages, ngettext, number, pgettext, use
from geo.schema import FORM_TYPES, LEVEL_LABELS, OVERALL_LEVELS, PROBLEMS  # LEVEL_LABELS: the levels as read

SETTINGS = ("urban", "rural")
EVOTING = ("yes", "no")
METRICS = ("negative", "problem", "coverage", "forms")
MODES = ("analysis", "briefing")
REVIEWS = ("not_rejected", "all", "approved")  # which forms count, by their review state (rejected ones leave by default)
CONFLICTS = ("yes",)  # only forms of a station whose assessments disagree
# Hours since midnight of election day; tabulation runs past midnight, so the day is 30 hours long.
HOURS_RANGE = (0, 30)
DEFAULT_MIN_N = 10  # below this many forms behind a share, it is shown as "too few observations"
MIN_N_RANGE = (1, 1000)
MAX_NOTICES = 10
# A meter, never read by the app: filter parses here, filter passes and cache hits in dashboard.selection.
work: Counter[str] = Counter()
ALL = "all"  # a segmented control's "no restriction" value
DEFAULT_LANG = "en"  # the page's language when neither the URL nor the browser says another


@dataclass(frozen=True)
class Known:
    """What this mission has, to check values against (URL, store, controls, flags alike)."""

    regions: frozenset[str]
    orgs: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    min_n: int = DEFAULT_MIN_N  # the server's small-sample threshold, used when the view gives none


@dataclass(frozen=True)
class Filters:
    """The view: what the user chose. Empty tuples and ``None`` mean no restriction.

    ``problem`` restricts forms to those that reported it, except where a problem's own rate is
    shown (the problem chart), which needs the forms that answered. With the "problem" map metric
    it only chooses the problem the map shows, and restricts nothing.
    ``drill`` is the region the map is zoomed into (it also restricts ``regions`` to that region).
    Hashable and immutable: it is the key of the per-view cache (:mod:`dashboard.selection`).
    """

    form_type: str = "counting"
    regions: tuple[str, ...] = ()
    metric: str = "negative"
    problem: str | None = None
    orgs: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    setting: str | None = None  # "urban" | "rural"
    evoting: str | None = None  # "yes" (electronic) | "no" (paper)
    overall: tuple[str, ...] = ()
    hours: tuple[int, int] | None = None  # [start, end) in hours since election-day midnight
    review: str = "not_rejected"  # "all" | "approved": by review state; rejected forms count only with "all"
    conflict: str | None = None  # "yes": only forms of stations whose assessments disagree
    drill: str | None = None
    back_to: tuple[str, ...] = ()  # the regions selected before the drill-down: "Back" returns to them
    min_n: int = DEFAULT_MIN_N  # shares behind fewer forms than this are flagged "too few"
    mode: str = "analysis"  # "briefing": controls hidden, large type, for a projector
    lang: str = DEFAULT_LANG  # the language the page speaks (geo.i18n.languages()); part of the view and of cache keys

    @property
    def filters_by_problem(self) -> bool:
        """Whether ``problem`` restricts the forms (it does not when it only picks the mapped problem)."""
        return self.problem is not None and self.metric != "problem"

    def to_dict(self) -> dict[str, Any]:
        """JSON for the browser's filter store (lists for tuples); :func:`from_dict` reads it back."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def describe(self, region_names: Mapping[str, str] | None = None) -> str:
        """The non-phase filters in words, e.g. "Karaganda, Pavlodar · urban stations · 08:00–20:00"."""
        parts = [text for spec in SPEC if spec.words and (text := spec.words(getattr(self, spec.name), self, region_names or {}))]
        return " · ".join(parts) if parts else _("all regions, all stations")


def format_hour(hours: float) -> str:
    """Hours since election-day midnight as a clock time; past midnight gets "+1".

    >>> format_hour(8), format_hour(26)
    ('08:00', '02:00 +1')
    """
    h = int(hours)
    return f"{h % 24:02d}:00" + (" +1" if h >= 24 else "")


# ------------------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class Field:
    """One filter, declared once.

    ``kind``: ``"one"`` (a value or none), ``"many"`` (a set of values), ``"hours"`` (a range
    ``8-20``) or ``"count"`` (a whole number). ``choices(known)`` lists the allowed values
    (``None``: no check). ``to_url``/``from_url`` translate a value to its URL spelling and back.
    ``control`` is the page control's id; ``all_value`` the control's value for "no restriction".
    ``words(value, filters, names)`` says the filter in the selection line (``None``: not said).
    """

    name: str
    param: str
    kind: str
    label: str
    help: str
    choices: Callable[[Known], Collection[str]] | None = None
    control: str | None = None
    all_value: str | None = None
    flag: bool = True  # an ``obsmap brief`` flag
    what: str = "a value"  # "not {what} of this mission"
    to_url: Callable[[str], str] = str
    from_url: Callable[[str], str] = str
    words: Callable[[Any, Filters, Mapping[str, str]], str | None] | None = None
    label_context: str | None = None  # gettext's context of ``label`` where the same English word says another thing

    @property
    def shown_label(self) -> str:
        """``label`` in the current language."""
        return pgettext(self.label_context, self.label) if self.label_context else _(self.label)

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.name]

    def allowed(self, known: Known) -> Collection[str] | None:
        return None if self.choices is None else self.choices(known)


def _fixed(values: Iterable[str]) -> Callable[[Known], tuple[str, ...]]:
    values = tuple(values)
    return lambda _known: values


def _teams_words(teams: tuple[str, ...], _f: Filters, _names: Mapping[str, str]) -> str | None:
    if not teams:
        return None
    if len(teams) < 4:
        return _("team {teams}").format(teams=", ".join(teams))
    return ngettext("{n} team", "{n} teams", len(teams)).format(n=number(len(teams)))


def _setting_words(value: str | None, _f: Filters, _n: Mapping[str, str]) -> str | None:
    return {"urban": _("urban stations"), "rural": _("rural stations")}.get(value) if value else None


def _levels_words(levels: tuple[str, ...], _f: Filters, _n: Mapping[str, str]) -> str | None:
    if not levels:
        return None
    if len(levels) == 1:
        return _("assessed {level}").format(level=LEVEL_LABELS.get(levels[0], levels[0]))
    # TRANSLATORS: "assessed very good, good or bad": the last two levels joined by "or"
    return _("assessed {levels} or {last}").format(
        levels=", ".join(LEVEL_LABELS.get(v, v) for v in levels[:-1]), last=LEVEL_LABELS.get(levels[-1], levels[-1])
    )


def _problem_words(value: str | None, f: Filters, _n: Mapping[str, str]) -> str | None:
    if not f.filters_by_problem:
        return None
    label = PROBLEMS.get(value, value)
    shown = label.lower() if current() == DEFAULT_LANG else label[:1].lower() + label[1:]
    return _("reporting {problem}").format(problem=shown)


def _hours_words(value: tuple[int, int] | None, _f: Filters, _n: Mapping[str, str]) -> str | None:
    return f"{format_hour(value[0])}–{format_hour(value[1])}" if value else None


# Labels and help are marked for the catalogue (N_) and translated where they are shown (layout._field, state.clear_words,
# add_flags).
SPEC: tuple[Field, ...] = (
    Field(
        "regions",
        "region",
        "many",
        N_("Regions"),
        N_("region codes, comma-separated (or repeat the flag)"),
        choices=lambda k: k.regions,
        control="regions",
        what="a region",
        words=lambda v, _f, names: ", ".join(names.get(r, r) for r in v) or None,
    ),
    Field(
        "setting",
        "setting",
        "one",
        N_("Stations"),
        N_("urban or rural"),
        choices=_fixed(SETTINGS),
        control="setting",
        all_value=ALL,
        words=_setting_words,
    ),
    Field(
        "evoting",
        "evoting",
        "one",
        # TRANSLATORS: the filter of how people vote (electronic or paper), not the voting phase
        NP_("filter", "Voting"),
        N_("yes (electronic voting) or no (paper ballots)"),
        choices=_fixed(EVOTING),
        control="evoting",
        all_value=ALL,
        words=lambda v, _f, _n: {"yes": _("electronic voting"), "no": _("paper ballots")}.get(v),
        label_context="filter",
    ),
    Field(
        "orgs",
        "org",
        "many",
        N_("Organisation"),
        N_("observer organisations, comma-separated (or repeat the flag)"),
        choices=lambda k: k.orgs,
        control="orgs",
        what="an observer organisation",
        words=lambda v, _f, _n: ", ".join(v) or None,
    ),
    Field(
        "teams",
        "team",
        "many",
        N_("Team"),
        N_("team ids, comma-separated (or repeat the flag)"),
        choices=lambda k: k.teams,
        control="teams",
        what="a team",
        words=_teams_words,
    ),
    Field(
        "overall",
        "overall",
        "many",
        N_("Overall assessment"),
        N_("assessment levels, comma-separated: very_good, good, bad, very_bad"),
        choices=_fixed(OVERALL_LEVELS),
        control="overall",
        what="an assessment level",
        to_url=lambda v: v.replace(" ", "_"),
        from_url=lambda v: v.replace("_", " ").lower(),
        words=_levels_words,
    ),
    Field(
        "hours",
        "hours",
        "hours",
        N_("Time of visit"),
        N_("hour range since election-day midnight, e.g. 8-20 (within 0-30)"),
        control="hours",
        words=_hours_words,
    ),
    Field(
        "review",
        "review",
        "one",
        N_("Review"),
        N_("which forms count by review: not_rejected (default), all (rejected too) or approved (approved only)"),
        choices=_fixed(REVIEWS),
        control="review",
        words=lambda v, _f, _n: {"all": _("rejected forms included"), "approved": _("approved forms only")}.get(v),
    ),
    Field(
        "conflict",
        "conflict",
        "one",
        N_("Station conflicts"),
        N_("yes: only forms of stations whose overall assessments disagree (good against bad)"),
        choices=_fixed(CONFLICTS),
        control="conflict",
        all_value=ALL,
        words=lambda v, _f, _n: _("stations with conflicting assessments") if v else None,
    ),
    Field(
        "problem",
        "problem",
        "one",
        N_("Reported problem"),
        N_("a problem column, e.g. protocol_tampering: forms that reported it (with --metric problem: the problem mapped)"),
        choices=_fixed(PROBLEMS),
        control="problem",
        words=_problem_words,
    ),
    Field(
        "form_type",
        "form",
        "one",
        N_("Phase"),
        N_("phase: opening, voting, counting (default) or tabulation"),
        choices=_fixed(FORM_TYPES),
        control="phase",
    ),
    Field(
        "metric",
        "metric",
        "one",
        N_("Map shows"),
        N_("negative (default), problem, coverage or forms"),
        choices=_fixed(METRICS),
        control="metric",
    ),
    Field(
        "drill",
        "drill",
        "one",
        N_("Drill-down"),
        N_("one region to zoom into, with its polling stations"),
        choices=lambda k: k.regions,
        what="a region",
    ),
    Field(
        "back_to",
        "back",
        "many",
        N_("Back to"),
        N_("the regions selected before the drill-down (Back returns to them)"),
        choices=lambda k: k.regions,
        flag=False,
        what="a region",
    ),
    Field("min_n", "min_n", "count", N_("Too few below"), N_("small-sample threshold"), flag=False),
    Field("mode", "mode", "one", N_("Mode"), N_("analysis or briefing"), choices=_fixed(MODES), flag=False),
    # The page's language: ``obsmap brief --lang`` is the command's own flag (dashboard/cli.py), so no flag here.
    Field("lang", "lang", "one", N_("Language"), N_("the page's language: en or ru"), choices=lambda _k: languages(), flag=False),
)
BY_PARAM = {f.param: f for f in SPEC}
BY_NAME = {f.name: f for f in SPEC}
BY_CONTROL = {f.control: f for f in SPEC if f.control}
CONTROLS = tuple(f.control for f in SPEC if f.control)
_DEFAULTS = {f.name: f.default for f in fields(Filters)}
# URL order: the phase first, as a statement reads; then the rest in declaration order.
URL_ORDER = (BY_NAME["form_type"], BY_NAME["metric"], *(f for f in SPEC if f.name not in ("form_type", "metric")))


# ------------------------------------------------------------------------------- cleaning one value
# A value the mission does not have, in a list (``region=A,B``) and alone (``drill=A``): whole sentences per kind.
NOT_OURS = {
    "a region": (
        N_("Ignored {param} {value}: not a region of this mission."),
        N_("Ignored {param}={value}: not a region of this mission."),
    ),
    "an observer organisation": (
        N_("Ignored {param} {value}: not an observer organisation of this mission."),
        N_("Ignored {param}={value}: not an observer organisation of this mission."),
    ),
    "a team": (N_("Ignored {param} {value}: not a team of this mission."), N_("Ignored {param}={value}: not a team of this mission.")),
    "an assessment level": (
        N_("Ignored {param} {value}: not an assessment level of this mission."),
        N_("Ignored {param}={value}: not an assessment level of this mission."),
    ),
    "a value": (N_("Ignored {param} {value}: not a value of this mission."), N_("Ignored {param}={value}: not a value of this mission.")),
}


def _clean(spec: Field, items: list[str], known: Known, notices: list[str]) -> Any:
    """The value of ``spec`` from raw strings (already split into list items), or its default."""
    allowed = spec.allowed(known)
    if spec.kind == "many":
        good = []
        for item in items:
            value = spec.from_url(item)
            if allowed is not None and value not in allowed:
                value = spec.from_url(item.strip())  # a hand-typed "KZ-YUZ, KZ-ZHA"
            if allowed is None or value in allowed:
                good.append(value)
            else:
                notices.append(_(NOT_OURS[spec.what][0]).format(param=spec.param, value=repr(item)))
        return tuple(dict.fromkeys(good))
    raw = ",".join(items)
    if spec.kind == "one":
        value = spec.from_url(raw)
        if allowed is None or value in allowed:
            return value
        if spec.what != "a value":
            notices.append(_(NOT_OURS[spec.what][1]).format(param=spec.param, value=repr(raw)))
        else:
            notices.append(
                _("Ignored {param}={value}: expected one of {choices}.").format(
                    param=spec.param, value=repr(raw), choices=", ".join(allowed)
                )
            )
        return spec.default
    if spec.kind == "hours":
        start, _dash, end = raw.partition("-")
        if start.isascii() and end.isascii() and start.isdigit() and end.isdigit():
            hours = (int(start), int(end))
            if HOURS_RANGE[0] <= hours[0] < hours[1] <= HOURS_RANGE[1]:
                return None if hours == HOURS_RANGE else hours
        notices.append(
            _("Ignored {param}={value}: expected a range like 8-20 within {low}-{high}.").format(
                param=spec.param, value=repr(raw), low=HOURS_RANGE[0], high=HOURS_RANGE[1]
            )
        )
        return None
    # count
    if raw.isascii() and raw.isdigit() and MIN_N_RANGE[0] <= int(raw) <= MIN_N_RANGE[1]:
        return int(raw)
    notices.append(
        _("Ignored {param}={value}: expected a whole number from {low} to {high}.").format(
            param=spec.param, value=repr(raw), low=MIN_N_RANGE[0], high=MIN_N_RANGE[1]
        )
    )
    return known.min_n


def _url_items(spec: Field, value: Any) -> list[str]:
    """The raw strings :func:`_clean` reads back into ``value``."""
    if spec.kind == "many":
        return [spec.to_url(v) for v in value]
    if spec.kind == "hours":
        return [f"{value[0]}-{value[1]}"]
    return [spec.to_url(str(value))]


def from_params(params: Mapping[str, list[list[str]]], known: Known) -> tuple[Filters, list[str]]:
    """Filters from raw parameters: ``{param: [occurrence items, ...]}``, as read from a URL or flags.

    A parameter given more than once adds up for lists and takes its first value otherwise.
    Unknown parameters and values that do not fit are left out, each with a notice; the list of
    notices is capped at :data:`MAX_NOTICES` lines.
    """
    work["filters_parsed"] += 1
    notices: list[str] = []
    values: dict[str, Any] = {"min_n": known.min_n}
    for param, occurrences in params.items():
        spec = BY_PARAM.get(param)
        if spec is None:
            notices.append(_("Ignored unknown parameter {param}.").format(param=repr(param)))
            continue
        occurrences = [items for items in occurrences if any(i for i in items)]
        if not occurrences:
            continue
        if spec.kind == "many":
            items = [i for occurrence in occurrences for i in occurrence if i.strip()]
            values[spec.name] = _clean(spec, items, known, notices)
            continue
        if len(occurrences) > 1:
            times = len(occurrences)
            notices.append(
                ngettext(
                    "Parameter '{param}' was given {n} time; the first value is used.",
                    "Parameter '{param}' was given {n} times; the first value is used.",
                    times,
                ).format(param=param, n=times)
            )
        values[spec.name] = _clean(spec, occurrences[0], known, notices)
    drill = values.get("drill")
    if drill:
        if values.get("regions") and values["regions"] != (drill,):
            notices.append(_("Ignored region=: drill={drill} shows that region only.").format(drill=drill))
        values["regions"] = (drill,)
    else:
        values.pop("back_to", None)  # only a drill-down has somewhere to go back to
    if len(notices) > MAX_NOTICES:
        more = len(notices) - MAX_NOTICES
        notices = [
            *notices[:MAX_NOTICES],
            ngettext("… and {n} more ignored value.", "… and {n} more ignored values.", more).format(n=number(more)),
        ]
    return Filters(**values), notices


def parse_query(search: str | None, known: Known, notices_in: str | None = None) -> tuple[Filters, list[str]]:
    """``?a=b&...`` -> (filters, notices). Each notice is one sentence about one ignored value.

    Without ``lang=``, the language is the one the browser asks for (``Accept-Language`` of the request being
    answered; English outside a request). The notices are in the view's language, or in ``notices_in`` ("en": a
    header for programs).
    """
    params: dict[str, list[list[str]]] = {}
    for pair in (search or "").lstrip("?").split("&"):
        if not pair:
            continue
        name, _eq, value = pair.partition("=")
        params.setdefault(unquote_plus(name), []).append([unquote_plus(v) for v in value.split(",")])
    # The view's language leads: the notices are written in it. Without lang=, the browser's Accept-Language.
    asked = next((items[0] for items in params.get("lang", []) if items and items[0] in languages()), None)
    with use(notices_in or asked or browser_language()):
        filters, notices = from_params(params, known)
    if asked is None:  # no lang=, or an empty or unknown one (its notice says so): the browser's, as the layout does
        filters = replace(filters, lang=browser_language())
    return filters, notices


def to_query(filters: Filters, *, always_form: bool = False, default_min_n: int = DEFAULT_MIN_N) -> str:
    """The query string for ``filters``, defaults left out ("" for the default view).

    ``always_form`` writes ``form=`` even for the default phase: ``/export.csv`` without it
    exports every phase.

    >>> to_query(Filters("voting", regions=("KZ-KAR", "KZ-PAV"), overall=("very bad",), hours=(8, 20)))
    '?form=voting&region=KZ-KAR,KZ-PAV&overall=very_bad&hours=8-20'
    """
    pairs = []
    for spec in URL_ORDER:
        value = getattr(filters, spec.name)
        default = default_min_n if spec.name == "min_n" else spec.default
        if (
            value == default
            and not (always_form and spec.name == "form_type")
            and not (spec.name == "lang" and value != browser_language())
        ):
            continue
        if spec.name == "regions" and filters.drill:
            continue  # drill= says the region
        if spec.name == "back_to" and not filters.drill:
            continue
        pairs.append(f"{quote_plus(spec.param)}=" + ",".join(quote_plus(item) for item in _url_items(spec, value)))
    return "?" + "&".join(pairs) if pairs else ""


def from_dict(data: Mapping[str, Any] | None, known: Known) -> Filters:
    """Filters from the browser's store (or any JSON-like dict); values that do not fit are dropped.

    The store is written by the server, but a request can carry anything: every value is checked
    against the spec and the mission, as a URL would be.
    """
    params: dict[str, list[list[str]]] = {}
    for key, value in (data or {}).items():
        spec = BY_NAME.get(key)
        if spec is None or value is None or value == "" or value == []:
            continue
        if spec.kind == "hours":
            if not (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(h, int) for h in value)):
                continue
            items = [f"{value[0]}-{value[1]}"]
        elif spec.kind == "count":
            items = [str(value)] if isinstance(value, int) and not isinstance(value, bool) else []
        elif isinstance(value, str):
            items = [spec.to_url(value)]
        elif isinstance(value, list | tuple) and spec.kind == "many":
            items = [spec.to_url(v) for v in value if isinstance(v, str)]
        else:
            continue
        params[spec.param] = [items]
    filters, _notices = from_params(params, known)
    return filters


# ------------------------------------------------------------------------------------- the controls
def controls_from_filters(filters: Filters) -> dict[str, Any]:
    """The control values (by control id) that show ``filters``."""
    out = {}
    for spec in SPEC:
        if not spec.control:
            continue
        value = getattr(filters, spec.name)
        if spec.kind == "many":
            value = list(value)
        elif spec.kind == "hours":
            value = list(value or HOURS_RANGE)
        elif value is None and spec.all_value:
            value = spec.all_value
        out[spec.control] = value
    return out


def filters_from_controls(values: Mapping[str, Any], current: Mapping[str, Any] | None, known: Known) -> Filters:
    """The view the controls describe, with the current view's (store's) mode, ``min_n`` and drill-down.

    The drill-down survives while its region stays the only one selected. One parse: the controls
    and the store's values are checked together.
    """
    current = current or {}
    data: dict[str, Any] = {name: current.get(name) for name in ("min_n", "mode", "lang")}
    for spec in SPEC:
        if spec.control:
            value = values.get(spec.control)
            data[spec.name] = None if spec.all_value and value == spec.all_value else value
    drill = current.get("drill")
    if drill and list(data.get("regions") or []) == [drill]:
        data["drill"] = drill
        data["back_to"] = current.get("back_to")
    return from_dict(data, known)


def reset(current: Filters, known: Known) -> Filters:
    """The default view, keeping the mode (a briefing stays a briefing) and the language."""
    return Filters(min_n=known.min_n, mode=current.mode, lang=current.lang)


def more_filters_active(filters: Filters) -> bool:
    """Whether a filter of the page's second row ("More filters") is set."""
    return any(getattr(filters, name) != BY_NAME[name].default for name in SECOND_ROW)


SECOND_ROW = ("problem", "hours", "orgs", "teams", "setting", "evoting", "overall", "review", "conflict")


# ---------------------------------------------------------------------------------- command-line flags
def add_flags(parser: Any) -> None:
    """One ``obsmap brief`` flag per filter, named and explained by the spec (values as in the URL)."""
    for spec in SPEC:
        if spec.flag:
            action = "append" if spec.kind == "many" else "store"
            parser.add_argument(f"--{spec.param}", action=action, dest=f"view_{spec.name}", help=_(spec.help))


def from_flags(args: Any, known: Known) -> tuple[Filters, list[str]]:
    """Filters from the flags of :func:`add_flags`.

    A list flag's value is one value when the mission knows it whole ("OSCE PA, Delegation"),
    otherwise it is split at commas; repeating the flag adds values.
    """
    params: dict[str, list[list[str]]] = {}
    for spec in SPEC:
        given = getattr(args, f"view_{spec.name}", None) if spec.flag else None
        if not given:
            continue
        if spec.kind == "many":
            allowed = spec.allowed(known) or ()
            items = [v for g in given for v in ([g] if g in allowed else g.split(","))]
            params[spec.param] = [items]
        else:
            params[spec.param] = [[given]]
    return from_params(params, known)


def with_drill(filters: Filters, code: str | None) -> Filters:
    """Drill into ``code`` (its region only), remembering the regions selected before; or, with ``None``, back to
    them (the country when none was selected).

    >>> into = with_drill(Filters(regions=("KZ-KAR", "KZ-PAV")), "KZ-KAR")
    >>> into.regions, into.back_to, with_drill(into, None).regions
    (('KZ-KAR',), ('KZ-KAR', 'KZ-PAV'), ('KZ-KAR', 'KZ-PAV'))
    """
    if code:
        before = filters.back_to if filters.drill else filters.regions  # from one drill-down to another: the first selection
        return replace(filters, drill=code, regions=(code,), back_to=before)
    return replace(filters, drill=None, regions=filters.back_to if filters.drill else (), back_to=())
