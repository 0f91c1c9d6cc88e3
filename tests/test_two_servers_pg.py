"""Two obsmap servers on one PostgreSQL store: a form synced through one appears on the other's map.

As two machines behind a load balancer would run them: two ``obsmap serve`` commands (gunicorn, two workers each),
each on its own copy of the mission folder and with its own accounts file, sharing nothing but the database of a real
PostgreSQL server the tests start (tests/pg.py). Neither is given ``--store``: each folder's ``store.toml`` (written
by ``obsmap import --store``) says where the forms are. A form dropped in the first machine's watch folder and taken by
``obsmap sync --once`` there reaches the second server's map at its page's next check of the data version, driven
through Dash's endpoint over HTTP as the browser drives it. About 20 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import requests

from dashboard.accounts import Accounts
from geo.pgstore import recorded_location
from scripts.dash_client import DashClient
from tests.conftest import ROOT, two_regions
from tests.dashboard.test_serving import HttpClient, Served, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]  # servers of 3 processes: one xdist worker at a time

PASSWORD = "two-servers-pass-8317"
VIEW = "?form=voting&metric=forms"  # the map colours each region by its number of forms


def forms_csv(per_region: int) -> str:
    rows = [f"{code}{i:02d},voting,{code},good" for code in ("AA", "BB") for i in range(per_region)]
    return "form_id,form_type,region_code,overall\n" + "\n".join(rows) + "\n"


def obsmap(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", *args], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


class Machine:
    """One server's machine: its copy of the mission folder, its ``obsmap serve``, and with ``own_accounts`` an
    accounts file of its own (else the accounts are in the mission's PostgreSQL database, shared)."""

    def __init__(self, home: Path, mission: Path, own_accounts: bool) -> None:
        self.home, self.mission = home, mission
        args = ["--data", str(mission)]
        if own_accounts:
            accounts = Accounts(home / "accounts.sqlite", create=True)
            accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
            args += ["--accounts", str(accounts.path)]
        self.served = Served(args, home / "serve.log", clean_env())

    def sign_in(self) -> requests.Session:
        session = requests.Session()
        session.get(self.served.url + "/sign-in", timeout=30)
        form = {"username": "ana", "password": PASSWORD, "csrf_token": session.cookies["_csrf_token"], "next": "/"}
        assert session.post(self.served.url + "/sign-in", data=form, allow_redirects=False, timeout=30).status_code == 302
        return session

    def page(self, session: requests.Session | None = None) -> DashClient:
        """A signed-in page of this server with the view open, as a browser holds it."""
        page = DashClient(None, client=HttpClient(session or self.sign_in(), self.served.url))
        page.fire("url", "search", VIEW)
        return page


def forms_on_the_map(page: DashClient) -> dict[str, str]:
    """What the map's hover says of each region in the page's last view update (a Patch of the trace's customdata)."""
    reply = next(e.reply for e in reversed(page.log) if "region-map" in e.reply)
    operations = {tuple(o["location"]): o["params"]["value"] for o in reply["region-map"]["figure"]["operations"]}
    hovers = dict(zip(["AA", "BB"], operations[("data", 0, "customdata")], strict=True))
    return {code: next(m for m in re.findall(r"\b\d+ voting forms?\b", json.dumps(hover))) for code, hover in hovers.items()}


@pytest.fixture(params=[True, False], ids=["own-accounts", "accounts-in-postgresql"])
def machines(request, tmp_path, pg_url) -> Iterator[tuple[Machine, Machine]]:
    bounds, forms = tmp_path / "adm1.geojson", tmp_path / "forms.csv"
    gpd.GeoDataFrame(two_regions()).to_file(bounds)
    forms.write_text(forms_csv(12), encoding="utf-8")
    first = tmp_path / "a" / "mission"
    obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(first), "--store", pg_url, "--name", "Two")
    second = tmp_path / "b" / "mission"
    shutil.copytree(first.resolve(), second, symlinks=True)  # the folder as copied to the second machine
    assert recorded_location(first) == recorded_location(second) == pg_url
    assert not (first / "store.sqlite").exists() and not (second / "store.sqlite").exists()
    if not request.param:  # one account, in the database: made once, from the first machine
        add = [sys.executable, "-m", "dashboard.cli", "users", "add", "ana", "--role", "analyst", "--password-stdin", "--data", str(first)]
        done = subprocess.run(add, cwd=ROOT, env=clean_env(), input=PASSWORD + "\n", capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    one, two = Machine(tmp_path / "a", first, request.param), Machine(tmp_path / "b", second, request.param)
    try:
        one.served.wait_until_up()
        two.served.wait_until_up()
        yield one, two
    finally:
        one.served.kill()
        two.served.kill()


def test_a_form_synced_through_one_server_appears_on_the_other_servers_map(machines):
    one, two = machines
    there, here = two.page(), one.page()
    assert forms_on_the_map(there) == forms_on_the_map(here) == {"AA": "12 voting forms", "BB": "12 voting forms"}
    quiet = len(there.log)
    there.fire("poll", "n_intervals", 1)
    assert [e.reply for e in there.log[quiet:]] == [{}]  # nothing new yet: nothing sent

    incoming = one.mission / "incoming"
    incoming.mkdir()
    (one.mission / "sync.toml").write_text('[[watch]]\nfolder = "incoming"\n', encoding="utf-8")
    late = incoming / "late.csv"
    late.write_text("form_id,form_type,region_code,overall\nLATE1,voting,BB,bad\n", encoding="utf-8")
    os.utime(late, (time.time() - 60, time.time() - 60))  # written in whole (the watch folder waits for a file to settle)
    obsmap("sync", "--data", str(one.mission), "--once")  # on the first machine, into the shared store

    start = len(there.log)
    reply = there.fire("poll", "n_intervals", 2)  # the second server's page, at its next check
    assert [e.output[:14] for e in there.log[start:]] == ["data-version.d", "..url.search.."]
    assert forms_on_the_map(there) == {"AA": "12 voting forms", "BB": "13 voting forms"}
    assert reply["live-status"]["children"].endswith("25 forms · +1 since you opened")
    here.fire("poll", "n_intervals", 1)
    assert forms_on_the_map(here) == {
        "AA": "12 voting forms",
        "BB": "13 voting forms",
    }  # and the first server's page too: one store, one answer


@pytest.mark.parametrize("machines", [False], indirect=True, ids=["accounts-in-postgresql"])
def test_a_sign_in_on_one_server_is_good_on_the_other_until_signed_out(machines, pg_url):
    """The accounts, the sessions, the audit and the session key are in the mission's database: a browser signed in
    through the first server's address is let in by the second (a load balancer may send it anywhere)."""
    import psycopg

    one, two = machines
    assert "store.toml" in one.served.log.read_text()  # where the accounts are: named by the folder's store.toml
    session = one.sign_in()
    across = requests.Session()
    across.cookies.update(session.cookies)  # the same browser, its next request sent to the other server
    page = two.page(across)
    assert forms_on_the_map(page) == {"AA": "12 voting forms", "BB": "12 voting forms"}
    with psycopg.connect(pg_url) as conn:
        events = [e for (e,) in conn.execute("SELECT event FROM audit ORDER BY id")]
    assert events == ["user_added", "sign_in"]

    assert session.get(one.served.url + "/", timeout=30).status_code == 200  # a page of the first server: its CSRF token
    token = session.cookies["_csrf_token"]
    out = session.post(one.served.url + "/sign-out", data={"csrf_token": token}, allow_redirects=False, timeout=30)
    assert out.status_code in (302, 303)
    after = requests.get(two.served.url + "/_dash-layout", cookies=across.cookies, allow_redirects=False, timeout=30)
    assert after.status_code in (302, 401, 403)  # signed out on one: out on both
