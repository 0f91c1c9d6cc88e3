"""The forms table a page at a time: sorted, filtered and searched on the server, one block of rows sent per request.

AG Grid's infinite row model asks for rows ``startRow`` to ``endRow`` with its sort and filter models; the page
adds the search box and "only new since I opened". For one (view, sort, column filters, search, only new), the
forms' positions in table order are found once (:func:`positions`) and kept in a small per-process LRU keyed by
the view's :class:`~dashboard.selection.Selection` (itself one per data version and filters), so every further
block is a slice of them, and only the rows of that block are formatted.

Costs at a million forms stay small because the work is done once per mission (a data version) and column:

- a sort is a *global* order of every form by that column (stable, typed: times as times, phases and assessments
  in their own order, regions by name, blanks last), made once and kept; a view's order is that order with the
  view's forms picked out of it, in one pass, with no new sort;
- a column with few distinct values (team, organisation, region, phase, ...) is searched and filtered on its
  distinct values once, then looked up for every form; the others (form, station, comment) are matched directly
  on the view's forms, by Apache Arrow.

Text matching is literal and case-insensitive, as AG Grid's text filter is; the search is one phrase, looked for in
each text column (the time is not searched: the page's time filter does that).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dashboard.filters import Filters, to_query
from dashboard.memo import IdentityLru
from dashboard.selection import Selection, forms_key
from dashboard.tables import CELL_FIELDS, CELL_WORDS, TABLE_SOURCE_COLUMNS, cell_words, table_rows
from geo.i18n import _, ngettext, number
from geo.mission import MissionDataset
from geo.schema import PROBLEMS

BLOCK = 100  # rows per request (the grid's cacheBlockSize)
MAX_BLOCK = 500  # the most rows one request may ask for
MAX_TEXT = 200  # characters of a search or filter text that count

# The grid's columns as the server sorts, filters and searches them (their order and names: layout.TABLE_COLUMN_DEFS).
# kind: "direct" text matched form by form; "coded" text of few distinct values; "category" (its own order);
# "region" (shown by name); "time"; "conflict" ("conflict" or blank); "problems" (the labels of the problems reported).
KINDS: dict[str, str] = {
    "form_id": "direct",
    "form_type": "category",
    "observed_at": "time",
    "region": "region",
    "ps_id": "direct",
    "team_id": "coded",
    "observer_org": "coded",
    "urban_rural": "coded",
    "evoting": "coded",
    "overall": "category",
    "review": "category",
    "conflict": "conflict",
    "problems": "problems",
    "comments": "direct",
}
SORTABLE = frozenset(KINDS)  # problems: by how many were reported
FILTERABLE = frozenset(KINDS) - {"observed_at", "problems"}  # the page's time and problem filters do those
SEARCHED = tuple(f for f in KINDS if f != "observed_at")
TEXT_OPS = ("contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank")


@dataclass(frozen=True)
class TableQuery:
    """What the table shows of a view, besides the view: sort, column filters, search and "only new". Hashable.

    ``sort``: ((field, "asc"|"desc"), ...); ``columns``: ((field, "AND"|"OR", ((op, text), ...)), ...) with AG Grid's
    text filter operations; ``search``: one phrase; ``new_since``: only forms first seen after that data version.
    """

    sort: tuple[tuple[str, str], ...] = ()
    columns: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    search: str = ""
    new_since: int | None = None

    def __bool__(self) -> bool:
        return bool(self.sort or self.columns or self.search or self.new_since is not None)


# ------------------------------------------------------------------------------ reading what the grid (or a URL) asks
def query_from_grid(request: Mapping[str, Any] | None, search: Any = None, new_since: Any = None) -> TableQuery:
    """The grid's request (``sortModel``, ``filterModel``), the search box and "only new" -> a :class:`TableQuery`.

    Everything comes from the browser: what does not fit (an unknown column or operation, a value of the wrong
    type) is left out, never an error.
    """
    request = request if isinstance(request, Mapping) else {}
    sort = []
    for item in request.get("sortModel") or []:
        usable = isinstance(item, Mapping) and item.get("colId") in SORTABLE and item.get("sort") in ("asc", "desc")
        if usable and item["colId"] not in (f for f, _ in sort):
            sort.append((item["colId"], item["sort"]))
    columns = []
    model = request.get("filterModel") or {}
    for field, spec in sorted(model.items()) if isinstance(model, Mapping) else []:
        if field not in FILTERABLE or not isinstance(spec, Mapping):
            continue
        conditions = spec.get("conditions") if isinstance(spec.get("conditions"), list) else [spec]
        join = "OR" if spec.get("operator") == "OR" else "AND"
        kept = tuple(c for c in (_condition(c) for c in conditions[:2]) if c is not None)
        if kept:
            columns.append((field, join, kept))
    return TableQuery(tuple(sort), tuple(columns), _text(search).strip(), new_since if isinstance(new_since, int) else None)


def _condition(spec: Any) -> tuple[str, str] | None:
    if not isinstance(spec, Mapping) or spec.get("type") not in TEXT_OPS:
        return None
    if spec["type"] in ("blank", "notBlank"):
        return (spec["type"], "")
    value = _text(spec.get("filter"))
    return (spec["type"], value) if value else None


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def block(request: Mapping[str, Any] | None) -> tuple[int, int]:
    """The rows asked for, ``[start, end)``, within sane bounds."""
    request = request if isinstance(request, Mapping) else {}
    start = request.get("startRow")
    start = start if isinstance(start, int) and start >= 0 else 0
    end = request.get("endRow")
    end = end if isinstance(end, int) and end > start else start + BLOCK
    return start, min(end, start + MAX_BLOCK)


def to_params(query: TableQuery) -> str:
    """``&search=...&new_since=...&sort=...&columns=...`` for the CSV link: the CSV holds what the table lists, in its order.

    >>> to_params(TableQuery(sort=(("observed_at", "desc"),), search="ballot box"))
    '&search=ballot%20box&sort=observed_at%3Adesc'
    """
    pairs = []
    if query.search:
        pairs.append(("search", query.search))
    if query.new_since is not None:
        pairs.append(("new_since", str(query.new_since)))
    if query.sort:
        pairs.append(("sort", ",".join(f"{field}:{way}" for field, way in query.sort)))
    if query.columns:
        model = {
            field: {"operator": join, "conditions": [{"type": op, "filter": value} for op, value in conditions]}
            for field, join, conditions in query.columns
        }
        pairs.append(("columns", json.dumps(model, separators=(",", ":"), ensure_ascii=False)))
    return "".join(f"&{name}={quote(value, safe='')}" for name, value in pairs)


TABLE_PARAMS = ("search", "new_since", "sort", "columns")


def split_query(query_string: str) -> tuple[str, TableQuery]:
    """A download's query string -> (the view's part, for :func:`dashboard.filters.parse_query`; the table's part).

    >>> split_query("form=voting&search=Police&sort=observed_at:desc&new_since=7")
    ('form=voting', TableQuery(sort=(('observed_at', 'desc'),), columns=(), search='Police', new_since=7))
    """
    view, table = [], {}
    for pair in query_string.lstrip("?").split("&"):
        name = unquote_plus(pair.partition("=")[0])
        if name in TABLE_PARAMS:
            table[name] = unquote_plus(pair.partition("=")[2])
        elif pair:
            view.append(pair)
    sort = [item.partition(":") for item in table.get("sort", "").split(",") if item]
    try:
        model = json.loads(table["columns"]) if "columns" in table else {}
    except ValueError:
        model = {}
    since = table.get("new_since", "")
    request = {"sortModel": [{"colId": field, "sort": way} for field, _, way in sort], "filterModel": model}
    return "&".join(view), query_from_grid(request, table.get("search"), int(since) if since.isdigit() else None)


def view_key(mission: MissionDataset, filters: Filters) -> dict[str, str]:
    """What the open table lists, for the page: ``list`` names the forms a view chooses (the filters that choose
    forms), ``data`` the data they are taken from (the data version and scope). The page starts the table again from
    its first row when the list changes, and only then (a metric or a mode keeps it); new data of the same list
    refreshes the rows in place, where the reader is (a live mission's table is not sent back to its top every
    minute)."""
    listed = to_query(forms_key(filters), always_form=True)
    data = mission.version or f"object-{id(mission)}"
    return {"list": hashlib.sha1(listed.encode("utf-8")).hexdigest()[:16], "data": hashlib.sha1(data.encode("utf-8")).hexdigest()[:16]}


# ------------------------------------------------------------------------------ per-process caches
# The labels, and so the sort by text and the rows a column filter matches, are in the view's language: per language.
_coded = IdentityLru(32, by_language=True)  # (forms, field) -> (codes, labels): a column's distinct values, once per mission
_orders = IdentityLru(8, by_language=True)  # (forms, sort) -> every form's position in that order (4 MB at a million forms)
_positions = IdentityLru(16, by_language=True)  # (selection, query, every_phase) -> the listed forms' positions, in table order
_lower_cache = IdentityLru(6)  # (forms, field) -> a form/station/comment column in lower case, once searched


def clear_caches() -> None:
    for cache in (_coded, _orders, _positions, _lower_cache):
        cache.clear()


# ------------------------------------------------------------------------------ the table's columns, as the server sees them
def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings (no copy when pandas already holds it so)."""
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())


def _take_arrow(values: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``values.take(rows)`` chunk by chunk: Arrow's own take of a chunked array joins the chunks first (about 10 ms a
    column at a million forms, however few rows are taken)."""
    if isinstance(values, pa.Array) or values.num_chunks == 1:
        return (values if isinstance(values, pa.Array) else values.chunk(0)).take(pa.array(rows))
    lengths = np.array([len(chunk) for chunk in values.chunks])
    ends = np.cumsum(lengths)
    which = np.searchsorted(ends, rows, side="right")
    grouped = np.argsort(which, kind="stable")
    pieces = [values.chunk(k).take(pa.array(rows[grouped][which[grouped] == k] - (ends[k] - lengths[k]))) for k in np.unique(which)]
    joined = pa.concat_arrays(pieces) if pieces else pa.array([], values.type)
    back = np.empty(len(rows), dtype=np.int64)
    back[grouped] = np.arange(len(rows))
    return joined.take(pa.array(back))


def take(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """A page's values of one column (``values.take(rows)``, fast for Arrow columns of several chunks too)."""
    chunked = getattr(values.array, "_pa_array", None)
    if not isinstance(chunked, pa.ChunkedArray) or chunked.num_chunks < 2:
        return values.take(rows).reset_index(drop=True)
    return pd.Series(_take_arrow(chunked, rows).to_pylist(), dtype=values.dtype)


def _codes(mission: MissionDataset, field: str) -> tuple[np.ndarray, pa.Array]:
    """For a column of few distinct values: each form's code (-1: blank) and the text shown for each code."""
    forms = mission.forms

    def compute() -> tuple[np.ndarray, pa.Array]:
        kind = KINDS[field]
        if kind == "category":
            if field not in forms:
                return np.full(len(forms), -1, dtype=np.int32), pa.array([], pa.string())
            values = forms[field].astype("category")
            words = cell_words(pd.Series([str(c) for c in values.cat.categories], dtype=object))
            return values.cat.codes.to_numpy(dtype=np.int32), pa.array(list(words), pa.string())
        if kind == "conflict":
            flags = forms["conflict"].fillna(False).to_numpy(dtype=bool) if "conflict" in forms else np.zeros(len(forms), bool)
            return flags.astype(np.int32), pa.array(["", CELL_WORDS["conflict"]], pa.string())
        source = "region_code" if kind == "region" else field
        codes, uniques = pd.factorize(forms[source])
        if kind == "region":
            return codes.astype(np.int32), pa.array([mission.region_names.get(u) for u in uniques], pa.string())
        return codes.astype(np.int32), _arrow(cell_words(pd.Series(uniques)) if field in CELL_FIELDS else pd.Series(uniques))

    return _coded.get(forms, field, compute)


def _lowered(mission: MissionDataset, field: str) -> pa.ChunkedArray | pa.Array:
    """A text column in lower case, kept per mission: Arrow's case-insensitive match is three times slower than a
    plain one on lower-cased text (130 against 40 ms for a million form ids)."""
    forms = mission.forms
    return _lower_cache.get(forms, field, lambda: pc.utf8_lower(_arrow(forms[field])))


def _match(values: pa.Array | pa.ChunkedArray, op: str, text: str) -> np.ndarray:
    """AG Grid's text filter on lower-cased Arrow strings (``text`` is lowered here): a boolean per value, blanks as
    AG Grid treats them (they pass "not contains", "not equal" and "blank" only)."""
    text = text.lower()
    if op in ("blank", "notBlank"):
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
        result = blank if op == "blank" else pc.invert(blank)
    else:
        if op in ("equals", "notEqual"):
            result = pc.equal(values, text)
        elif op == "startsWith":
            result = pc.starts_with(values, pattern=text)
        elif op == "endsWith":
            result = pc.ends_with(values, pattern=text)
        else:
            result = pc.match_substring(values, pattern=text)
        negated = op in ("notContains", "notEqual")
        result = pc.fill_null(pc.invert(result) if negated else result, negated)
    return result.to_numpy().astype(bool, copy=False) if isinstance(result, pa.ChunkedArray) else np.asarray(result, dtype=bool)


def _column_match(mission: MissionDataset, field: str, rows: np.ndarray, op: str, text: str) -> np.ndarray:
    """``_match`` of column ``field`` for the forms at positions ``rows``."""
    forms = mission.forms
    kind = KINDS[field]
    if kind == "direct":
        lowered = _lowered(mission, field)
        if len(rows) * 4 < len(forms):  # a small view: its forms only
            return _match(_take_arrow(lowered, rows), op, text)
        return _match(lowered, op, text)[rows]  # most forms: the whole column, then theirs
    if kind == "problems":  # only searched: a problem whose label holds the text
        hit = np.zeros(len(rows), dtype=bool)
        for problem, label in PROBLEMS.items():
            if problem in forms and text.lower() in label.lower():
                hit |= forms[problem].to_numpy(dtype=bool, na_value=False)[rows]
        return hit
    codes, labels = _codes(mission, field)
    lookup = np.append(_match(pc.utf8_lower(labels), op, text), _match(pa.array([None], pa.string()), op, text))
    if not lookup.any() or lookup.all():  # no value (or every value) passes: nothing to look up form by form
        return np.full(len(rows), lookup.any(), dtype=bool)
    return lookup[codes[rows]]  # code -1 (blank) takes the last entry


# ------------------------------------------------------------------------------ sorting
def _sort_key(mission: MissionDataset, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Every form's sort key for ``field`` (integers in the column's own order) and where it is blank."""
    forms = mission.forms
    kind = KINDS[field]
    if kind == "time":
        times = forms["observed_at"]
        return times.to_numpy(dtype="datetime64[us]").view(np.int64), times.isna().to_numpy()
    if kind == "problems":
        present = [p for p in PROBLEMS if p in forms]
        count = sum((forms[p].to_numpy(dtype=bool, na_value=False).astype(np.int8) for p in present), np.zeros(len(forms), np.int8))
        return count, np.zeros(len(forms), dtype=bool)
    if kind == "direct":
        ranks = pc.rank(_arrow(forms[field]), sort_keys=[("", "ascending", "at_end")], tiebreaker="dense")
        return np.asarray(ranks, dtype=np.int64), forms[field].isna().to_numpy()
    codes, labels = _codes(mission, field)
    if kind in ("category", "conflict"):
        rank = np.arange(len(labels), dtype=np.int64)  # the categories' own order (very good ... very bad)
    else:  # by the text shown, code point order
        order = np.asarray(pc.array_sort_indices(labels, null_placement="at_end"), dtype=np.int64)
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        rank[np.asarray(pc.is_null(labels), dtype=bool)] = -1  # a code whose label is blank (a region without a name)
    key = np.append(rank, -1)[codes]
    return key, key < 0


def global_order(mission: MissionDataset, sort: tuple[tuple[str, str], ...]) -> np.ndarray:
    """Every form's position in the order ``sort`` asks for, blanks last, ties in the mission's order (stable); kept
    once per mission and sort."""
    forms = mission.forms

    def compute() -> np.ndarray:
        if len(sort) == 1 and KINDS[sort[0][0]] == "direct":  # one text column: Arrow's stable sort, no ranks needed
            field, way = sort[0]
            values = _arrow(forms[field])
            order = pc.array_sort_indices(values, order="ascending" if way == "asc" else "descending", null_placement="at_end")
            return np.asarray(order, dtype=np.int64).astype(np.int32 if len(forms) < 2**31 else np.int64)
        keys = []
        for field, way in reversed(sort):  # np.lexsort: the last key is the first sort
            key, blank = _sort_key(mission, field)
            key = key.astype(np.int64) if way == "asc" else -key.astype(np.int64)
            keys.append(np.where(blank, np.iinfo(np.int64).max, key))
        order = np.lexsort(keys) if len(keys) > 1 else np.argsort(keys[0], kind="stable")
        return order.astype(np.int32 if len(forms) < 2**31 else np.int64)

    return _orders.get(forms, sort, compute)


# ------------------------------------------------------------------------------ the listed forms and a page of them
def _view_mask(selection: Selection, every_phase: bool) -> np.ndarray:
    # The same mask as Selection.rows(): the table lists exactly the forms the CSV and the figures count.
    return selection.row_mask(every_phase)


def positions(mission: MissionDataset, selection: Selection, query: TableQuery, every_phase: bool = False) -> np.ndarray:
    """The positions (in ``mission.forms``) of the forms the table lists for this view and ``query``, in table order.

    ``selection`` must be ``select(mission, filters)``. Found once per (selection, query) and kept: further pages,
    and the CSV of the same table, are slices of it.
    """

    def compute() -> np.ndarray:
        forms = mission.forms
        keep = np.array(_view_mask(selection, every_phase), dtype=bool, copy=True)
        if query.new_since is not None and "first_data_version" in forms:
            keep &= forms["first_data_version"].to_numpy() > query.new_since
        rows = np.flatnonzero(keep)
        for field, join, conditions in query.columns:
            results = [_column_match(mission, field, rows, op, value) for op, value in conditions]
            rows = rows[np.logical_or.reduce(results) if join == "OR" else np.logical_and.reduce(results)]
        if query.search:
            rows = rows[np.logical_or.reduce([_column_match(mission, field, rows, "contains", query.search) for field in SEARCHED])]
        if not query.sort:
            return rows
        listed = np.zeros(len(forms), dtype=bool)
        listed[rows] = True
        order = global_order(mission, query.sort)
        return order[listed[order]]

    return _positions.get(selection, (query, every_phase), compute)


def page(mission: MissionDataset, selection: Selection, query: TableQuery, start: int, end: int) -> tuple[list[dict[str, Any]], int]:
    """Rows ``start`` to ``end`` of the table (formatted for the grid) and how many the table lists."""
    listed = positions(mission, selection, query)
    forms = mission.forms
    chosen = listed[start:end]
    shown = pd.DataFrame({c: take(forms[c], chosen) for c in TABLE_SOURCE_COLUMNS if c in forms})
    return table_rows(mission, shown), len(listed)


def describe(query: TableQuery, count: int) -> str:
    """The line over the table: how many forms it lists, narrowed by what, and that the CSV holds the same."""
    said = []
    if query.search:
        said.append(_("with “{text}”").format(text=query.search))
    if query.new_since is not None:
        said.append(_("new since you opened the page"))
    if query.columns:
        said.append(_("filtered by column"))
    if said:
        # TRANSLATORS: "152 forms of this view with “bribe”, filtered by column. The CSV holds ..."
        listed = ngettext("{n} form of this view {narrowed}.", "{n} forms of this view {narrowed}.", count)
        listed = listed.format(n=number(count), narrowed=", ".join(said))
    else:
        listed = ngettext("{n} form of this view.", "{n} forms of this view.", count).format(n=number(count))
    return listed + " " + _("The CSV holds exactly these forms, in this order.")
