"""``obsmap serve`` as people get it: gunicorn with several worker processes, run as a command, on 127.0.0.1.

Two servers, each ``--workers 2``: the open demo, and a copy of the demo with an accounts file. Requests are sent
many at a time, so both workers answer (each worker's CPU time is read before and after); a session
signed in once, and its CSRF token, work on every worker. SIGTERM stops a server and its workers within seconds;
without accounts, real data is refused in one sentence (exit code 2). Every server runs in its own process group
and is killed with it, whatever happens. About 20 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
import requests

from dashboard.accounts import Accounts
from scripts.dash_client import DashClient, csrf_token
from tests.conftest import DEMO, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving")]  # two servers of 3 processes: one xdist worker

PASSWORD = "serving-test-pass-5521"
WORKERS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSMAP_")}
    return {**env, **extra}


class Served:
    """``obsmap serve ARGS`` in its own process group, output in a log; the whole group is killed on exit."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(self.port), "--workers", str(WORKERS), *args]
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
            try:
                if requests.get(self.url + "/sign-in", timeout=5).status_code in (200, 404) and len(self.workers()) == WORKERS:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children()

    def busy(self) -> dict[int, float]:
        """CPU seconds each worker has used so far: which workers answered (an idle worker uses next to none)."""
        return {w.pid: sum(w.cpu_times()[:2]) for w in self.workers()}

    def kill(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of its group still there


@pytest.fixture(scope="module")
def open_demo(tmp_path_factory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("open")
    served = Served([], tmp / "serve.log", clean_env(OBSMAP_ACCOUNTS=str(tmp / "none" / "accounts.sqlite")))
    try:
        served.wait_until_up()
        yield served
    finally:
        served.kill()


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("signed")
    mission = tmp / "mission"
    shutil.copytree(DEMO, mission)
    accounts = Accounts(tmp / "accounts.sqlite", create=True)
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    served = Served(["--data", str(mission), "--accounts", str(accounts.path)], tmp / "serve.log", clean_env())
    try:
        served.wait_until_up()
        yield served
    finally:
        served.kill()


class HttpClient:
    """What DashClient uses of Flask's test client, over a real HTTP session."""

    def __init__(self, session: requests.Session, url: str) -> None:
        self.session, self.url = session, url

    @staticmethod
    def _reply(response: requests.Response) -> Any:
        return SimpleNamespace(status_code=response.status_code, data=response.content, json=response.json() if response.content else None)

    def get(self, path: str) -> Any:
        return self._reply(self.session.get(self.url + path, timeout=30))

    def post(self, path: str, data: Any = None, content_type: str = "", headers: dict | None = None) -> Any:
        return self._reply(
            self.session.post(self.url + path, data=data, headers={**(headers or {}), "Content-Type": content_type}, timeout=30)
        )

    def get_cookie(self, key: str) -> Any:
        value = self.session.cookies.get(key)
        return SimpleNamespace(value=value) if value is not None else None


def phase_change_posts(client: DashClient, n: int) -> list[tuple[str, dict]]:
    """``n`` phase changes as dash-renderer posts them: the body and the CSRF header of each."""
    # The page's view callback (the briefing view's phase buttons follow the phase too, in the browser)
    (dependency,) = [d for d in client.dependencies if any(i["id"] == "phase" for i in d["inputs"]) and "filters.data" in d["output"]]
    posts = []
    for i in range(n):
        client.props[("phase", "value")] = ("opening", "voting", "counting", "tabulation")[i % 4]
        body = {
            "output": dependency["output"],
            "outputs": [
                {"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]} for o in dependency["output"].strip(".").split("...")
            ],
            "inputs": [{**x, "value": client.props.get((x["id"], x["property"]))} for x in dependency["inputs"]],
            "changedPropIds": ["phase.value"],
            "state": [{**x, "value": client.props.get((x["id"], x["property"]))} for x in dependency["state"]],
        }
        posts.append((json.dumps(body), {"X-CSRFToken": csrf_token(client.client), "Content-Type": "application/json"}))
    return posts


def post_many(served: Served, session: requests.Session, posts: list[tuple[str, dict]]) -> list[requests.Response]:
    """The posts sent 8 at a time (so every worker gets some), each on a connection of its own, with the session's cookies."""
    cookies = session.cookies.get_dict()

    def send(post: tuple[str, dict]) -> requests.Response:
        body, headers = post
        return requests.post(served.url + "/_dash-update-component", data=body, headers=headers, cookies=cookies, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, posts))


def assert_every_worker_answered(served: Served, before: dict[int, float]) -> None:
    after = served.busy()
    assert set(after) == set(before) and len(after) == WORKERS, "a worker was replaced during the requests"
    quiet = [pid for pid in after if after[pid] - before[pid] < 0.05]
    assert not quiet, f"workers {quiet} answered nothing (CPU seconds before {before}, after {after})"


def test_the_open_demo_is_served_by_gunicorn_workers_that_share_the_csrf_key(open_demo: Served):
    out = open_demo.log.read_text()
    assert f"obsmap: serving {DEMO}" in out and f"with {WORKERS} worker processes" in out
    assert "Open demo: no sign-in" in out
    assert requests.get(open_demo.url + "/", timeout=30).status_code == 200
    assert len(open_demo.workers()) == WORKERS
    session = requests.Session()
    client = DashClient(None, client=HttpClient(session, open_demo.url))  # the layout and the CSRF cookie, from one worker
    assert "KZ-KAR" in json.dumps(client.props[("regions", "options")])
    before = open_demo.busy()
    replies = post_many(open_demo, session, phase_change_posts(client, 24))
    assert [r.status_code for r in replies] == [200] * 24, {r.status_code: r.text[:200] for r in replies}
    assert all("region-map" in r.json()["response"] for r in replies)
    assert_every_worker_answered(open_demo, before)


def test_a_session_signed_in_on_one_worker_works_on_every_worker(signed: Served):
    out = signed.log.read_text()
    assert "sign-in required (accounts in" in out and f"with {WORKERS} worker processes" in out
    anonymous = requests.get(signed.url + "/", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/sign-in")
    session = requests.Session()
    session.get(signed.url + "/sign-in", timeout=30)
    form = {"username": "ana", "password": PASSWORD, "csrf_token": session.cookies["_csrf_token"], "next": "/"}
    assert session.post(signed.url + "/sign-in", data=form, allow_redirects=False, timeout=30).status_code == 302

    cookies = session.cookies.get_dict()
    before = signed.busy()
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: requests.get(signed.url + "/_dash-layout", cookies=cookies, timeout=60), range(16)))
    assert [p.status_code for p in pages] == [200] * 16 and all("KZ-KAR" in p.text for p in pages)
    assert_every_worker_answered(signed, before)

    client = DashClient(None, client=HttpClient(session, signed.url))
    before = signed.busy()
    replies = post_many(signed, session, phase_change_posts(client, 24))
    assert [r.status_code for r in replies] == [200] * 24, {r.status_code: r.text[:200] for r in replies}
    assert_every_worker_answered(signed, before)

    body, headers = phase_change_posts(client, 1)[0]
    forged = requests.post(signed.url + "/_dash-update-component", data=body, headers={"Content-Type": "application/json"}, cookies=cookies)
    assert forged.status_code == 400, "a callback without the CSRF header must be refused"


def test_the_master_holds_no_database_open_and_nothing_of_the_renderer(signed: Served):
    """What a worker inherits from the master when it forks: no SQLite connection (the accounts, a store), no chromium."""
    master = psutil.Process(signed.proc.pid)
    held = [f.path for f in master.open_files() if f.path.endswith((".sqlite", "-wal", "-shm"))]
    assert held == []
    assert not [p for p in master.children(recursive=True) if "chrom" in p.name()]


def test_sigterm_stops_the_server_and_its_workers_within_seconds(tmp_path):
    served = Served([], tmp_path / "serve.log", clean_env(OBSMAP_ACCOUNTS=str(tmp_path / "none" / "accounts.sqlite")))
    try:
        served.wait_until_up()
        workers = served.workers()
        start = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(10) == 0
        assert time.monotonic() - start < 5
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive
    finally:
        served.kill()


def test_real_data_without_accounts_is_refused_in_one_sentence(tmp_path):
    mission = tmp_path / "mission"
    shutil.copytree(DEMO, mission)
    cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--data", str(mission), "--port", str(free_port()), "--workers", "2"]
    proc = subprocess.run(cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "has no accounts" in proc.stderr and f"--data {mission}" in proc.stderr
    assert "serving" not in proc.stdout
