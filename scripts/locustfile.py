"""Simulated people using the dashboard, for locust: sign in once, open the page, change filters, drill, look at the forms, export.

``make load`` runs it through ``scripts/load.py`` (server, accounts, memory and the report included). By hand, against a
server you started::

    OBSMAP_LOAD_ACCOUNTS=ana,ben OBSMAP_LOAD_PASSWORD_FILE=pw.txt locust -f scripts/locustfile.py --headless \\
        --host http://127.0.0.1:8050 -u 20 -r 5 -t 1m

The password comes from ``$OBSMAP_LOAD_PASSWORD_FILE`` (a file) or ``$OBSMAP_LOAD_PASSWORD``, never from a command line.
Each callback is posted as dash-renderer posts it, built by :class:`scripts.dash_client.DashClient` from the page's own
layout and dependencies (every input and state with its current value, ``changedPropIds``, the ``X-CSRFToken``
header from the ``_csrf_token`` cookie), so the server does exactly the work a browser's click costs. Requests are
named by what the person did: locust's statistics are per action.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from types import SimpleNamespace
from typing import Any

from locust import HttpUser, between, task

from scripts.dash_client import DashClient, csrf_token

_accounts = itertools.count()


def password() -> str:
    path = os.environ.get("OBSMAP_LOAD_PASSWORD_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get("OBSMAP_LOAD_PASSWORD", "")


def think_time() -> Any:
    """Seconds a person looks at the page between two actions: ``$OBSMAP_LOAD_WAIT`` as ``LOW-HIGH`` (default 2-8)."""
    low, _, high = os.environ.get("OBSMAP_LOAD_WAIT", "2-8").partition("-")
    return between(float(low), float(high or low))


class _Reply:
    """A requests reply as DashClient reads a Flask test client's: ``status_code``, ``data``, ``json``."""

    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self.data = response.content or b""  # None when the connection failed (locust has recorded the failure)
        self._response = response

    @property
    def json(self) -> Any:
        return self._response.json()


class HttpClient:
    """The part of Flask's test client that DashClient uses, over locust's HTTP session (each request timed by locust).

    ``action`` names the requests: what the person is doing (a callback that the action sets off after the first
    is named with its output, e.g. ``forms table > forms-table``).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.action = "page"
        self._posts = 0

    def begin(self, action: str) -> None:
        self.action, self._posts = action, 0

    def get(self, path: str, name: str | None = None) -> _Reply:
        return _Reply(self.session.get(path, name=name or f"{self.action} GET {path.split('?')[0]}"))

    def post(self, path: str, data: Any = None, content_type: str | None = None, headers: dict[str, str] | None = None) -> _Reply:
        name = self.action
        if path == "/_dash-update-component":
            self._posts += 1
            if self._posts > 1:
                name = f"{self.action} > {json.loads(data)['output'].strip('.').split('.')[0]}"
        return _Reply(self.session.post(path, data=data, headers={**(headers or {}), "Content-Type": content_type or ""}, name=name))

    def get_cookie(self, key: str) -> Any:
        value = self.session.cookies.get(key)
        return SimpleNamespace(value=value) if value is not None else None


def _options(page: DashClient, component: str) -> list[Any]:
    return [o["value"] if isinstance(o, dict) else o for o in page.props.get((component, "options")) or []]


class Person(HttpUser):
    """One person of the mission: an account of ``$OBSMAP_LOAD_ACCOUNTS`` (comma-separated, taken in turn)."""

    wait_time = think_time()

    def on_start(self) -> None:
        names = [n for n in os.environ.get("OBSMAP_LOAD_ACCOUNTS", "").split(",") if n]
        self.http = HttpClient(self.client)
        if names:
            self.sign_in(names[next(_accounts) % len(names)])
        self.open_page(first_visit=True)

    def sign_in(self, username: str) -> None:
        self.http.begin("sign in")
        self.client.get("/sign-in", name="sign in GET /sign-in")
        form = {"username": username, "password": password(), "csrf_token": csrf_token(self.http), "next": "/"}
        with self.client.post("/sign-in", data=form, name="sign in POST /sign-in", allow_redirects=False, catch_response=True) as reply:
            if reply.status_code != 302:
                reply.failure(f"sign-in answered {reply.status_code}, expected a redirect")

    def open_page(self, first_visit: bool = False) -> None:
        """The page as a browser opens it: the HTML, on a first visit its scripts and styles, the layout, the first view."""
        self.http.begin("open page")
        with self.client.get("/", name="open page GET /", catch_response=True) as reply:
            if reply.status_code != 200:
                reply.failure(f"the page answered {reply.status_code}")
                return
            if 'name="password"' in reply.text:
                reply.failure("the page is the sign-in form: the session was not recognised")
                return
            html = reply.text
        if first_visit:  # later visits take them from the browser's cache (they are fingerprinted, cached a year)
            for src in re.findall(r'<script src="(/[^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="(/[^"]+)"', html):
                self.client.get(src, name="open page: scripts and styles (first visit)")
        self.page = DashClient(None, client=self.http)  # GET /_dash-layout and /_dash-dependencies
        self.regions = _options(self.page, "regions")
        self.http.begin("open page: first view")
        self.page.fire("url", "search", "")  # the page's first view, as dash-renderer asks for it on load

    def act(self, action: str, component: str, prop: str, value: Any) -> None:
        self.http.begin(action)
        reply = self.page.fire(component, prop, value)
        if not reply:
            raise RuntimeError(f"{action}: the server's reply changed nothing on the page")

    def clicks(self, component: str) -> int:
        return (self.page.props.get((component, "n_clicks")) or 0) + 1

    @task(6)
    def change_phase(self) -> None:
        others = [p for p in _options(self.page, "phase") if p != self.page.props.get(("phase", "value"))]
        self.act("filter: phase", "phase", "value", random.choice(others))

    @task(4)
    def change_regions(self) -> None:
        chosen = random.sample(self.regions, k=random.choice([0, 1, 2, 3])) if self.regions else []
        self.act("filter: regions", "regions", "value", chosen)

    @task(4)
    def change_metric(self) -> None:
        others = [m for m in _options(self.page, "metric") if m != self.page.props.get(("metric", "value"))]
        self.act("filter: metric", "metric", "value", random.choice(others))

    @task(2)
    def drill_and_back(self) -> None:
        region = random.choice(self.regions)
        self.act("drill into a region", "region-map", "clickData", {"points": [{"curveNumber": 0, "location": region}]})
        self.wait()
        self.act("back to the country", "back", "n_clicks", self.clicks("back"))

    @task(1)
    def forms_table(self) -> None:
        self.act("forms table", "table-toggle", "n_clicks", self.clicks("table-toggle"))  # open: the switch
        # then the grid asks for its first block (AG Grid's infinite row model; the page passes the request on)
        first_block = {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "observed_at", "sort": "asc"}], "filterModel": {}}
        self.act("forms table rows", "table-ask", "data", first_block)
        self.wait()
        self.act("forms table", "table-toggle", "n_clicks", self.clicks("table-toggle"))  # and closed again

    @task(1)
    def export_csv(self) -> None:
        href = self.page.props.get(("export-link", "href")) or "/export.csv"
        with self.client.get(href, name="export CSV", catch_response=True) as reply:
            if reply.status_code == 200 and not reply.headers.get("Content-Type", "").startswith("text/csv"):
                reply.failure(f"the export is {reply.headers.get('Content-Type')}, not a CSV")

    @task(1)
    def reload_page(self) -> None:
        self.open_page()
