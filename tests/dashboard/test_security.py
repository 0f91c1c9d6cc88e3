"""Who sees what: the sign-in gate on every route and callback, each role's view, sessions, CSRF, headers.

The app is the demo mission with four accounts (admin, analyst, a coordinator of Karaganda, a viewer);
requests are what a browser (or an attacker) sends, through Flask's test client. Figures a role must
not see are checked against the forms themselves, not against what the page happens to show.
"""

from __future__ import annotations

import json
import logging
import re

import pandas as pd
import pytest

from dashboard.accounts import Accounts
from dashboard.app import create_app
from scripts.dash_client import DashClient, csrf_token, sign_in
from tests.dashboard.table_client import ask, listed

PASSWORD = "Zq7-correct-horse-4417"  # distinctive: searched for in every log and audit line
USERS = {"ada": "admin", "ana": "analyst", "carl": "coordinator", "vera": "viewer"}
OWN, OTHER = "KZ-KAR", "KZ-ALA"  # the coordinator's region, and one that is not theirs


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Accounts:
    accounts = Accounts(tmp_path_factory.mktemp("server") / "accounts.sqlite", create=True)
    for name, role in USERS.items():
        accounts.add(name, PASSWORD, role, (OWN,) if role == "coordinator" else (), by="test", address="local")
    return accounts


@pytest.fixture(scope="module")
def app(demo, accounts):
    return create_app(demo, accounts=accounts)


def client_for(app, user: str | None):
    client = app.server.test_client()
    if user:
        reply = sign_in(client, user, PASSWORD)
        assert reply.status_code == 302, reply.data
        client.get(reply.headers["Location"])  # the browser follows the redirect (and gets the new session's CSRF cookie)
    return client


def page_for(app, user: str, search: str = "") -> DashClient:
    page = DashClient(app, client=client_for(app, user))
    page.fire("url", "search", search)
    return page


def plotly_array(value) -> list:
    """A figure's array as sent to the browser: a list, or plotly's typed array (``{"dtype", "bdata"}``)."""
    import base64

    import numpy as np

    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def rows_of(reply: bytes) -> pd.DataFrame:
    import io

    return pd.read_csv(io.BytesIO(reply), dtype="string")


# ------------------------------------------------------------------------------------ anonymous
def data_routes(app) -> list[str]:
    """Every route the server has, except the public ones (sign-in, static files)."""
    public = {"/sign-in", "/sign-in/oidc", "/sign-in/oidc/callback", "/_favicon.ico"}
    paths = []
    for rule in app.server.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"fmt": "png", "name": "map"}.get(m.group(1), "x"), rule.rule)
        if path in public or path.startswith(("/_dash-component-suites/", "/assets/", "/static/")):
            continue
        paths.append(path)
    return sorted(set(paths))


def test_anonymous_requests_to_every_route_get_nothing_of_the_mission(app, demo):
    client = client_for(app, None)
    routes = data_routes(app)
    assert {"/", "/_dash-layout", "/_dash-dependencies", "/_dash-update-component", "/export.csv", "/export/map.png"} <= set(routes)
    some_comment = demo.forms["comments"].dropna().iloc[0]
    for path in [*routes, "/export/brief.pdf", "/export/brief.html", "/anything/added/later"]:
        for method in ("GET", "POST"):
            reply = client.open(path, method=method, headers={"X-CSRFToken": csrf_token(client)})
            body = reply.get_data(as_text=True)
            assert reply.status_code in (302, 401, 405), (method, path, reply.status_code)
            if reply.status_code == 302:
                assert reply.headers["Location"].startswith("/sign-in"), (method, path)
            assert "KZ-KAR" not in body and some_comment not in body and "team_id" not in body, (method, path)


def test_a_new_servers_first_request_may_be_anonymous(demo, accounts):
    """Dash checks the layout during the first request; an anonymous one gets the sign-in page, not an error."""
    fresh = create_app(demo, accounts=accounts)
    reply = fresh.server.test_client().get("/")
    assert reply.status_code == 302 and reply.headers["Location"] == "/sign-in?next=/"
    assert client_for(fresh, "ana").get("/_dash-layout").status_code == 200


def test_anonymous_curl_of_the_csv_returns_nothing(app):
    reply = client_for(app, None).get("/export.csv")
    assert reply.status_code == 401 and reply.data == b"Sign in first.\n"


def test_anonymous_posts_to_every_callback_are_refused(app, demo, accounts):
    dependencies = DashClient(app, client=client_for(app, "ana")).dependencies  # what the page would post
    client = client_for(app, None)
    for dependency in dependencies:
        if dependency.get("clientside_function"):
            continue
        body = {"output": dependency["output"], "outputs": [], "inputs": [], "state": [], "changedPropIds": []}
        reply = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf_token(client)})
        assert reply.status_code == 401, dependency["output"]


# ------------------------------------------------------------------------------------ each role
def test_an_analyst_sees_every_region_the_forms_and_their_csv(app, demo):
    page = page_for(app, "ana", "?form=voting")
    voting = demo.forms[demo.forms["form_type"] == "voting"]
    page.fire("table-toggle", "n_clicks", 1)
    rows, _ = listed(page)
    assert len(rows) == len(voting) and any(r["comments"] for r in rows) and any(r["team_id"] for r in rows)
    csv = page.client.get("/export.csv?form=voting")
    assert csv.status_code == 200 and len(rows_of(csv.data)) == len(voting)


def test_a_coordinator_gets_nothing_of_another_region_however_they_ask(app, demo, accounts):
    forms = demo.forms
    own = forms[forms["region_code"] == OWN]
    own_counting = int((own["form_type"] == "counting").sum())
    page = page_for(app, "carl", f"?form=counting&region={OTHER}")
    # The crafted URL names a region that is not theirs: it is left out, saying so, and the view is theirs.
    crafted = page.log[-1].reply
    assert crafted["n-shown"]["children"][0]["props"]["data-n"] == own_counting
    assert f"Not among your regions, left out: {OTHER}." in json.dumps(crafted["notices"])
    page.fire("url", "search", f"?form=counting&drill={OTHER}")
    assert "polling stations" not in page.log[-1].reply["map-title"]["children"]
    page.fire("region-map", "clickData", {"points": [{"location": OTHER}]})
    assert OTHER not in json.dumps(page.log[-1].reply.get("n-shown", {}))  # their own view again (unchanged: not re-sent)
    assert page.props[("n-shown", "children")][0]["props"]["data-n"] == own_counting
    # Their whole-mission view is their region's forms, every phase.
    page.fire("url", "search", "?form=counting")
    view = page.log[-1].reply
    assert view["n-shown"]["children"][0]["props"]["data-n"] == own_counting
    assert demo.region_names[OWN] in json.dumps(view["n-shown"])  # the page says whose regions these are
    page.fire("table-toggle", "n_clicks", 1)
    rows, _ = listed(page)
    assert rows and {r["region"] for r in rows} == {demo.region_names[OWN]}
    # The region table and the map carry no figure of other regions.
    assert {r["code"] for r in view["region-table-next"]["data"]} == {OWN}
    # Exports: the CSV asked for another region has none of it; asked for everything, it is their region only.
    other = page.client.get(f"/export.csv?region={OTHER}")
    assert set(rows_of(other.data)["region_code"]) == {OWN} and OTHER in other.headers["X-Obsmap-Notices"]
    every = rows_of(page.client.get("/export.csv").data)
    assert len(every) == len(own) and set(every["region_code"]) == {OWN}
    brief = page.client.get(f"/export/brief.html?form=counting&region={OTHER}").get_data(as_text=True)
    other_teams = set(forms.loc[forms["region_code"] == OTHER, "team_id"].dropna()) - set(own["team_id"].dropna())
    brief = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", brief)  # pictures inline: base64 may spell "T001" by chance
    assert not [team for team in other_teams if team in brief]
    # Nor does the page they load name another region's teams or comments.
    layout = page.client.get("/_dash-layout").get_data(as_text=True)
    assert not any(f'"{team}"' in layout for team in other_teams)
    other_comments = set(forms.loc[forms["region_code"] == OTHER, "comments"].dropna()) - set(own["comments"].dropna())
    assert not any(json.dumps(c)[1:-1] in layout for c in other_comments if len(c) > 12)


def test_a_viewer_gets_aggregates_only(app, demo):
    forms = demo.forms
    page = page_for(app, "vera", "?form=voting")
    view = page.log[-1].reply
    # No forms: the table's rows, even asked for with a crafted payload; no CSV link and no CSV.
    assert view["export-link"]["href"] is None
    assert listed(page) == ([], 0)
    reply = page.client.get("/export.csv?form=voting")
    assert reply.status_code == 403 and b"form_id" not in reply.data
    # No team ids and no comments anywhere in what the page loads or receives.
    layout = page.client.get("/_dash-layout").get_data(as_text=True)
    received = layout + json.dumps([e.reply for e in page.log])
    assert not any(f'"{team}"' in received for team in forms["team_id"].dropna().unique())
    assert not any(json.dumps(c)[1:-1] in received for c in forms["comments"].dropna().unique() if len(c) > 12)
    assert page.props[("teams", "options")] == []
    # No station drill-down: drill= is dropped, with a notice, and no station is sent.
    page.fire("url", "search", "?form=voting&drill=KZ-KAR")
    drilled = page.log[-1].reply
    assert "aggregates" in json.dumps(drilled["notices"])
    assert "polling stations" not in drilled["map-title"]["children"]


def test_a_viewer_cannot_lower_min_n_and_small_cells_have_no_count(app, demo):
    forms = demo.forms
    counting = forms[(forms["form_type"] == "counting") & forms["overall"].notna()]
    per_region = counting.groupby("region_code").size()
    small = per_region[per_region < 10]
    assert len(small), "the demo has regions with fewer than 10 assessed counts"
    page = page_for(app, "vera", "?form=counting&min_n=1")
    view = page.log[-1].reply
    rows = {r["code"]: r for r in view["region-table-next"]["data"]}
    for code, n in small.items():
        row = rows[code]
        assert row["note"] == "too few" and row["assessed"] is None and row["share"] is None and row["negative"] is None, (code, n)
    # The same view for an analyst gives those counts: the difference is the role, not the data.
    analyst = {r["code"]: r for r in page_for(app, "ana", "?form=counting&min_n=1").log[-1].reply["region-table-next"]["data"]}
    assert all(analyst[code]["assessed"] == n for code, n in small.items())
    # Narrowed to one small region, the headline and the N line give no count.
    code = small.index[0]
    page.fire("url", "search", f"?form=counting&region={code}")
    view = page.log[-1].reply
    text = json.dumps(view["headlines"])
    assert f" of {small[code]} " not in text and "fewer than 10" in text
    # Nor the problem chart: no bar length, share or "yes of answered" behind fewer than 10 answers.
    bars = view["problem-chart-next"]["data"]["data"][0]
    assert "too few" in bars["text"]
    for label, said, length in zip(bars["y"], bars["text"], plotly_array(bars["x"]), strict=True):
        if said == "too few":
            assert "too few" in label and length == 0, label
        else:
            assert int(re.search(r"of ([\d,]+)", label)[1].replace(",", "")) >= 10, label
    title = view["problem-title"]["children"]
    assert "fewer than 10" in title or int(re.search(r"N = ([\d,]+)", title)[1].replace(",", "")) >= 10, title
    assert "too few" in view["map-caption"]["children"][0] and f"{small[code]} forms" not in view["map-caption"]["children"][0]


@pytest.mark.export
def test_a_viewers_brief_of_a_small_selection_gives_no_count(app, demo):
    forms = demo.forms
    counting = forms[(forms["form_type"] == "counting") & forms["overall"].notna()]
    per_region = counting.groupby("region_code").size()
    code, n = next((c, k) for c, k in per_region.items() if 2 < k < 10)
    brief = client_for(app, "vera").get(f"/export/brief.html?form=counting&region={code}").get_data(as_text=True)
    assert "fewer than 10 assessed forms" in brief and f" of {n} " not in brief and f"{n} assessed" not in brief
    analyst = client_for(app, "ana").get(f"/export/brief.html?form=counting&region={code}").get_data(as_text=True)
    assert f"{n} assessed" in analyst  # the same brief for an analyst gives the count


def test_an_admin_sees_everything(app, demo):
    page = page_for(app, "ada", "?form=voting")
    assert listed(page)[1] == int((demo.forms["form_type"] == "voting").sum())
    assert page.client.get("/export.csv").status_code == 200


# ------------------------------------------------------------------------------ sessions, CSRF
def test_sign_in_failures_are_refused_alike_and_rate_limited(demo, tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    for name in ("ana", "vera"):
        accounts.add(name, PASSWORD, "analyst", by="test", address="local")
    client = create_app(demo, accounts=accounts).server.test_client()
    wrong = sign_in(client, "ana-typo", "not the password")
    assert wrong.status_code == 401 and b"Wrong user name or password." in wrong.data
    bad = sign_in(client, "ana", "not the password either")
    assert bad.status_code == 401 and b"Wrong user name or password." in bad.data
    for _ in range(5):
        assert sign_in(client, "vera", "guessing").status_code == 401
    assert sign_in(client, "vera", "guessing").status_code == 429
    # Throttled, even the right password is not checked: the account is safe from guessing.
    assert sign_in(client, "vera", PASSWORD).status_code == 429


def test_passwords_never_reach_a_log_or_the_audit(demo, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    app = create_app(demo, accounts=accounts)
    client = app.server.test_client()
    sign_in(client, "ana", PASSWORD + "x")
    sign_in(client, "ana", PASSWORD)
    client.get("/export.csv")
    audit = json.dumps(accounts.audit_rows())
    assert PASSWORD not in caplog.text and PASSWORD not in audit
    assert "argon2" not in audit and "argon2" not in caplog.text
    events = [r["event"] for r in accounts.audit_rows()]
    assert events[-3:] == ["sign_in_failed", "sign_in", "export"]
    assert accounts.audit_rows()[-1]["user"] == "ana"


def test_a_reset_password_or_a_disabled_account_ends_its_sessions(demo, tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    accounts.add("ada", PASSWORD, "admin", by="test", address="local")
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    app = create_app(demo, accounts=accounts)
    client = client_for(app, "ana")
    assert client.get("/_dash-layout").status_code == 200
    accounts.reset_password("ana", PASSWORD + "-new", by="test", address="local")
    assert client.get("/_dash-layout").status_code == 401
    client = client_for(app, "ada")
    assert client.get("/_dash-layout").status_code == 200
    accounts.add("bob", PASSWORD, "admin", by="test", address="local")
    accounts.disable("ada", by="test", address="local")
    assert client.get("/_dash-layout").status_code == 401


def test_session_cookie_flags_and_secure_over_https(app):
    client = app.server.test_client()
    client.get("/sign-in")
    reply = client.post("/sign-in", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_token(client)})
    cookie = next(c for c in reply.headers.get_all("Set-Cookie") if c.startswith("obsmap_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.server.test_client()
    secure.get("/sign-in", base_url="https://localhost")
    token = secure.get_cookie("_csrf_token", domain="localhost").value
    reply = secure.post("/sign-in", base_url="https://localhost", data={"username": "ana", "password": PASSWORD, "csrf_token": token})
    cookie = next(c for c in reply.headers.get_all("Set-Cookie") if c.startswith("obsmap_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_state_changing_requests_need_the_csrf_token(app):
    client = app.server.test_client()
    client.get("/sign-in")
    assert client.post("/sign-in", data={"username": "ana", "password": PASSWORD}).status_code == 400
    client = client_for(app, "ana")
    body = {"output": "more.is_open", "outputs": {"id": "more", "property": "is_open"}, "inputs": [], "state": [], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body).status_code == 400
    assert client.post("/sign-out").status_code == 400  # a page elsewhere cannot sign people out either


def test_sign_out_ends_the_session(app):
    client = client_for(app, "ana")
    reply = client.post("/sign-out", data={"csrf_token": csrf_token(client)})
    assert reply.status_code == 302 and reply.headers["Location"] == "/sign-in"
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_sign_in_never_sends_anyone_to_another_site(app, target):
    client = app.server.test_client()
    client.get("/sign-in")
    reply = client.post("/sign-in", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_token(client), "next": target})
    assert reply.status_code == 302 and reply.headers["Location"] == "/"


def test_every_reply_carries_the_security_headers(app):
    client = client_for(app, "ana")
    for path in ("/", "/sign-in", "/_dash-layout", "/export.csv", "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.min.js"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "http" not in csp, path
        assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin", path
    assert client.get("/export.csv").headers["Cache-Control"] == "no-store"


def test_a_server_error_returns_no_traceback(app):
    client = client_for(app, "ana")
    reply = client.post(
        "/_dash-update-component", data="{not json", content_type="application/json", headers={"X-CSRFToken": csrf_token(client)}
    )
    assert reply.status_code in (400, 500) and b"Traceback" not in reply.data and b'File "' not in reply.data


# ------------------------------------------------------------------------------ safe defaults
def test_only_the_demo_on_this_machine_opens_without_accounts(tmp_path, monkeypatch):
    from dashboard.auth import accounts_to_serve
    from dashboard.paths import demo_dir
    from geo.errors import ObsmapError

    monkeypatch.delenv("OBSMAP_ACCOUNTS", raising=False)
    monkeypatch.setenv("OBSMAP_ACCOUNTS", str(tmp_path / "none" / "accounts.sqlite"))
    assert accounts_to_serve(demo_dir(), "127.0.0.1") is None
    for folder, host in ((demo_dir(), "0.0.0.0"), (demo_dir(), None), (tmp_path, "127.0.0.1")):
        with pytest.raises(ObsmapError, match="obsmap users add NAME --role admin"):
            accounts_to_serve(folder, host)
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    accounts.add("ada", PASSWORD, "admin", by="test", address="local")
    assert accounts_to_serve(tmp_path, "0.0.0.0", tmp_path / "accounts.sqlite").path == accounts.path


def test_serve_refuses_real_data_without_accounts_in_one_sentence(tmp_path, capsys, monkeypatch):
    import shutil

    from dashboard.cli import main
    from tests.conftest import DEMO

    monkeypatch.delenv("OBSMAP_ACCOUNTS", raising=False)
    folder = tmp_path / "mission"
    shutil.copytree(DEMO, folder)
    assert main(["serve", "--data", str(folder), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no accounts" in err and f"--data {folder}" in err
    assert main(["serve", "--host", "0.0.0.0", "--debug", "--port", "1"]) == 2


def forbidden_strings(demo, user: str) -> set[str]:
    """Team ids and comments (long enough to be unmistakable) the user may not receive: a viewer none, a coordinator
    none of another region's."""
    forms = demo.forms
    if user == "carl":
        own = forms[forms["region_code"] == OWN]
        other = forms[forms["region_code"] != OWN]
        teams = set(other["team_id"].dropna()) - set(own["team_id"].dropna())
        comments = set(other["comments"].dropna()) - set(own["comments"].dropna())
    else:
        teams, comments = set(forms["team_id"].dropna()), set(forms["comments"].dropna())
    return {json.dumps(t) for t in teams} | {json.dumps(c)[1:-1] for c in comments if len(c) > 12}


@pytest.mark.parametrize("user", ["vera", "carl"])
def test_every_callback_with_crafted_state_gives_a_limited_role_nothing_it_may_not_see(app, demo, user):
    """The page's every server callback, posted with the table open and a crafted filter store (another region
    drilled into, another region's team, min_n 1): no reply carries a team id or comment the role may not see."""
    forms = demo.forms
    other_team = forms.loc[forms["region_code"] == OTHER, "team_id"].dropna().iloc[0]
    page = page_for(app, user, f"?form=voting&drill={OTHER}&team={other_team}&min_n=1")
    crafted = {**page.props[("filters", "data")], "drill": OTHER, "regions": [OTHER], "teams": [other_team], "min_n": 1}
    page.props.update({("table-open", "data"): True, ("new-only", "value"): False, ("filters", "data"): crafted})
    posted = 0
    for dependency in page.dependencies:
        if dependency.get("clientside_function"):
            continue
        for trigger in dependency["inputs"]:
            exchange = page.post(dependency, [f"{trigger['id']}.{trigger['property']}"])
            assert exchange.status in (200, 204), dependency["output"]
            posted += 1
    assert posted >= 8
    received = json.dumps([e.reply for e in page.log]) + page.client.get("/_dash-layout").get_data(as_text=True)
    leaked = [s for s in forbidden_strings(demo, user) if s in received]
    assert leaked == [], leaked[:5]


# ---------------------------------------------------------------------- found by trying it (red team)
def test_a_copied_session_cookie_is_worthless_after_sign_out(app):
    client = client_for(app, "ana")
    cookie = client.get_cookie("obsmap_session").value
    client.post("/sign-out", data={"csrf_token": csrf_token(client)})
    thief = app.server.test_client()
    thief.set_cookie("obsmap_session", cookie)
    assert thief.get("/export.csv").status_code == 401 and thief.get("/_dash-layout").status_code == 401


def test_head_never_signs_anyone_in(app):
    client = app.server.test_client()
    reply = client.open("/sign-in", method="HEAD", data={"username": "ana", "password": PASSWORD})
    assert reply.status_code == 200 and client.get("/_dash-layout").status_code == 401


def test_a_control_character_in_next_is_not_an_error(app):
    client = app.server.test_client()
    client.get("/sign-in")
    data = {"username": "ana", "password": PASSWORD, "csrf_token": csrf_token(client), "next": "/\r\nSet-Cookie: x=1"}
    reply = client.post("/sign-in", data=data)
    assert reply.status_code == 302 and reply.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/assets/", "/assets/nothing.css", "/favicon.ico", "/static/x", "/_dash-component-suites/x"])
def test_anonymous_paths_that_look_static_get_no_page(app, demo, path):
    reply = client_for(app, None).get(path)
    assert reply.status_code in (302, 401, 404), reply.status_code
    assert demo.meta["name"] not in reply.get_data(as_text=True)


def test_a_crafted_component_suite_path_is_a_404_not_a_server_error(app):
    reply = client_for(app, None).get("/_dash-component-suites/dash/../../../app.py")
    assert reply.status_code == 404 and b"Traceback" not in reply.data


def test_throttled_attempts_are_recorded_once_per_window(demo, tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    client = create_app(demo, accounts=accounts).server.test_client()
    for _ in range(12):
        sign_in(client, "ana", "guessing")
    events = [r["event"] for r in accounts.audit_rows()]
    assert events.count("sign_in_failed") == 5 and events.count("sign_in_throttled") == 1


def test_forms_seen_in_the_table_are_in_the_audit(app, accounts):
    page = page_for(app, "ana", "?form=voting&region=KZ-KAR")
    page.fire("table-toggle", "n_clicks", 1)
    ask(page)
    last = accounts.audit_rows()[-1]
    assert last["event"] == "forms_viewed" and last["user"] == "ana" and "region=KZ-KAR" in last["detail"]["view"]
    assert last["detail"]["rows"] > 0


def test_a_viewer_reads_no_small_count_in_the_timeline_the_colours_or_the_n_line(app, demo):
    from dashboard import theme
    from tests.conftest import components

    forms = demo.forms
    per_region = forms[forms["form_type"] == "counting"].groupby("region_code").size()
    small = per_region[per_region < 10]
    page = page_for(app, "vera", f"?form=counting&region={small.index[0]}&min_n=1")
    view = page.log[-1].reply
    bars = view["timeline-next"]["data"]["data"][0]
    assert all(n is None or n >= 10 for n in plotly_array(bars["y"])), bars["y"]
    assert "fewer than 10" in json.dumps(view["n-shown"]).lower()
    # The forms metric colours a region by its count: a small one is "too few", its count in neither colour nor hover.
    page.fire("url", "search", "?form=counting&metric=forms")
    operations = {tuple(o["location"]): o["params"]["value"] for o in page.log[-1].reply["region-map"]["figure"]["operations"]}
    z = dict(zip(demo.region_codes, plotly_array(operations[("data", 0, "z")]), strict=True))
    assert all(z[code] == theme.TOO_FEW_Z for code in small.index)
    hovers = dict(zip(demo.region_codes, operations[("data", 0, "customdata")], strict=True))
    assert all(f"{n} counting forms" not in hovers[code][1] for code, n in small.items())
    # Nor does the map sent with the page say "4 of 9 counts" anywhere.
    figure = components(page.client.get("/_dash-layout").json)["region-map"]["props"]["figure"]
    assert not re.search(r"\b[1-9] of [1-9] ", json.dumps(figure))
