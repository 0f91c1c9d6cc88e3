"""``make load``: simulated people against ``obsmap serve`` on this machine, with latency per action and the server's memory.

    python -m scripts.load [--users 100] [--runtime 2m] [--workers 4] [--threads N] [--data DIR] [--wait 2-8] [--json FILE]

Starts ``obsmap serve --workers W`` on 127.0.0.1 (a free port) for the demo mission (or ``--data``) with a temporary
accounts file: analysts and coordinators, one random password, made here and handed to the simulated people through a
file named in the environment (never on a command line). Then runs locust headless in this process
(``scripts/locustfile.py``: each person signs in once, opens the page, changes phase, regions and metric, drills into a
region and back, opens the forms table now and then, exports the CSV now and then, thinking 2-8 s between actions),
samples the server's process tree (RSS summed, and PSS: shared pages counted once) every few seconds, and prints per
action the requests, errors and p50/p95/p99 in ms, and the memory at the start, the middle and the end. Exits 1 on any
error. The server is stopped in every case (its process group; it also dies with this process).
"""

from __future__ import annotations

# locust patches the standard library for gevent when imported: before anything opens a socket.
from locust import events  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import contextlib
import ctypes
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import gevent
import psutil

ROOT = Path(__file__).resolve().parents[1]
ANALYSTS, COORDINATORS = 8, 2  # accounts the people sign in with, in turn (each sign-in is its own session)
COORDINATOR_REGIONS = ("KZ-KAR", "KZ-PAV", "KZ-AKM")
TARGET_P95_MS = 300  # the performance issue's target for a filter change


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def duration(text: str) -> float:
    """``90``, ``90s``, ``2m``, ``1h`` -> seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text}")
    return seconds


def tree_memory(pid: int) -> dict[str, int]:
    """The process ``pid`` and all its descendants: how many, RSS summed and PSS summed (MB), and the workers' PIDs."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {"processes": 0, "rss_mb": 0, "pss_mb": 0}
    rss = pss = 0
    alive = 0
    for proc in procs:
        try:
            mem = proc.memory_full_info()  # PSS: a page shared by the master and its forked workers counts once overall
        except psutil.Error:
            continue
        alive += 1
        rss += mem.rss
        pss += getattr(mem, "pss", mem.rss)
    return {"processes": alive, "rss_mb": rss >> 20, "pss_mb": pss >> 20}


# Run by the server's Python (this venv has only the load generator): the accounts, with the password from stdin.
ACCOUNTS_SCRIPT = """
import json, sys
from dashboard.accounts import Accounts
accounts = Accounts(sys.argv[1], create=True)
password = sys.stdin.readline().strip()
for name, role, regions in json.loads(sys.argv[2]):
    accounts.add(name, password, role, regions, by="make load", address="local")
"""


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants alive now."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def machine_busy() -> float:
    """CPU seconds every process of the machine has used so far (all cores; idle and I/O wait left out)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def make_accounts(folder: Path, server_python: str) -> tuple[Path, list[str], Path]:
    """A fresh accounts file of analysts and coordinators sharing one random password, kept in a 0600 file."""
    path = folder / "accounts.sqlite"
    people = [(f"load-analyst-{i + 1:02d}", "analyst", []) for i in range(ANALYSTS)]
    people += [(f"load-coord-{i + 1:02d}", "coordinator", list(COORDINATOR_REGIONS)) for i in range(COORDINATORS)]
    password = secrets.token_urlsafe(24)
    subprocess.run(
        [server_python, "-c", ACCOUNTS_SCRIPT, str(path), json.dumps(people)], input=password + "\n", text=True, cwd=ROOT, check=True
    )
    secret = folder / "password"
    fd = os.open(secret, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password)
    return path, [name for name, _, _ in people], secret


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The server gets SIGTERM if this process dies, however it dies (Linux; elsewhere the finally clause has to do)."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerProcess:
    """``obsmap serve`` in its own process group, its output in a log; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, python: str, args: list[str], log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OBSMAP_LOAD_")}
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [python, "-m", "dashboard.cli", "serve", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.stopped_in: float | None = None

    def wait_until_up(self, url: str, timeout: float = 180) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=10) as reply:
                    if reply.status == 200:
                        return time.monotonic() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            gevent.sleep(0.1)
        raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        start = time.monotonic()
        for sig, wait in ((signal.SIGTERM, 40), (signal.SIGKILL, 10)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of the group still there (a chromium of an export)
        self.stopped_in = time.monotonic() - start


def sample_memory(pid: int, every: float, samples: list[dict[str, Any]], start: float) -> None:
    while True:
        samples.append({"t": round(time.monotonic() - start, 1), **tree_memory(pid)})
        gevent.sleep(every)


def report(stats: Any, samples: list[dict[str, Any]], before: dict[str, Any], runtime: float) -> tuple[list[dict[str, Any]], dict]:
    rows = []
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        rows.append(
            {
                "action": entry.name,
                "requests": entry.num_requests,
                "errors": entry.num_failures,
                "p50_ms": entry.get_response_time_percentile(0.5),
                "p95_ms": entry.get_response_time_percentile(0.95),
                "p99_ms": entry.get_response_time_percentile(0.99),
                "max_ms": round(entry.max_response_time or 0),
            }
        )
    during = [s for s in samples if s["t"] <= runtime + 5] or samples
    middle = min(during, key=lambda s: abs(s["t"] - runtime / 2)) if during else before
    memory = {"start": before, "middle": middle, "end": during[-1] if during else before}
    memory["peak_rss_mb"] = max([s["rss_mb"] for s in during] or [0])
    memory["peak_pss_mb"] = max([s["pss_mb"] for s in during] or [0])
    return rows, memory


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``; 0 for none.

    >>> percentile([10, 20, 30, 40], 0.5), percentile([10, 20, 30, 40], 0.95), percentile([], 0.5)
    (20, 40, 0)
    """
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * q) - 1))]


def steady_state(timeline: list[tuple[float, str, float]], users: int, spawn_s: float) -> tuple[float, list[dict[str, Any]]]:
    """Per action, the requests made after everyone has arrived (signed in and opened the page): the day's normal use,
    without the arrival of all the people at once (sign-ins hash passwords; first visits download the scripts)."""
    sign_ins = sorted(t for t, name, _ in timeline if name == "sign in POST /sign-in")
    arrived = (sign_ins[users - 1] if len(sign_ins) >= users else spawn_s) + 5
    by_action: dict[str, list[float]] = {}
    for t, name, ms in timeline:
        if t >= arrived:
            by_action.setdefault(name, []).append(ms)
    rows = [
        {"action": name, "requests": len(ms), "p50_ms": percentile(ms, 0.5), "p95_ms": percentile(ms, 0.95), "p99_ms": percentile(ms, 0.99)}
        for name, ms in sorted(by_action.items())
    ]
    return arrived, rows


def print_report(rows: list[dict[str, Any]], memory: dict, total: Any, runtime: float, args: argparse.Namespace) -> None:
    width = max([len(r["action"]) for r in rows] + [10])
    print(f"\n{'action':<{width}} {'requests':>9} {'errors':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    every = {
        "action": "all",
        "requests": total.num_requests,
        "errors": total.num_failures,
        **{f"p{round(q * 100)}_ms": total.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99)},
        "max_ms": round(total.max_response_time or 0),
    }
    for r in [*rows, every]:
        times = f"{r['p50_ms']:>7.0f} {r['p95_ms']:>7.0f} {r['p99_ms']:>7.0f} {r['max_ms']:>7}"
        print(f"{r['action']:<{width}} {r['requests']:>9} {r['errors']:>7} {times}")
    print(f"{total.num_requests / runtime:.1f} requests/s over {runtime:.0f} s")
    print("\nserver memory (the whole process tree: RSS summed; PSS counts a page shared by forked workers once)")
    for when in ("start", "middle", "end"):
        m = memory[when]
        at = f" at {m['t']:.0f} s" if "t" in m else " (before the load)"
        print(f"  {when:<6} RSS {m['rss_mb']:>6} MB   PSS {m['pss_mb']:>6} MB   {m['processes']} processes{at}")
    print(f"  peak   RSS {memory['peak_rss_mb']:>6} MB   PSS {memory['peak_pss_mb']:>6} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("USERS") or 100), help="simulated people (default 100)")
    parser.add_argument("--runtime", type=duration, default=duration(os.environ.get("RUNTIME") or "2m"), help="how long (default 2m)")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="people arriving per second (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="obsmap serve --workers (default 4)")
    parser.add_argument("--threads", type=int, help="obsmap serve --threads (default: serve's)")
    parser.add_argument("--data", help="mission folder (default: the demo mission)")
    parser.add_argument("--wait", default="2-8", help="seconds a person thinks between actions, LOW-HIGH (default 2-8)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between memory samples (default 5)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--server-python", default=str(ROOT / ".venv" / "bin" / "python"), help="the Python obsmap is installed in")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="obsmap-load-") as tmp:
        work = Path(tmp)
        accounts, names, secret = make_accounts(work, args.server_python)
        os.environ["OBSMAP_LOAD_ACCOUNTS"] = ",".join(names)
        os.environ["OBSMAP_LOAD_PASSWORD_FILE"] = str(secret)
        os.environ["OBSMAP_LOAD_WAIT"] = args.wait
        from scripts.locustfile import Person  # reads the wait time from the environment

        port = free_port()
        serve = ["--port", str(port), "--workers", str(args.workers), "--accounts", str(accounts)]
        serve += ["--threads", str(args.threads)] if args.threads else []
        serve += ["--data", args.data] if args.data else []
        print(f"obsmap serve {' '.join(serve)}  ({args.users} people for {args.runtime:.0f} s, thinking {args.wait} s)", flush=True)
        server = ServerProcess(args.server_python, serve, work / "server.log")
        failed = True
        try:
            up = server.wait_until_up(f"http://127.0.0.1:{port}/sign-in")
            deadline = time.monotonic() + 60
            while len(psutil.Process(server.proc.pid).children()) < args.workers and time.monotonic() < deadline:
                gevent.sleep(0.2)
            gevent.sleep(2)
            before = tree_memory(server.proc.pid)
            processes, rss, pss = before["processes"], before["rss_mb"], before["pss_mb"]
            print(f"server answering {up:.1f} s after the start; {processes} processes, RSS {rss} MB, PSS {pss} MB")

            env = Environment(user_classes=[Person], host=f"http://127.0.0.1:{port}", events=events)
            runner = env.create_local_runner()
            timeline: list[tuple[float, str, float]] = []  # (seconds since the start, action, ms) of every request
            env.events.request.add_listener(
                lambda name, response_time, **_: timeline.append((time.monotonic() - started, name, response_time))
            )
            samples: list[dict[str, Any]] = []
            started = time.monotonic()
            sampler = gevent.spawn(sample_memory, server.proc.pid, args.sample_every, samples, started)
            cpu_before = psutil.Process().cpu_times()
            server_cpu_before = tree_cpu(server.proc.pid)
            machine_before = machine_busy()
            runner.start(args.users, spawn_rate=args.spawn_rate)
            gevent.spawn_later(args.runtime, runner.quit)
            runner.greenlet.join()
            runtime = time.monotonic() - started
            sampler.kill()
            samples.append({"t": round(runtime, 1), **tree_memory(server.proc.pid)})
            cpu = psutil.Process().cpu_times()
            server_cpu = tree_cpu(server.proc.pid) - server_cpu_before
            others = machine_busy() - machine_before - server_cpu - ((cpu.user - cpu_before.user) + (cpu.system - cpu_before.system))
            load_cpu = (cpu.user - cpu_before.user) + (cpu.system - cpu_before.system)

            rows, memory = report(env.stats, samples, before, runtime)
            print_report(rows, memory, env.stats.total, runtime, args)
            arrived, steady = steady_state(timeline, args.users, args.users / args.spawn_rate)
            width = max([len(r["action"]) for r in steady] + [10])
            print(f"\nafter everyone has arrived (from {arrived:.0f} s to the end): requests and ms")
            print(f"{'action':<{width}} {'requests':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
            for r in steady:
                print(f"{r['action']:<{width}} {r['requests']:>9} {r['p50_ms']:>7.0f} {r['p95_ms']:>7.0f} {r['p99_ms']:>7.0f}")
            cores = psutil.cpu_count()
            print(f"\nCPU: the server used {server_cpu:.0f} s ({server_cpu / runtime:.2f} of the machine's {cores} cores on average),")
            print(f"     the load generator (this process) {load_cpu:.0f} s ({load_cpu / runtime:.2f} cores)")
            others = max(others, 0.0)
            print(f"     everything else on the machine {others:.0f} s ({others / runtime:.2f} cores; more than ~0.1 disturbs the figures)")
            errors = [f"{e.occurrences} x {e.method} {e.name}: {e.error}" for e in env.stats.errors.values()]
            errors += [f"{e['count']} x exception: {e['msg']}" for e in runner.exceptions.values()]
            died = server.proc.poll() is not None
            if died:
                errors.append(f"the server exited {server.proc.returncode} during the run:\n{server.tail()}")
            for label, table in (("the whole run", rows), ("after everyone arrived", steady)):
                phase = next((r for r in table if r["action"] == "filter: phase"), None)
                if phase:
                    verdict = "within" if phase["p95_ms"] <= TARGET_P95_MS else "ABOVE"
                    print(f"filter change (phase), {label}: p95 {phase['p95_ms']:.0f} ms, {verdict} the {TARGET_P95_MS} ms target")
            for line in errors:
                print(f"ERROR {line}", file=sys.stderr)
            failed = bool(errors)
            if args.json:
                result = {
                    "command": f"obsmap serve {' '.join(serve)}",
                    "users": args.users,
                    "runtime_s": round(runtime),
                    "wait_s": args.wait,
                    "first_answer_s": round(up, 2),
                    "actions": rows,
                    "steady_from_s": round(arrived),
                    "steady_actions": steady,
                    "memory": memory,
                    "samples": samples,
                    "errors": errors,
                    "load_generator_cpu_s": round(load_cpu),
                    "server_cpu_s": round(server_cpu),
                    "other_cpu_s": round(others),
                    "timeline": [(round(t, 3), name, round(ms, 1)) for t, name, ms in timeline],
                }
                Path(args.json).write_text(json.dumps(result, indent=2))
        finally:
            server.stop()
            print(f"server stopped in {server.stopped_in:.1f} s (exit code {server.proc.returncode})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
