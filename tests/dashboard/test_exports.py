"""Pictures and briefs of a view: offline, right size, caption and N inside, one page, nothing personal."""

import struct
import subprocess
import sys

import pandas as pd
import pytest
from pypdf import PdfReader

from dashboard.app import create_app
from tests.conftest import DEMO, ROOT, build_tiny

pytestmark = [pytest.mark.export, pytest.mark.xdist_group("export"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


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


def test_brief_pdf_is_one_page_with_the_headline_figures(tmp_path):
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
    assert len(reader.pages) == 1  # one page, as the README promises
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


def test_brief_has_nothing_about_observers(tmp_path):
    """Team ids and comments (which may name people) stay out of the brief; only the figures go in."""
    import re

    from dashboard.exports import brief_html
    from dashboard.filters import Filters

    comment = "Observer Ivan Petrov, call +7 701 555 0101"
    rows = [
        {"form_type": "voting", "region_code": "AA", "overall": "bad", "team_id": "TEAM-ZULU", "comments": comment},
        {"form_type": "voting", "region_code": "BB", "overall": "good", "team_id": "TEAM-ZULU"},
    ]
    html = brief_html(build_tiny(tmp_path, rows), Filters("voting"))
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # the pictures are checked by their own tests
    assert "Voting was assessed as bad or very bad in 50 per cent of 2 polling station visits." in text
    assert "TEAM-ZULU" not in text and "Petrov" not in text and "555" not in text


def test_images_and_briefs_are_made_with_no_network_at_all(tmp_path):
    """Render a map PNG and a PDF brief inside a network namespace with no interface up (root only)."""
    import shutil

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here (needs root); CI runs as root")
    script = (
        "from dashboard.exports import brief, figure_for, render\n"
        "from dashboard.filters import Filters\n"
        "from geo.mission import load_mission\n"
        "m = load_mission('data/demo')\n"
        "png = render(figure_for(m, Filters('counting'), 'map'), 'png')\n"
        "pdf = brief(m, Filters('voting'), 'pdf')\n"
        "print(len(png), png[:4] == b'\\x89PNG', pdf[:5] == b'%PDF-')\n"
    )
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    size, is_png, is_pdf = proc.stdout.split()
    assert int(size) > 20_000 and is_png == "True" and is_pdf == "True"


def test_brief_of_a_mission_with_many_regions_stays_on_one_page(tmp_path):
    """60 regions: the table keeps the regions with enough forms, names the others, and the brief fits."""
    import random

    import geopandas as gpd
    from shapely.geometry import box

    from dashboard.exports import brief
    from dashboard.filters import Filters
    from geo.mission import build_mission
    from tests.conftest import form_rows

    cells = [(i % 10, i // 10) for i in range(60)]
    regions = gpd.GeoDataFrame(
        {"code": [f"R{i:02d}" for i in range(60)], "name": [f"Region number {i}" for i in range(60)]},
        geometry=[box(x, y, x + 1, y + 1) for x, y in cells],
        crs=4326,
    )
    rnd = random.Random(7)
    rows = []
    for i, (x, y) in enumerate(cells):
        for _ in range(rnd.choice([2, 5, 12, 30])):
            overall = rnd.choice(["good", "good", "very good", "bad", "very bad"])
            rows.append({"form_type": "counting", "latitude": y + 0.5, "longitude": x + 0.5, "overall": overall, "ps_id": f"P{i}"})
    mission = build_mission(tmp_path / "m", regions, form_rows(rows), {"name": "Sixty regions"})
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(brief(mission, Filters("counting"), "pdf"))
    reader = PdfReader(pdf)
    assert len(reader.pages) == 1
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    few = sum(1 for i in range(60) if sum(r["ps_id"] == f"P{i}" for r in rows) < 10)
    assert f"Fewer than 10 assessed forms ({few} regions, not listed)" in text
