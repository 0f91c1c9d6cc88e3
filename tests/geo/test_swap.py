"""Crash-safe swap of a mission folder: a run killed at any step leaves a readable mission, the next cleans up.

A "kill" is simulated by standing in for ``os`` and ``shutil`` inside geo.mission: the k-th change to
the file system (mkdir, rename, replace, symlink, unlink, rmdir, rmtree) and every one after it never
happen, and raise an exception no handler in obsmap catches, so no clean-up code runs, as with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import geo.mission as gm
from geo.errors import InputError
from geo.mission import SWAP_MARKER, build_mission, load_mission
from tests.conftest import form_rows, two_regions

MUTATIONS = ("mkdir", "rename", "replace", "symlink", "unlink", "rmdir")


class Killed(BaseException):
    """The process died here (a BaseException: ``except Exception`` handlers do not see it)."""


class _Proxy:
    def __init__(self, real, **overrides):
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._real, name)


class Kill:
    """Kill the build at its ``k``-th file-system change (1-based); ``check`` runs before every change."""

    def __init__(self, k: int, check=None):
        self.k, self.calls, self.killed, self.check = k, 0, False, check

    def step(self, fn):
        def change(*args, **kwargs):
            if self.killed:
                raise Killed
            if self.check:
                self.check()
            self.calls += 1
            if self.calls == self.k:
                self.killed = True
                raise Killed
            return fn(*args, **kwargs)

        return change

    def install(self, monkeypatch):
        monkeypatch.setattr(gm, "os", _Proxy(os, **{name: self.step(getattr(os, name)) for name in MUTATIONS}))
        monkeypatch.setattr(gm, "shutil", _Proxy(shutil, rmtree=self.step(shutil.rmtree)))


def build(out: Path, name: str, symlink: bool, **kwargs):
    rows = form_rows([{"form_type": "voting", "region_code": "AA", "overall": "good"}])
    return build_mission(out, two_regions(), rows, {"name": name}, symlink=symlink, **kwargs)


def name_at(out: Path) -> str:
    return load_mission(out).meta["name"]


def leftovers(out: Path) -> list[str]:
    """Entries beside ``out`` other than ``out`` itself and the folder its symlink points to."""
    keep = {out.name, os.readlink(out) if out.is_symlink() else None}
    return sorted(p.name for p in out.parent.iterdir() if p.name not in keep)


def killed_runs(monkeypatch, setup, run, check=None):
    """``setup()`` then ``run()`` killed at step 1, 2, ... until it completes; yields after each run, killed or not."""
    k = 1
    while True:
        setup()
        kill = Kill(k, check)
        with monkeypatch.context() as m:
            kill.install(m)
            try:
                run()
                completed = True
            except Killed:
                completed = False
        yield k, completed
        if completed:
            return
        k += 1


# ------------------------------------------------------------------------------------ the schemes


@pytest.mark.slow
def test_import_swap_killed_at_every_step_always_leaves_a_mission(tmp_path, monkeypatch):
    """Symlink scheme: at every step of the swap, out_dir is the old mission or the new one, never missing."""
    out = tmp_path / "mission"
    steps = 0
    setup = lambda: build(out, "old", True)  # noqa: E731
    for k, completed in killed_runs(monkeypatch, setup, lambda: build(out, "new", True), check=lambda: name_at(out)):
        assert name_at(out) in ({"new"} if completed else {"old", "new"})
        build(out, "next", True)  # the next run succeeds and leaves nothing behind
        assert out.is_symlink() and name_at(out) == "next"
        assert leftovers(out) == []
        steps = k
    assert steps > 4  # mkdir, symlink, replace and the removal of the old version's files at least


@pytest.mark.slow
def test_killed_runs_from_a_fresh_start_and_from_a_real_folder_recover(tmp_path, monkeypatch):
    """First import (no folder yet), and first import over a real mission folder (moved aside, then linked)."""
    for start in ("none", "real"):
        out = tmp_path / start / "mission"
        out.parent.mkdir()

        def reset(out=out, start=start):
            if out.is_symlink():
                out.unlink()
            shutil.rmtree(out, ignore_errors=True)
            for p in out.parent.iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            if start == "real":
                build(out, "old", False)
                assert out.is_dir() and not out.is_symlink()

        for _k, completed in killed_runs(monkeypatch, reset, lambda out=out: build(out, "new", True)):
            if completed:
                assert name_at(out) == "new"
            elif os.path.lexists(out):
                assert name_at(out) in ({"old", "new"} if start == "real" else {"new"})
            elif start == "real":
                # Killed between moving the real folder aside and linking the new one: the next run, even one
                # that fails, puts the old folder back before anything else.
                with pytest.raises(KeyError):
                    build(out, "failing", True, stations=pd.DataFrame({"ps_id": ["1"]}))
                assert name_at(out) == "old" and not out.is_symlink()
            # (from a fresh start, a run killed before the link exists leaves no mission, as before it ran)
            build(out, "next", True)
            assert out.is_symlink() and name_at(out) == "next" and leftovers(out) == []


@pytest.mark.slow
def test_demo_style_real_folder_swap_killed_at_every_step_is_recovered(tmp_path, monkeypatch):
    """Real-folder scheme (the demo, kept as a real folder in git): a kill may leave no folder; the next run restores it."""
    out = tmp_path / "demo"
    build(out, "old", False)
    files = sorted(p.name for p in out.iterdir())
    setup = lambda: build(out, "old", False)  # noqa: E731
    for _k, completed in killed_runs(monkeypatch, setup, lambda: build(out, "new", False)):
        if completed:
            assert name_at(out) == "new"
        elif os.path.lexists(out):
            assert name_at(out) in {"old", "new"}
        build(out, "next", False)
        assert name_at(out) == "next" and not out.is_symlink()
        assert sorted(p.name for p in out.iterdir()) == files  # no marker left in the folder
        assert leftovers(out) == []


def test_import_makes_a_symlink_and_the_mission_keeps_the_users_path(tmp_path):
    out = tmp_path / "m"
    first = build(out, "one", True)
    assert out.is_symlink() and first.path == out
    target = tmp_path / os.readlink(out)
    assert not Path(os.readlink(out)).is_absolute()  # relative: the parent folder can be moved
    second = build(out, "two", True)
    assert second.path == out and load_mission(out).meta["name"] == "two"
    assert not target.exists() and leftovers(out) == []
    # The demo builder on a folder an import made stays a symlink swap (never renames the link away).
    build(out, "three", False)
    assert out.is_symlink() and name_at(out) == "three" and leftovers(out) == []


# ------------------------------------------------------------------------ what is never touched


@pytest.mark.parametrize("symlink", [True, False])
def test_a_folder_that_is_not_a_mission_is_refused_and_left_untouched(tmp_path, symlink):
    out = tmp_path / "thesis"
    (out / "chapters").mkdir(parents=True)
    (out / "notes.txt").write_text("do not delete", encoding="utf-8")
    (out / "chapters" / "one.md").write_text("# One", encoding="utf-8")
    before = sorted((str(p.relative_to(out)), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    with pytest.raises(InputError, match=r"thesis: is not a mission folder \(it has no mission.json\)"):
        build(out, "x", symlink)
    assert sorted((str(p.relative_to(out)), p.read_bytes() if p.is_file() else None) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]
    file = tmp_path / "file"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="file: is a file, not a mission folder"):
        build(file, "x", symlink)
    assert file.read_text(encoding="utf-8") == "x"


def test_cli_import_into_a_folder_that_is_not_a_mission_is_refused(tmp_path):
    from tests.geo.test_import import run_cli, squares, write_csv

    regions = tmp_path / "adm1.geojson"
    squares().to_file(regions, driver="GeoJSON")
    forms = write_csv(tmp_path / "f.csv", "form_id,form_type,region_code\n1,voting,AA\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.odt").write_bytes(b"years of work")
    proc = run_cli("import", "--boundaries", str(regions), "--forms", str(forms), "--out", str(home))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("obsmap:")]
    assert errors == [
        f"obsmap: {home}: is not a mission folder (it has no mission.json) and is not empty; obsmap replaces only "
        "mission folders, so choose a new or empty folder for the mission."
    ]
    assert [(p.name, p.read_bytes()) for p in home.iterdir()] == [("thesis.odt", b"years of work")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adm1.geojson", "f.csv", "home"]


def test_an_empty_folder_is_used(tmp_path):
    out = tmp_path / "new"
    out.mkdir()
    build(out, "one", True)
    assert name_at(out) == "one" and leftovers(out) == []


def test_only_our_abandoned_leftovers_are_removed(tmp_path):
    out = tmp_path / "m"
    build(out, "one", True)
    live_pid = os.getppid()  # a process that is alive: its work beside out_dir may be in progress
    busy = tmp_path / f".m-v-{live_pid}-{'a' * 12}"
    busy.mkdir()
    (busy / SWAP_MARKER).write_text("{}", encoding="utf-8")
    (busy / "forms.csv").write_text("half written", encoding="utf-8")
    unmarked = tmp_path / f".m-v-{os.getpid()}-{'b' * 12}"  # our name, but no marker: not provably ours
    unmarked.mkdir()
    (unmarked / "keep.txt").write_text("x", encoding="utf-8")
    other = tmp_path / ".m-backup"
    other.mkdir()
    (other / SWAP_MARKER).write_text("{}", encoding="utf-8")  # a marker, but not our name
    abandoned = tmp_path / f".m-v-{os.getpid()}-{'c' * 12}"
    abandoned.mkdir()
    (abandoned / SWAP_MARKER).write_text("", encoding="utf-8")  # cut short by a kill: still ours
    (abandoned / "forms.csv").write_text("x", encoding="utf-8")
    empty = tmp_path / f".m-v-{os.getpid()}-{'d' * 12}"  # killed before its marker was written
    empty.mkdir()
    build(out, "two", True)
    assert leftovers(out) == sorted([busy.name, unmarked.name, other.name])
