"""obsmap and the tutorial-style Dash app, side by side in headless chromium, in one run, on the same data.

    python -m scripts.side_by_side --bench DIR [--sizes demo,250k,1m] [--changes 12] [--json FILE]

DIR holds the benchmark kit's data (``../shared/bench/make_bench_data.py``, ``--forms 1000000`` too) and, for
obsmap, those forms imported (``m250k``, ``m1m``: see README, "At national scale"); the demo size is obsmap's
demo mission against the tutorial app on its 16 regions x 2,700 forms.

Each app is measured by the kit's own harness (``../shared/bench/browser_bench.py``: start -> map drawn; a
click on a filter -> MapLibre's next "idle" after the last response of that change), one app after the other,
nothing else started by this script running meanwhile. Both are served by their own production path: the
tutorial app by Dash's server as it ships, obsmap by ``obsmap serve`` (gunicorn). obsmap asks for a sign-in:
a throwaway analyst is made in a temporary accounts file (the password goes through stdin, never a command
line) and the browser signs in before it opens the page, so obsmap's "start -> map drawn" includes one
sign-in. Clicks: the tutorial app has an urban/rural checklist, obsmap the urban/rural buttons (the same
change of the same forms), and obsmap's phase buttons as well.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT.parent / "shared" / "bench"
PYTHON = sys.executable
SIZES = {  # size: (tutorial app's arguments, obsmap's mission folder under --bench, or None for the demo)
    "demo": (["--regions", "--forms", "2700"], None),
    "250k": (["--districts", "--forms", "250000"], "m250k"),
    "1m": (["--districts", "--forms", "1000000"], "m1m"),
}


def _signed_in_driver_factory(bb, user: str, password: str):
    """browser_bench's driver, which signs in to obsmap the first time it opens the app's page."""
    plain = bb.driver_for

    def driver_for(width: int, height: int):
        driver = plain(width, height)
        get = driver.get

        def get_signed_in(url: str) -> None:
            if url.startswith("http://127.0.0.1") and not getattr(driver, "_obsmap_signed_in", False):
                from selenium.webdriver.common.by import By

                get(url.rstrip("/") + "/sign-in")
                driver.find_element(By.ID, "username").send_keys(user)
                driver.find_element(By.ID, "password").send_keys(password)
                driver.find_element(By.ID, "sign-in-button").click()
                driver._obsmap_signed_in = True
                driver.execute_script("window.__f = []; window.__idle = [];")
            get(url)

        driver.get = get_signed_in
        return driver

    return driver_for


def _run_obsmap_harness(argv: list[str]) -> None:
    """In a child process: browser_bench's main, with a driver that signs in (user and password from stdin)."""
    sys.path.insert(0, str(KIT))
    import browser_bench as bb

    user, password = sys.stdin.readline().rstrip("\n"), sys.stdin.readline().rstrip("\n")
    bb.driver_for = _signed_in_driver_factory(bb, user, password)
    sys.argv = ["browser_bench.py", *argv]
    bb.main()


def _harness(argv: list[str], stdin: str | None = None, obsmap: bool = False) -> dict:
    cmd = [PYTHON, "-m", "scripts.side_by_side", "--harness", "--", *argv] if obsmap else [PYTHON, str(KIT / "browser_bench.py"), *argv]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=1800, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _obsmap_accounts(folder: Path, data: Path | None) -> tuple[Path, str, str]:
    accounts = folder / "accounts.sqlite"
    user, password = "bench", secrets.token_urlsafe(18)
    cmd = [
        str(ROOT / ".venv" / "bin" / "obsmap"),
        "users",
        "add",
        user,
        "--role",
        "analyst",
        "--password-stdin",
        "--accounts",
        str(accounts),
    ]
    if data is not None:
        cmd += ["--data", str(data)]
    subprocess.run(cmd, input=password + "\n", text=True, check=True, capture_output=True)
    return accounts, user, password


def measure(size: str, bench: Path, changes: int) -> dict:
    tutorial_args, mission = SIZES[size]
    data = None if mission is None else bench / mission
    out = {}
    out["tutorial"] = _harness(
        ["--label", f"tutorial-{size}", "--map-id", "map", "--clicks", "peer-setting", "--changes", str(changes), "--",
         PYTHON, str(KIT / "naive_app.py"), *tutorial_args, "--data", str(bench), "--port", "{port}"]
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="obsmap-sbs-") as tmp:
        accounts, user, password = _obsmap_accounts(Path(tmp), data)
        serve = [str(ROOT / ".venv" / "bin" / "obsmap"), "serve", "--port", "{port}", "--accounts", str(accounts)]
        if data is not None:
            serve += ["--data", str(data)]
        out["obsmap"] = _harness(
            ["--label", f"obsmap-{size}", "--map-id", "region-map", "--clicks", "obsmap-setting", "--clicks", "obsmap-phase",
             "--changes", str(changes), "--", *serve],
            stdin=f"{user}\n{password}\n", obsmap=True,
        )  # fmt: skip
    return out


def _summary(size: str, res: dict) -> list[str]:
    tut, obs = res["tutorial"], res["obsmap"]
    t = tut["changes"]["peer-setting"]
    lines = []
    for key, name in (("obsmap-setting", "urban/rural"), ("obsmap-phase", "phase")):
        o = obs["changes"][key]
        tm, om = t["click_to_map_idle_s"]["median"], o["click_to_map_idle_s"]["median"]
        lines.append(
            f"{size:>5} {name:<12} tutorial {1000 * tm:7.0f} ms {t['bytes_median'] / 1024:8.1f} KB {t['requests']}"
            f" | obsmap {1000 * om:7.0f} ms {o['bytes_median'] / 1024:7.1f} KB {o['requests']} | obsmap/tutorial {om / tm:.2f}"
        )
    lines.append(f"{size:>5} start->map drawn: tutorial {tut['first_map_drawn_s']} s, obsmap {obs['first_map_drawn_s']} s (with a sign-in)")
    return lines


def main() -> None:
    if "--harness" in sys.argv:
        _run_obsmap_harness(sys.argv[sys.argv.index("--") + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="the benchmark kit's data, with the imported missions m250k and m1m")
    parser.add_argument("--sizes", default="demo,250k,1m")
    parser.add_argument("--changes", type=int, default=12)
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = {}
    for size in args.sizes.split(","):
        results[size] = measure(size, Path(args.bench), args.changes)
        for line in _summary(size, results[size]):
            print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
