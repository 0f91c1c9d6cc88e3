"""Pictures and briefs of a view: offline, right size, caption and N inside, one page, nothing personal."""

import struct
import subprocess
import sys

import pandas as pd
import pytest
from pypdf import PdfReader

from dashboard.app import create_app
from tests.conftest import DEMO, ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # kaleido's choreographer on Python 3.11


@pytest.fixture(scope="module")
def client(demo):
    return create_app(demo).server.test_client()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_map_png_is_1600_by_900_with_its_view(client):
    response = client.get("/export/map.png?form=counting&region=KZ-YUZ,KZ-ZHA")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert png_size(response.data) == (1600, 900)
    assert "obsmap-map-counting-KZ-YUZ-KZ-ZHA.png" in response.headers["Content-Disposition"]


def test_chart_svg_carries_its_caption_and_n(client):
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    voting = raw[raw.form_type == "voting"]
    response = client.get("/export/problems.svg?form=voting")
    svg = response.get_data(as_text=True)
    assert response.status_code == 200 and svg.lstrip().startswith("<svg")
    assert f"N = {len(voting):,} forms" in svg and "SYNTHETIC DEMO FORMS" in svg and "data as of 2005-12-05 06:00" in svg


def test_unknown_export_is_a_clear_404(client):
    response = client.get("/export/secrets.png")
    assert response.status_code == 404 and b"expected map, problems or timeline" in response.data


def test_image_renderer_fetches_nothing_from_the_network():
    from kaleido import PageGenerator

    page = PageGenerator(mathjax=False).generate_index()  # what dashboard.exports.render asks kaleido for
    assert "http://" not in page and "https://" not in page


def _sentence(phase_subject: str, observed: str, frame: pd.DataFrame) -> str:
    assessed = frame[frame.overall.notna()]
    k, n = int(assessed.overall.isin(["bad", "very bad"]).sum()), len(assessed)
    pct = (200 * k + n) // (2 * n)
    return f"{phase_subject} was assessed as bad or very bad in {pct} per cent of {n:,} {observed}."


def test_brief_pdf_is_one_or_two_pages_with_the_headline_figures(tmp_path):
    out = tmp_path / "brief.pdf"
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "brief", "--form", "counting", "--setting", "urban", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    reader = PdfReader(out)
    assert 1 <= len(reader.pages) <= 2
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert {round(width), round(height)} == {842, 595}  # A4
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    urban = raw[raw.urban_rural == "urban"]
    for phase, subject, observed in [
        ("opening", "The opening", "openings observed"),
        ("voting", "Voting", "polling station visits"),
        ("counting", "The count", "counts observed"),
    ]:
        frame = urban[urban.form_type == phase]
        assert _sentence(subject, observed, frame) in text, phase
        assert f"N = {frame.overall.notna().sum():,} assessed of {len(frame):,} forms" in text
    assert "not a random sample" in text and "2005-12-05 06:00" in text and "synthetic" in text


def test_brief_html_has_nothing_personal(client):
    html = client.get("/export/brief.html?form=voting").get_data(as_text=True)
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    assert "The count was assessed" in html
    assert not any(team in html for team in raw.team_id.unique()[:50])
    assert not any(comment in html for comment in raw.comments.dropna().unique())
