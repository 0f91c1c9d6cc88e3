"""The forms table as the browser's grid reads it: blocks asked for through ``table-ask`` (what the page's clientside
callback passes on from AG Grid's ``getRowsRequest``), answered in ``getRowsResponse``."""

from __future__ import annotations

from typing import Any

from dashboard.table_pages import MAX_BLOCK
from scripts.dash_client import DashClient

DEFAULT_SORT = [{"colId": "observed_at", "sort": "asc"}]  # the grid's own first sort (layout.TABLE_COLUMN_DEFS)


def ask(page: DashClient, start: int = 0, end: int | None = None, sort=None, filters=None) -> dict[str, Any]:
    """One block, as the grid asks for it; returns the whole reply (response, CSV link, status line)."""
    request = {
        "startRow": start,
        "endRow": start + 100 if end is None else end,
        "sortModel": DEFAULT_SORT if sort is None else sort,
        "filterModel": filters or {},
    }
    return page.fire("table-ask", "data", request)


def listed(page: DashClient, sort=None, filters=None) -> tuple[list[dict[str, Any]], int]:
    """Every row the table lists (block after block, as a scroll to the end would ask) and the count it says."""
    rows: list[dict[str, Any]] = []
    while True:
        response = ask(page, len(rows), len(rows) + MAX_BLOCK, sort, filters)["forms-table"]["getRowsResponse"]
        rows += response["rowData"]
        if not response["rowData"] or len(rows) >= response["rowCount"]:
            return rows, response["rowCount"]
