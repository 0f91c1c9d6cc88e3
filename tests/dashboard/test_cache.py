"""The view's parts shared through a real Redis (Debian's redis-server, started here on 127.0.0.1, stopped at the end).

What a user would notice: a second server (another worker, another machine) shows a view someone already opened
without drawing it again, and shows exactly what the first drew; new data is drawn anew; a viewer never gets an
analyst's figures nor the reverse; Redis going away slows nothing down to an error.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from dashboard import cache, selection, tables, views
from dashboard.accounts import Accounts
from dashboard.app import create_app
from dashboard.cli import main
from scripts.dash_client import DashClient, sign_in
from tests.conftest import DEMO, ROOT, build_tiny

PARTS = ("region-map", "headlines", "n-shown", "region-table-next", "problem-chart-next", "timeline-next", "map-caption", "map-title")
DRAWERS = [
    (views, "map_patch"),
    (views, "headlines"),
    (views, "n_shown"),
    (tables, "region_table"),
    (views, "problems"),
    (views, "timeline"),
]
PASSWORD = "Rk4-cache-test-password-1193"  # an account's; searched for in the logs


class RedisServer:
    """A throwaway redis-server: its own port, folder and config file; nothing saved to disk."""

    def __init__(self, folder: Path, requirepass: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: `make redis` installs Debian's (make test does)")
        with socket.socket() as probe:  # a free port (redis-server --port 0 would listen on no TCP port at all)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        conf = folder / "redis.conf"
        lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {folder}", 'save ""', "appendonly no", "daemonize no", "loglevel warning"]
        if requirepass:
            lines.append(f"requirepass {requirepass}")  # in a file, not on redis-server's command line
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        client = redis.Redis(host="127.0.0.1", port=self.port, password=requirepass, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    pytest.fail(f"redis-server stopped: {self.proc.stderr.read().decode(errors='replace')}")
                time.sleep(0.05)
        self.client = client

    def keys(self) -> set[bytes]:
        return set(self.client.keys(cache.KEY_PREFIX + "*"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh(shared):
    """Each test starts as a new process would: no view remembered here, an empty Redis."""
    selection._cache.clear()
    shared.client.flushdb()


@pytest.fixture()
def drawn(monkeypatch):
    """How many times each part was drawn in this process."""
    counts: dict[str, int] = {}
    for module, name in DRAWERS:
        real = getattr(module, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    return counts


def _view(app, phase: str = "voting", client=None) -> dict:
    page = DashClient(app, client=client)
    page.fire("url", "search", "")
    return page.fire("phase", "value", phase)


def _parts(reply: dict) -> str:
    return json.dumps({k: reply[k] for k in PARTS if k in reply}, sort_keys=True)


OTHER_PROCESS = """
import json, sys
from dashboard.app import create_app
from scripts.dash_client import DashClient
page = DashClient(create_app(sys.argv[1], cache=sys.argv[2]))
page.fire("url", "search", "")
reply = page.fire("phase", "value", "voting")
print(json.dumps({k: reply[k] for k in sys.argv[3].split(",") if k in reply}, sort_keys=True))
"""


def test_a_view_drawn_by_another_process_is_not_drawn_again_and_reads_the_same(shared, drawn):
    """Another process (its own hash seed, its own memory) draws the view; this one finds every part in Redis."""
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(DEMO), shared.url, ",".join(PARTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shared.keys(), "the other process stored nothing"
    reply = _view(create_app(DEMO, cache=shared.url))
    assert drawn == {}, f"drawn again here: {drawn}"
    assert _parts(reply) == other.stdout.strip()


def test_two_apps_share_a_part_and_a_new_data_version_is_a_miss(shared, drawn, tmp_path):
    rows = [{"form_type": "voting", "region_code": "AA", "overall": "bad"} for _ in range(12)]
    first = build_tiny(tmp_path / "one", rows)
    _view(create_app(first, cache=shared.url))  # the first load (counting), then voting
    assert drawn["map_patch"] == 2
    selection._cache.clear()  # a second worker: nothing remembered in its process
    _view(create_app(first, cache=shared.url))
    assert drawn["map_patch"] == 2 and drawn["headlines"] == 2, drawn
    stored = shared.keys()

    later = build_tiny(tmp_path / "two", [*rows, *({"form_type": "voting", "region_code": "BB", "overall": "good"} for _ in range(12))])
    assert later.version != first.version
    reply = _view(create_app(later, cache=shared.url))
    assert drawn["map_patch"] == 4, "new data must be drawn anew"
    assert "24" in json.dumps(reply["n-shown"]), reply["n-shown"]  # the new data's count, not the old one's 12
    assert shared.keys() > stored


def test_a_mission_built_in_memory_is_never_shared(shared, drawn, demo):
    from dataclasses import replace

    unnamed = replace(demo, version="")
    _view(create_app(unnamed, cache=shared.url))
    assert drawn["map_patch"] == 2 and not shared.keys()


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Accounts:
    accounts = Accounts(tmp_path_factory.mktemp("accounts") / "accounts.sqlite", create=True)
    for name, role in {"ana": "analyst", "vera": "viewer", "carl": "coordinator"}.items():
        accounts.add(name, PASSWORD, role, ("KZ-KAR",) if role == "coordinator" else (), by="test", address="local")
    return accounts


def _signed_in(app, user: str):
    client = app.server.test_client()
    reply = sign_in(client, user, PASSWORD)
    assert reply.status_code == 302, reply.data
    client.get(reply.headers["Location"])
    return client


def test_two_roles_never_get_each_others_entries(shared, drawn, demo, accounts):
    """An analyst's parts, then a viewer's and a coordinator's on other workers: each drawn for its own rights."""
    app = create_app(demo, accounts=accounts, cache=shared.url)
    analyst = _view(app, client=_signed_in(app, "ana"))
    after_analyst = shared.keys()
    seen = {"ana": _parts(analyst)}
    for user in ("vera", "carl"):
        selection._cache.clear()
        before = drawn["map_patch"]
        other = create_app(demo, accounts=accounts, cache=shared.url)  # another worker
        seen[user] = _parts(_view(other, client=_signed_in(other, user)))
        assert drawn["map_patch"] == before + 2, f"{user} got someone else's map"
        assert len(shared.keys()) > len(after_analyst), f"{user}'s parts were not stored apart"
        after_analyst = shared.keys()
    assert seen["carl"] != seen["ana"]  # the coordinator's figures are their region's
    # And back: the analyst's view on another worker is the analyst's, from the cache.
    selection._cache.clear()
    again = create_app(demo, accounts=accounts, cache=shared.url)
    before = dict(drawn)
    assert _parts(_view(again, client=_signed_in(again, "ana"))) == seen["ana"]
    assert drawn == before


def test_redis_stopped_mid_run_still_answers_with_one_warning(tmp_path, drawn, caplog):
    server = RedisServer(tmp_path)
    try:
        app = create_app(DEMO, cache=server.url)
        _view(app, "voting")
        assert server.keys()
    finally:
        server.stop()
    caplog.set_level(logging.WARNING, logger="dashboard.cache")
    started = time.perf_counter()
    for phase in ("opening", "tabulation", "voting"):  # not counting: the first load's phase, a change of nothing
        selection._cache.clear()
        reply = _view(app, phase)
        assert reply["region-map"]["figure"] and reply["headlines"]["children"]
    assert time.perf_counter() - started < 30
    warnings = [r for r in caplog.records if r.name == "dashboard.cache"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "drawn here" in warnings[0].getMessage()


def test_a_password_comes_from_a_file_never_from_the_url(tmp_path, drawn, monkeypatch, capsys, caplog):
    secret = "s3cret-for-redis-Xq81"
    server = RedisServer(tmp_path, requirepass=secret)
    try:
        url_with_secret = f"redis://:{secret}@127.0.0.1:{server.port}/0"
        assert main(["serve", "--cache", url_with_secret]) == 2
        refused = capsys.readouterr().err
        assert "must not hold a password" in refused and secret not in refused and refused.count("\n") == 1

        caplog.set_level(logging.WARNING)
        wrong = tmp_path / "wrong"
        wrong.write_text("not-it\n")
        monkeypatch.setenv(cache.PASSWORD_FILE_ENV, str(wrong))
        _view(create_app(DEMO, cache=server.url))  # refused by Redis: drawn here, still answered
        assert not server.client.keys("*") and any(r.name == "dashboard.cache" for r in caplog.records)

        right = tmp_path / "password"
        right.write_text(secret + "\n")
        right.chmod(0o600)
        monkeypatch.setenv(cache.PASSWORD_FILE_ENV, str(right))
        selection._cache.clear()
        _view(create_app(DEMO, cache=server.url))
        assert server.keys()
        assert secret not in caplog.text and "not-it" not in caplog.text
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "words"),
    [("memcached://127.0.0.1", "takes simple, none or redis://"), ("redis://ana:pw@127.0.0.1:6379/0", "must not hold a password")],
)
def test_a_bad_cache_url_stops_serve_in_one_sentence(url, words, capsys):
    assert main(["serve", "--cache", url]) == 2
    err = capsys.readouterr().err
    assert words in err and "pw" not in err and err.count("\n") == 1


def test_a_part_that_cannot_travel_is_drawn_each_time_and_leaves_the_cache_working(shared, caplog):
    from flask import Flask

    cached = cache.install(Flask("one"), shared.url)
    caplog.set_level(logging.WARNING, logger="dashboard.cache")
    for _ in range(2):
        assert (
            cached.remember("v1|all|forms", ("odd",), lambda: lambda: "a function pickle cannot take")() == "a function pickle cannot take"
        )
    assert cached.remember("v1|all|forms", ("fine",), lambda: [1, 2]) == [1, 2]
    assert cache.install(Flask("two"), shared.url).remember("v1|all|forms", ("fine",), lambda: "drawn again") == [1, 2]
    assert [r.getMessage()[:30] for r in caplog.records] == ["the part 'odd' cannot be share"]
