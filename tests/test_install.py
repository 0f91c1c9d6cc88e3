"""obsmap built as a wheel, installed in a fresh venv and run outside the checkout: the demo, the commands, the WSGI app.

Marked ``install`` (``make test-fast`` leaves it out): it builds a wheel and installs every dependency in a new venv,
40-60 s in all, most of it pip installing (about 700 MB of venv, removed at the end).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DEMO, ROOT

pytestmark = [pytest.mark.install, pytest.mark.xdist_group("install")]  # one worker builds the venv once

# Left out of the copy the wheel is built from: environments, caches and build output (setuptools reuses build/lib,
# so stale files there would land in the wheel; building from a copy also leaves the checkout untouched).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "out", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"
)
# Nothing may lead the installed copy back to the checkout or to another mission.
SCRUBBED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV", "OBSMAP_DATA", "OBSMAP_MIN_N", "OBSMAP_ACCOUNTS")
PASSWORD = "install-test-pass-8843"  # given on standard input, never on a command line


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in SCRUBBED}, **extra}


def run(
    cmd: list, *, cwd: Path, timeout: float, env: dict[str, str] | None = None, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess:
    env = clean_env() if env is None else env
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Iterator[Path]:
    """A folder outside the checkout, the working directory of everything run from the installed copy."""
    path = tmp_path_factory.mktemp("install")
    assert ROOT not in path.parents
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the venv is about 700 MB; pytest would keep three of them


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    """A wheel of the checkout as it is (committed or not), built by pip from a copy of it."""
    src = work / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=NOT_SOURCES)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", work / "dist", src], cwd=work, timeout=300)
    (built,) = (work / "dist").glob("obsmap-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_bin(work: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel and its ``server`` extra installed, versions from constraints.txt."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=work, timeout=180)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "-c", ROOT / "constraints.txt", f"{wheel}[server]"], cwd=work, timeout=1200)
    return venv / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A server process in its own process group, its output in a log file; stopped, with its workers, on exit."""

    def __init__(self, cmd: list, cwd: Path, log: Path, env: dict[str, str] | None = None):
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(c) for c in cmd], cwd=cwd, env=env or clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_until_up(self, url: str, timeout: float = 120) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                return get(url)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        pytest.fail(f"server not answering {url} after {timeout} s:\n{self.log.read_text()[-4000:]}")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue


def test_wheel_ships_the_demo_and_the_licences(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for path in sorted(p for p in DEMO.iterdir() if p.is_file()):
            assert zf.read(f"geo/demo_mission/{path.name}") == path.read_bytes(), f"{path.name} differs in the wheel"
        (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        assert zf.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert zf.read(f"{dist_info}/licenses/data/README.md") == (ROOT / "data" / "README.md").read_bytes()  # CC BY 4.0
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    assert "License-File: LICENSE" in metadata and "License-File: data/README.md" in metadata
    assert not {n for n in names if n.startswith(("tests/", "scripts/", "data/", "app.py"))}


def test_installed_copy_runs_from_the_venv_not_the_checkout(venv_bin: Path, work: Path):
    script = (
        "import json, sys, dashboard, geo\n"
        "from dashboard.paths import demo_dir\n"
        "print(json.dumps([dashboard.__file__, geo.__file__, str(demo_dir()), sys.path]))"
    )
    dashboard_file, geo_file, demo, path = json.loads(run([venv_bin / "python", "-c", script], cwd=work, timeout=120).stdout)
    venv = venv_bin.parent.resolve()
    for located in (dashboard_file, geo_file, demo):
        assert venv in Path(located).resolve().parents, located
    assert not [p for p in path if p and (Path(p).resolve() == ROOT or ROOT in Path(p).resolve().parents)]
    assert sorted(p.name for p in Path(demo).iterdir()) == sorted(p.name for p in DEMO.iterdir() if p.is_file())


def test_installed_summary_equals_the_checkouts(venv_bin: Path, work: Path):
    installed = json.loads(run([venv_bin / "obsmap", "summary", "--json"], cwd=work, timeout=180).stdout)
    checkout = json.loads(run([sys.executable, "-m", "dashboard.cli", "summary", "--json"], cwd=ROOT, timeout=180).stdout)
    assert installed == checkout
    assert installed["regions"] == 16


def test_installed_serve_shows_the_demo(venv_bin: Path, work: Path):
    port = free_port()
    with Server([venv_bin / "obsmap", "serve", "--port", port], work, work / "serve.log") as server:
        status, _ = server.wait_until_up(f"http://127.0.0.1:{port}/")
        assert status == 200
        status, layout = get(f"http://127.0.0.1:{port}/_dash-layout")
        assert status == 200 and b"KZ-KAR" in layout


@pytest.fixture(scope="module")
def accounts_file(venv_bin: Path, work: Path) -> Path:
    """An accounts file with one admin, made by the installed `obsmap users add` (password on standard input)."""
    path = work / "server" / "accounts.sqlite"
    add = [venv_bin / "obsmap", "users", "add", "ada", "--role", "admin", "--password-stdin", "--accounts", path]
    run(add, cwd=work, timeout=180, input=PASSWORD + "\n")
    return path


def test_installed_wsgi_app_needs_accounts_and_serves_the_demo_to_a_signed_in_user(venv_bin: Path, work: Path, accounts_file: Path):
    refused = run([venv_bin / "python", "-c", "import dashboard.wsgi"], cwd=work, timeout=180, check=False)
    assert refused.returncode == 1 and "obsmap users add NAME --role admin" in refused.stderr and refused.stderr.count("\n") == 1
    script = (
        "import json, sys, flask\n"
        "from dashboard.wsgi import server\n"
        "client = server.test_client()\n"
        "anonymous = [client.get('/').status_code, client.get('/_dash-layout').status_code]\n"
        "client.get('/sign-in')\n"
        "token = client.get_cookie('_csrf_token').value\n"
        "signed = client.post('/sign-in', data={'username': 'ada', 'password': sys.stdin.readline().strip(), 'csrf_token': token})\n"
        "layout = client.get('/_dash-layout').get_data(as_text=True)\n"
        "print(json.dumps([isinstance(server, flask.Flask), anonymous, signed.status_code, 'KZ-KAR' in layout]))"
    )
    env = clean_env(OBSMAP_ACCOUNTS=str(accounts_file))
    out = run([venv_bin / "python", "-c", script], cwd=work, timeout=180, env=env, input=PASSWORD + "\n").stdout
    assert json.loads(out) == [True, [302, 401], 302, True]


def test_installed_gunicorn_serves_the_wsgi_app(venv_bin: Path, work: Path, accounts_file: Path):
    port = free_port()
    cmd = [venv_bin / "gunicorn", "dashboard.wsgi:server", "-b", f"127.0.0.1:{port}", "--workers", "1", "--graceful-timeout", "5"]
    with Server(cmd, work, work / "gunicorn.log", env=clean_env(OBSMAP_ACCOUNTS=str(accounts_file))) as server:
        status, page = server.wait_until_up(f"http://127.0.0.1:{port}/sign-in")
        assert status == 200 and b'name="csrf_token"' in page
        status, _ = get(f"http://127.0.0.1:{port}/_dash-layout")
        assert status == 401


def test_installed_import_builds_a_mission_that_serves(venv_bin: Path, work: Path):
    where = "from dashboard.paths import demo_dir; print(demo_dir())"
    demo = Path(run([venv_bin / "python", "-c", where], cwd=work, timeout=60).stdout.strip())
    out = work / "imported"
    imported = [venv_bin / "obsmap", "import", "--boundaries", demo / "regions.geojson", "--forms", demo / "forms.csv"]
    run([*imported, "--name", "Reimported demo", "--out", out], cwd=work, timeout=300)
    report = json.loads((out / "import_report.json").read_text())
    summary = json.loads(run([venv_bin / "obsmap", "summary", "--data", out, "--json"], cwd=work, timeout=180).stdout)
    assert summary["regions"] == 16 and summary["forms_total"] == report["accepted"] > 0
    add = [venv_bin / "obsmap", "users", "add", "ada", "--role", "admin", "--password-stdin", "--data", out]
    run(add, cwd=work, timeout=180, input=PASSWORD + "\n")  # the folder's own accounts, beside its store
    script = "from dashboard.wsgi import app; print(app.title)"
    title = run([venv_bin / "python", "-c", script], cwd=work, timeout=180, env=clean_env(OBSMAP_DATA=str(out), OBSMAP_MIN_N="5")).stdout
    assert "Reimported demo" in title


def test_installed_brief(venv_bin: Path, work: Path):
    """The brief is printed by a system chromium; without one, the command says what to install and exits 2."""
    out = work / "brief.pdf"
    proc = run([venv_bin / "obsmap", "brief", "--out", out], cwd=work, timeout=300, check=False)
    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert out.read_bytes().startswith(b"%PDF")
    else:
        assert proc.returncode == 2 and "chromium" in proc.stderr and "Traceback" not in proc.stderr
