"""The forms table paged on the server (AG Grid's infinite row model): every block, sort, column filter and search
checked against a plain pandas/Python computation on the view's forms; roles; the CSV of exactly what the table lists.
"""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dashboard import selection, table_pages
from dashboard.accounts import Accounts
from dashboard.app import create_app
from dashboard.filters import Filters
from dashboard.selection import select
from dashboard.table_pages import TableQuery, page, query_from_grid, split_query, to_params
from geo.schema import PROBLEMS
from scripts.dash_client import DashClient, sign_in
from tests.conftest import build_tiny
from tests.dashboard.table_client import ask, listed

ORDERS = {
    "form_type": ["opening", "voting", "counting", "tabulation"],
    "overall": ["very good", "good", "bad", "very bad"],
    "review": ["pending", "flagged", "approved", "rejected"],
}
TEXT = ["form_id", "region", "ps_id", "team_id", "observer_org", "urban_rural", "evoting", "comments"]


@pytest.fixture(autouse=True)
def fresh_caches():
    """Missions made in a test have no data version: an earlier test's view must not be found by a reused id."""
    table_pages.clear_caches()
    selection._cache.clear()


def reference(mission, form_type: str) -> pd.DataFrame:
    """The view's forms (one phase, nothing else filtered) as the grid shows them, computed here with plain pandas."""
    forms = mission.forms[mission.forms["form_type"] == form_type].reset_index(drop=True)
    yes = pd.DataFrame({p: forms[p].fillna(False).astype(bool) for p in PROBLEMS})
    out = pd.DataFrame(
        {
            "form_id": forms["form_id"].astype(object),
            "form_type": forms["form_type"].astype(str),
            "time": forms["observed_at"],
            "region": forms["region_code"].map(mission.region_names).astype(object),
            "ps_id": forms["ps_id"].astype(object),
            "team_id": forms["team_id"].astype(object),
            "observer_org": forms["observer_org"].astype(object),
            "urban_rural": forms["urban_rural"].astype(object),
            "evoting": forms["evoting"].astype(object),
            "overall": forms["overall"].astype(object),
            "review": forms["review"].astype(object) if "review" in forms else None,
            "conflict": forms["conflict"].map({True: "conflict", False: ""}) if "conflict" in forms else "",
            "labels": [[PROBLEMS[p] for p in PROBLEMS if row[p]] for _, row in yes.iterrows()],
            "comments": forms["comments"].astype(object),
        }
    ).astype(object)
    return out.where(out.notna(), None)


def sort_key(row: pd.Series, field: str):
    """The typed value a column sorts by (None: blank, always last)."""
    if field in ORDERS:
        return None if row[field] is None else ORDERS[field].index(row[field])
    if field == "observed_at":
        return None if pd.isna(row["time"]) else row["time"]
    if field == "problems":
        return len(row["labels"])
    if field == "conflict":
        return row["conflict"] == "conflict"
    return row[field]


def reference_order(ref: pd.DataFrame, sort: list[tuple[str, str]]) -> list[str]:
    """Stable sorts, least important first (Python's sort is stable, reverse too); blanks last either way."""
    order = list(range(len(ref)))
    for field, way in reversed(sort):
        keys = [sort_key(ref.iloc[i], field) for i in range(len(ref))]
        present = sorted((i for i in order if keys[i] is not None), key=lambda i: keys[i], reverse=way == "desc")
        order = present + [i for i in order if keys[i] is None]
    return list(ref["form_id"].iloc[order])


def text_of(ref: pd.DataFrame, field: str) -> pd.Series:
    return ref[field].astype(object)


def matches(values: pd.Series, op: str, text: str) -> pd.Series:
    """AG Grid's text filter, case-insensitive, written plainly (on Python values: None is blank)."""
    t = text.lower()
    test = {
        "contains": lambda v: t in v,
        "notContains": lambda v: t not in v,
        "equals": lambda v: v == t,
        "notEqual": lambda v: v != t,
        "startsWith": lambda v: v.startswith(t),
        "endsWith": lambda v: v.endswith(t),
        "blank": lambda v: not v.strip(),
        "notBlank": lambda v: bool(v.strip()),
    }[op]
    blank_passes = op in ("notContains", "notEqual", "blank")
    return pd.Series([blank_passes if v is None else test(v.lower()) for v in values.tolist()], index=values.index, dtype=bool)


def searched(ref: pd.DataFrame, text: str) -> pd.Series:
    t = text.lower()
    fields = ["form_type", "overall", "review", "conflict", *TEXT]
    hits = [
        any(row[f] is not None and t in row[f].lower() for f in fields) or any(t in label.lower() for label in row["labels"])
        for _, row in ref.iterrows()
    ]
    return pd.Series(hits, index=ref.index, dtype=bool)


def every_row(mission, selection, query) -> tuple[list[str], int]:
    """The table read block by block (100 rows at a time, as the grid asks)."""
    ids, start = [], 0
    while True:
        rows, count = page(mission, selection, query, start, start + 100)
        ids += [r["form_id"] for r in rows]
        start += 100
        if start >= count:
            return ids, count


# ------------------------------------------------------------------------------ blocks, sorts, filters, search
def test_blocks_put_together_are_the_views_forms_in_time_order(demo):
    ref = reference(demo, "voting")
    query = query_from_grid({"sortModel": [{"colId": "observed_at", "sort": "asc"}]})
    ids, count = every_row(demo, select(demo, Filters("voting")), query)
    assert count == len(ref) == len(ids) == len(set(ids))
    assert ids == reference_order(ref, [("observed_at", "asc")])
    rows, _ = page(demo, select(demo, Filters("voting")), query, 200, 300)
    assert [r["form_id"] for r in rows] == ids[200:300] and set(rows[0]) >= {"problems", "comments", "region", "conflict"}


@pytest.mark.parametrize("field", sorted(table_pages.SORTABLE))
@pytest.mark.parametrize("way", ["asc", "desc"])
def test_each_column_sorts_on_the_server_as_typed_stable_blanks_last(demo, field, way):
    ref = reference(demo, "counting")
    query = query_from_grid({"sortModel": [{"colId": field, "sort": way}]})
    ids, _ = every_row(demo, select(demo, Filters("counting")), query)
    assert ids == reference_order(ref, [(field, way)])


def test_a_sort_on_two_columns_and_times_sorted_as_times(tmp_path):
    rows = [
        {"form_type": "voting", "region_code": "AA", "observed_at": "2005-12-04T09:00", "overall": "bad", "team_id": "T2"},
        {"form_type": "voting", "region_code": "BB", "observed_at": "2005-12-04T10:00", "overall": "good", "team_id": "T1"},
        {"form_type": "voting", "region_code": "AA", "observed_at": "2005-12-04T08:30", "overall": None, "team_id": "T1"},
        {"form_type": "voting", "region_code": "BB", "observed_at": "2005-12-05T01:00", "overall": "bad", "team_id": None},
        {"form_type": "voting", "region_code": "AA", "observed_at": "2005-12-04T10:00", "overall": "very good", "team_id": "T2"},
    ]
    mission = build_tiny(tmp_path, rows)
    chosen = select(mission, Filters("voting"))
    ref = reference(mission, "voting")
    for sort in ([("team_id", "asc"), ("observed_at", "desc")], [("overall", "desc"), ("region", "asc")], [("observed_at", "desc")]):
        query = TableQuery(sort=tuple(sort))
        assert every_row(mission, chosen, query)[0] == reference_order(ref, sort), sort
    # 2005-12-05 01:00 is the latest form (as text "10:00" > "01:00" would put it elsewhere)
    assert every_row(mission, chosen, TableQuery(sort=(("observed_at", "desc"),)))[0][0] == ref["form_id"][3]


def test_a_sort_on_three_columns_of_three_kinds(demo):
    sort = [("overall", "desc"), ("comments", "asc"), ("form_id", "desc")]  # a category, then texts matched form by form
    query = query_from_grid({"sortModel": [{"colId": field, "sort": way} for field, way in sort]})
    assert every_row(demo, select(demo, Filters("voting")), query)[0] == reference_order(reference(demo, "voting"), sort)


FILTERS = [
    ("region", "contains", "ar"),
    ("region", "notContains", "ar"),
    ("team_id", "startsWith", "t17"),
    ("ps_id", "endsWith", "1"),
    ("observer_org", "equals", "odihr"),
    ("observer_org", "notEqual", "ODIHR"),
    ("overall", "contains", "BAD"),
    ("overall", "blank", ""),
    ("comments", "notBlank", ""),
    ("comments", "contains", "ballot"),
    ("form_id", "contains", "-0"),
    ("conflict", "equals", "conflict"),
]


@pytest.mark.parametrize(("field", "op", "text"), FILTERS)
def test_a_column_filter_on_the_server_keeps_what_ag_grids_text_filter_keeps(demo, field, op, text):
    ref = reference(demo, "voting")
    condition = {"filterType": "text", "type": op} | ({"filter": text} if text else {})
    query = query_from_grid({"filterModel": {field: condition}})
    ids, count = every_row(demo, select(demo, Filters("voting")), query)
    want = list(ref["form_id"][matches(text_of(ref, field), op, text)])
    assert count == len(want) and ids == want


def test_two_conditions_and_two_columns(demo):
    ref = reference(demo, "voting")
    either = {
        "filterType": "text",
        "operator": "OR",
        "conditions": [{"type": "equals", "filter": "bad"}, {"type": "equals", "filter": "very bad"}],
    }
    model = {"overall": either, "urban_rural": {"filterType": "text", "type": "equals", "filter": "rural"}}
    ids, _ = every_row(demo, select(demo, Filters("voting")), query_from_grid({"filterModel": model}))
    keep = ref["overall"].isin(["bad", "very bad"]) & (ref["urban_rural"] == "rural")
    assert ids == list(ref["form_id"][keep]) and ids


@pytest.mark.parametrize("text", ["police", "Ballot", "t01", "KZ-KAR", "Overcrowding", "very bad", "zzz-nothing", " ODIHR "])
def test_the_search_looks_in_every_text_column_case_insensitive(demo, text):
    ref = reference(demo, "voting")
    ids, count = every_row(demo, select(demo, Filters("voting")), query_from_grid({}, text))
    want = list(ref["form_id"][searched(ref, text.strip())])
    assert count == len(want) and ids == want


def test_the_search_is_literal_and_reads_any_script(tmp_path):
    comments = ["<script>alert(1)</script>", "a.b", "axb", "Қарағанды: очередь", "50% (all)", None]
    mission = build_tiny(tmp_path, [{"form_type": "counting", "region_code": "AA", "comments": c} for c in comments])
    chosen = select(mission, Filters("counting"))
    found = {text: [r["comments"] for r in page(mission, chosen, TableQuery(search=text), 0, 100)[0]] for text in comments[:-1]}
    assert found == {c: [c] for c in comments[:-1]}  # "a.b" is not a pattern: "axb" is not found by it
    assert page(mission, chosen, TableQuery(search="ҚАРАҒАНДЫ"), 0, 100)[1] == 1  # case-insensitive beyond ASCII
    assert page(mission, chosen, TableQuery(search=".*"), 0, 100)[1] == 0


def test_only_new_since_a_data_version(demo):
    forms = demo.forms.assign(first_data_version=np.arange(len(demo.forms)) % 5)
    mission = replace(demo, forms=forms, version="test-only-new")
    ids, count = every_row(mission, select(mission, Filters("voting")), TableQuery(new_since=2))
    voting = forms[forms["form_type"] == "voting"]
    assert ids == list(voting["form_id"][voting["first_data_version"] > 2]) and count == len(ids)


def test_a_further_block_is_a_slice_of_what_was_found_once(demo, monkeypatch):
    chosen = select(demo, Filters("voting"))
    query = query_from_grid({"sortModel": [{"colId": "team_id", "sort": "desc"}]}, "ballot")
    first, count = page(demo, chosen, query, 0, 100)
    calls = []
    monkeypatch.setattr(table_pages, "_column_match", lambda *a: calls.append(a))
    monkeypatch.setattr(table_pages, "global_order", lambda *a: calls.append(a))
    assert page(demo, chosen, query, 100, 200)[1] == count and calls == []


def test_what_the_browser_sends_is_checked_not_trusted():
    hostile = {
        "sortModel": [{"colId": "__class__", "sort": "asc"}, {"colId": "region", "sort": "up"}, "x", {"colId": "region", "sort": "desc"}],
        "filterModel": {"comments": {"type": "regex", "filter": ".*"}, "nope": {"type": "contains", "filter": "a"}, "region": "x",
                        "team_id": {"type": "contains", "filter": 7}, "ps_id": {"type": "contains", "filter": "x" * 10_000}},
    }  # fmt: skip
    query = query_from_grid(hostile, ["not", "text"], "12")
    assert query == TableQuery(sort=(("region", "desc"),), columns=(("ps_id", "AND", (("contains", "x" * 200),)),))
    assert table_pages.block({"startRow": -5, "endRow": 10**9}) == (0, table_pages.MAX_BLOCK)
    assert table_pages.block({"startRow": "0"}) == (0, 100)


def test_the_csv_parameters_round_trip():
    query = TableQuery(
        sort=(("observed_at", "desc"), ("region", "asc")),
        columns=(("comments", "AND", (("blank", ""),)), ("overall", "OR", (("equals", "bad"), ("equals", "very bad")))),
        search="a&b=c, “d”",
        new_since=12,
    )
    view, back = split_query("form=voting&region=KZ-KAR" + to_params(query))
    assert view == "form=voting&region=KZ-KAR" and back == query
    assert split_query("form=voting") == ("form=voting", TableQuery())
    assert split_query("form=voting&columns=%7Bnot+json&sort=nope:asc")[1] == TableQuery()


# ------------------------------------------------------------------------------ through the page's callbacks
@pytest.fixture()
def page_(demo):
    client = DashClient(create_app(demo))
    client.fire("url", "search", "?form=voting")
    client.fire("table-toggle", "n_clicks", 1)
    return client


def test_the_page_asks_block_by_block_and_the_csv_link_is_the_tables(page_, demo):
    page_.props[("table-search", "value")] = "ballot"
    sort = [{"colId": "region", "sort": "desc"}]
    rows, count = listed(page_, sort)
    first = ask(page_, sort=sort)
    assert first["table-status"]["children"].startswith(f"{count:,} forms of this view with “ballot”")
    href = first["export-link"]["href"]
    assert href.startswith("/export.csv?form=voting&") and "search=ballot" in href
    csv = pd.read_csv(io.StringIO(page_.client.get(href).get_data(as_text=True)), dtype=str)
    assert list(csv["form_id"]) == [r["form_id"] for r in rows] and len(rows) == count > 0
    later = ask(page_, 100)
    assert "export-link" not in later  # a further block leaves the link as the first block set it
    closed = page_.fire("table-toggle", "n_clicks", 2)
    assert closed["export-link"]["href"] == "/export.csv?form=voting"  # closed: every form of the view, as the hint says


def test_a_view_change_names_a_new_list_and_a_metric_change_does_not(page_, demo):
    first = page_.props[("table-view", "data")]
    page_.fire("metric", "value", "problem")
    assert page_.props[("table-view", "data")] == first
    page_.fire("regions", "value", ["KZ-KAR"])
    now = page_.props[("table-view", "data")]
    assert now["list"] != first["list"] and now["data"] == first["data"]  # another list of the same data
    rows, count = listed(page_)
    assert {r["region"] for r in rows} == {demo.region_names["KZ-KAR"]} and len(rows) == count


# ------------------------------------------------------------------------------ roles
PASSWORD = "Zq7-correct-horse-4417"


@pytest.fixture(scope="module")
def role_app(demo, tmp_path_factory):
    accounts = Accounts(tmp_path_factory.mktemp("table-roles") / "accounts.sqlite", create=True)
    for name, role in {"ana": "analyst", "carl": "coordinator", "vera": "viewer"}.items():
        accounts.add(name, PASSWORD, role, ("KZ-KAR",) if role == "coordinator" else (), by="test", address="local")
    return create_app(demo, accounts=accounts), accounts


def signed_in_page(app, user: str, search: str) -> DashClient:
    client = app.server.test_client()
    reply = sign_in(client, user, PASSWORD)
    client.get(reply.headers["Location"])
    page = DashClient(app, client=client)
    page.fire("url", "search", search)
    return page


def test_a_viewer_gets_no_row_and_no_count_however_asked(role_app):
    app, _ = role_app
    page = signed_in_page(app, "vera", "?form=voting")
    reply = ask(page, end=500, sort=[{"colId": "comments", "sort": "asc"}])
    assert reply["forms-table"]["getRowsResponse"] == {"rowData": [], "rowCount": 0}
    assert "export-link" not in reply and page.props[("table-view", "data")] is None


def test_a_coordinator_lists_only_their_regions_even_with_a_crafted_view(role_app, demo):
    app, _ = role_app
    page = signed_in_page(app, "carl", "?form=voting")
    page.props[("filters", "data")] = {**page.props[("filters", "data")], "regions": ["KZ-ALA", "KZ-KAR"]}  # crafted
    page.props[("table-search", "value")] = "KZ-ALA"  # another region's stations: none
    assert listed(page)[1] == 0
    page.props[("table-search", "value")] = ""
    rows, count = listed(page)
    own = demo.forms[(demo.forms["form_type"] == "voting") & (demo.forms["region_code"] == "KZ-KAR")]
    assert count == len(own) and sorted(r["form_id"] for r in rows) == sorted(own["form_id"])


def test_one_audit_row_per_list_shown_not_per_block(role_app):
    app, accounts = role_app
    page = signed_in_page(app, "ana", "?form=counting")
    before = len([e for e in accounts.audit_rows() if e["event"] == "forms_viewed"])
    page.props[("table-search", "value")] = "ballot"
    ask(page)
    ask(page, 100)
    ask(page, 200)
    viewed = [e for e in accounts.audit_rows() if e["event"] == "forms_viewed"]
    assert len(viewed) == before + 1
    detail = viewed[-1]["detail"]
    assert detail["search"] == "ballot" and detail["view"] == "?form=counting" and detail["rows"] >= 0


def test_a_list_asked_for_further_down_first_is_audited_too(role_app):
    """A request made by hand that skips the first block still leaves its row in the audit (once)."""
    app, accounts = role_app
    page = signed_in_page(app, "ana", "?form=opening")
    before = len([e for e in accounts.audit_rows() if e["event"] == "forms_viewed"])
    page.props[("table-search", "value")] = "stuffing, never the first block"
    ask(page, 100)
    ask(page, 200)
    viewed = [e for e in accounts.audit_rows() if e["event"] == "forms_viewed"]
    assert len(viewed) == before + 1 and viewed[-1]["detail"]["search"] == "stuffing, never the first block"
