"""Briefs and pictures asked for at once: one chromium per process, a line in front of it, a clear "come back" when full."""

from __future__ import annotations

import threading
import time

import psutil
import pytest
from pypdf import PdfReader

from dashboard import exports
from dashboard.app import create_app

pytestmark = [pytest.mark.export, pytest.mark.xdist_group("export"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

VIEWS = ["form=voting", "form=counting", "form=opening", "form=voting&setting=rural", "form=counting&region=KZ-KAR,KZ-PAV"]


def chromium_browsers() -> int:
    """Chromium browsers started by this process: chromium processes whose parent is not chromium (not its helpers)."""
    count = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name() and "chrom" not in psutil.Process(proc.ppid()).name():
                count += 1
        except psutil.Error:
            continue
    return count


def test_ten_briefs_at_once_are_all_answered_by_one_browser(demo, tmp_path):
    """Ten people press "Brief (PDF)" at the same moment, on five views: ten PDFs, never a second chromium."""
    app = create_app(demo)
    replies: list = [None] * 10
    go = threading.Barrier(10)

    def ask(i: int) -> None:
        client = app.server.test_client()
        go.wait()
        replies[i] = client.get(f"/export/brief.pdf?{VIEWS[i % len(VIEWS)]}")

    most, done = 0, threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, chromium_browsers())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    askers = [threading.Thread(target=ask, args=(i,)) for i in range(10)]
    try:
        for t in askers:
            t.start()
        for t in askers:
            t.join(600)
    finally:
        done.set()
        watcher.join()
    assert [r.status_code for r in replies] == [200] * 10, [r.get_data(as_text=True)[:200] for r in replies if r.status_code != 200]
    for i, reply in enumerate(replies):
        out = tmp_path / f"brief-{i}.pdf"
        out.write_bytes(reply.data)
        assert reply.data[:5] == b"%PDF-" and len(PdfReader(out).pages) >= 1
    assert replies[0].data == replies[5].data  # the same view, the same brief (made once)
    assert replies[0].data != replies[1].data
    assert most == 1, f"{most} chromium browsers at once"


def test_a_full_line_is_told_to_come_back_with_retry_after(demo, monkeypatch):
    monkeypatch.setattr(exports, "MAX_JOBS", 1)
    client = create_app(demo, cache="none").server.test_client()
    holding, release = threading.Event(), threading.Event()

    def someone_elses_brief() -> None:
        with exports._renderer.job():
            holding.set()
            release.wait(60)

    other = threading.Thread(target=someone_elses_brief)
    other.start()
    try:
        assert holding.wait(10)
        busy = client.get("/export/problems.png?form=opening")
    finally:
        release.set()
        other.join()
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 2
    assert "try again in" in busy.get_data(as_text=True)
    assert client.get("/export/problems.png?form=opening").status_code == 200
