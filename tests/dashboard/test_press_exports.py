"""What a press officer takes away: pictures titled with the election, the organisation and the phase; the map's SVG
as vectors with every region named; a timeline whose share axis does not exaggerate and whose line skips thin hours;
a brief with no on-screen instruction, its regions in one table ranked by share; file names that name the view.

Every expectation is computed here from the demo's own files (mission.json, regions.geojson, forms.csv)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from html.parser import HTMLParser

import pandas as pd
import pytest

from dashboard import exports
from dashboard.filters import SPEC, Filters, with_drill
from dashboard.selection import select
from dashboard.views import timeline
from tests.conftest import DEMO, ROOT

META = json.loads((DEMO / "mission.json").read_text(encoding="utf-8"))
GEOJSON = json.loads((DEMO / "regions.geojson").read_text(encoding="utf-8"))
NAMES = {f["id"]: f["properties"]["name"] for f in GEOJSON["features"]}
PHASES = {"opening": "Opening", "voting": "Voting", "counting": "Counting", "tabulation": "Tabulation"}
NEGATIVE = ("bad", "very bad")
# A sentence telling the reader to do something on a screen.
INSTRUCTION = re.compile(r"\b(click|clear (?:it|them|the)|press|tap|hover|drag|scroll|select (?:a|the|it|them))\b", re.IGNORECASE)
export = [pytest.mark.export, pytest.mark.xdist_group("export"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(DEMO / "forms.csv", dtype=str)
    df["hour"] = ((pd.to_datetime(df.observed_at) - pd.Timestamp(META["election_date"])) // pd.Timedelta(hours=1)).astype(int)
    return df


def svg_text(svg: bytes) -> str:
    return " ".join(" ".join(ET.fromstring(svg).itertext()).split())


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# ------------------------------------------------------------------------------------------ titles
@pytest.mark.parametrize("which", exports.FIGURES)
@pytest.mark.parametrize("phase", ["voting", "counting"])
def test_every_picture_s_title_names_the_election_the_organisation_and_the_phase(demo, which, phase):
    title = exports.figure_for(demo, Filters(phase), which).layout.title
    words = " ".join(re.sub(r"<[^>]+>", " ", f"{title.text} {title.subtitle.text}").split())
    assert META["name"] in words and META["mission"] in words
    assert title.text.startswith(PHASES[phase]) or title.text.startswith(f"Problems reported in {phase}")


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_map_fills_its_frame(demo, fmt):
    """The country, fitted to the frame left by the title and the colour bar, spans at least 90 % of that frame's
    width or height (its margins are 3 % a side), as its bounds projected in web Mercator say."""
    fig = exports.figure_for(demo, Filters("voting"), "map")
    lay = fig.layout
    domain = lay.map.domain.x
    width = (lay.width - lay.margin.l - lay.margin.r) * (domain[1] - domain[0])
    height = lay.height - lay.margin.t - lay.margin.b
    west, south, east, north = demo.bounds["*"]

    def merc(lat):
        return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))

    per_px = 360 / (512 * 2**lay.map.zoom)
    span_w, span_h = (east - west) / per_px, (merc(north) - merc(south)) / per_px
    assert span_w <= width and span_h <= height  # all of it is in the frame
    assert span_w >= 0.9 * width or span_h >= 0.9 * height, (span_w, width, span_h, height)
    if fmt == "svg":  # the vector map shows the same longitudes as the picture
        lon, _ = exports._view_box(lay.map.center.to_plotly_json(), lay.map.zoom, width, height)
        assert lon[0] <= west and lon[1] >= east


@pytest.mark.parametrize("which", ["map", "timeline"])
@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_drawn_pictures_carry_the_title(demo, which, fmt):
    fig = exports.figure_for(demo, Filters("voting"), which)
    drawn = exports.render(fig, fmt)
    if fmt == "png":
        assert drawn[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(drawn[16:20], "big") == 1600
        return
    texts = {el.get("class"): " ".join(" ".join(el.itertext()).split()) for el in ET.fromstring(drawn).iter() if local(el.tag) == "text"}
    assert texts["gtitle"].startswith("Voting")
    assert META["name"] in texts["gtitle-subtitle"] and META["mission"] in texts["gtitle-subtitle"]


# ------------------------------------------------------------------------------------- vector map
@pytest.fixture(scope="module")
def map_svg(demo) -> bytes:
    return exports.render(exports.figure_for(demo, Filters("voting"), "map"), "svg")


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_map_svg_is_vectors_with_every_region_named(map_svg):
    root = ET.fromstring(map_svg)
    assert not [el for el in root.iter() if local(el.tag) == "image"]  # no raster of the map, nor of anything else
    regions = [el for el in root.iter() if local(el.tag) == "path" and "choroplethlocation" in el.get("class", "")]
    assert len(regions) == len(GEOJSON["features"])
    assert all(len(re.findall(r"[ML]", el.get("d", ""))) >= 3 for el in regions)  # outlines, not boxes
    labels = [
        " ".join(" ".join(text.itertext()).split())
        for g in root.iter()
        if local(g.tag) == "g" and "scattergeo" in g.get("class", "")
        for text in g.iter()
        if local(text.tag) == "text"
    ]
    # Every region's name once (a city region's beside its dot), and the notes on places that are not regions (Baikonur)
    notes = [n["name"] for n in json.loads((DEMO / "mission.json").read_text(encoding="utf-8")).get("map_notes", [])]
    assert notes == ["Baikonur"]
    assert sorted(labels) == sorted([*NAMES.values(), *notes])


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_drilled_map_svg_draws_its_stations_as_vectors(demo, raw):
    svg = exports.render(exports.figure_for(demo, with_drill(Filters("voting"), "KZ-KAR"), "map"), "svg")
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if local(el.tag) == "image"]
    points = [el for el in root.iter() if local(el.tag) == "path" and "point" in el.get("class", "").split()]
    observed = raw[(raw.form_type == "voting") & (raw.region_code == "KZ-KAR")].ps_id.nunique()
    assert len(points) >= observed  # every observed station (and the registry's others) is a vector marker
    assert "Karaganda" in svg_text(svg)


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_plotly_geo_would_fetch_a_world_map_without_the_empty_topology(demo):
    """Why EMPTY_TOPOJSON: plotly.js asks cdn.plot.ly for a topojson for any GeoJSON choropleth; offline that fails."""
    fig = exports.vector_map(exports.figure_for(demo, Filters("voting"), "map"))
    renderer = exports.Renderer()
    opts = {"format": "svg", "width": 1600, "height": 900}
    try:
        with pytest.raises(exports.ExportUnavailable) as failed:
            renderer._step(lambda browser: browser.calc_fig(fig, opts=opts), "draw the picture")
        assert "cdn.plot.ly" in repr(failed.value.__cause__)
        assert renderer.render(fig, opts).lstrip().startswith(b"<svg")  # with it: drawn, nothing fetched
    finally:
        renderer.stop()


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_vector_map_is_drawn_with_no_network_at_all():
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here (needs root); CI runs as root")
    script = (
        "from dashboard.exports import figure_for, render\n"
        "from dashboard.filters import Filters\n"
        "from geo.mission import load_mission\n"
        "svg = render(figure_for(load_mission('data/demo'), Filters('counting'), 'map'), 'svg')\n"
        "print(svg.count(b'choroplethlocation'), svg.count(b'<image'))\n"
    )
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [str(len(GEOJSON["features"])), "0"]


# ---------------------------------------------------------------------------------------- timeline
def _hours(raw: pd.DataFrame, phase: str, region: str | None = None) -> pd.DataFrame:
    forms = raw[raw.form_type == phase]
    if region:
        forms = forms[forms.region_code == region]
    by_hour = forms.assign(assessed=forms.overall.notna(), negative=forms.overall.isin(NEGATIVE)).groupby("hour")
    return by_hour[["assessed", "negative"]].sum()


@pytest.mark.parametrize(("phase", "region"), [("voting", None), ("voting", "KZ-KAR"), ("counting", "KZ-YUZ"), ("opening", "KZ-MAN")])
def test_the_timeline_s_share_axis_starts_at_0_and_does_not_exaggerate(demo, raw, phase, region):
    filters = with_drill(Filters(phase), region) if region else Filters(phase)
    fig = timeline(select(demo, filters), filters)
    hours = _hours(raw, phase, region)
    shares = [100 * r.negative / r.assessed for r in hours.itertuples() if r.assessed]
    low, top = fig.layout.yaxis2.range
    assert low == 0
    assert top >= max(25, 1.5 * max(shares)) and top <= 100  # at least 25 %, and half as much again as the highest share
    assert top < max(25, 1.5 * max(shares)) + 10  # the next step of 10, not more


@pytest.mark.parametrize(("phase", "region"), [("voting", "KZ-KAR"), ("counting", "KZ-YUZ"), ("opening", "KZ-MAN")])
def test_thin_hours_are_points_off_the_line(demo, raw, phase, region):
    filters = with_drill(Filters(phase), region)
    fig = timeline(select(demo, filters), filters)
    line = next(t for t in fig.data if t.name == "% bad or very bad")
    points = next(t for t in fig.data if t.name.startswith("% bad or very bad, fewer than"))
    assert line.connectgaps is False and "lines" in line.mode and points.mode == "markers"
    by_label = {x: (y, p) for x, y, p in zip(line.x, line.y, points.y, strict=True)}
    hours = _hours(raw, phase, region)
    thin = 0
    for hour, r in hours.iterrows():
        y, p = by_label[f"{hour % 24:02d}:00" + (" +1" if hour >= 24 else "")]
        share = 100 * r.negative / r.assessed if r.assessed else None
        if 0 < r.assessed < filters.min_n:
            thin += 1
            assert y is None and p == pytest.approx(share), hour  # a point of its own, the line broken there
        elif r.assessed:
            assert y == pytest.approx(share) and p is None, hour
    assert thin, "the view should have a thin hour"


# ------------------------------------------------------------------------------------------- brief
class Rows(HTMLParser):
    """The cells of the brief's region table, row by row, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._table = self._cell = False
        self.tables = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
            self._table = True
        elif tag == "tr" and self._table:
            self.rows.append([])
        elif tag in ("td", "th") and self._table:
            self.rows[-1].append("")
            self._cell = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = False
        elif tag in ("td", "th"):
            self._cell = False

    def handle_data(self, data):
        self.text.append(data)
        if self._cell:
            self.rows[-1][-1] += data


def _brief(mission, filters, monkeypatch) -> Rows:
    monkeypatch.setattr(exports, "render", lambda fig, fmt: b"\x89PNG-not-drawn-here")
    page = Rows()
    page.feed(exports.brief_html(mission, filters))
    page.close()
    return page


def _ranked(page: Rows) -> list[str]:
    """The regions in the table, by their rank (each row holds up to two regions, left and right blocks)."""
    ranked = {}
    for row in page.rows[1:]:
        cells = [c for c in row]
        for block in (cells[:7], cells[8:15]):
            if block and block[0].strip():
                ranked[int(block[0])] = block[1]
    assert sorted(ranked) == list(range(1, len(ranked) + 1))
    return [ranked[i] for i in sorted(ranked)]


@pytest.mark.parametrize(("phase", "min_n"), [("voting", 10), ("counting", 10), ("voting", 120), ("opening", 15)])
def test_the_brief_ranks_regions_by_share_then_name_in_one_table(demo, raw, monkeypatch, phase, min_n):
    page = _brief(demo, Filters(phase, min_n=min_n), monkeypatch)
    assert page.tables == 1
    forms = raw[raw.form_type == phase]
    per = forms.assign(assessed=forms.overall.notna(), negative=forms.overall.isin(NEGATIVE)).groupby("region_code")
    tally = per[["assessed", "negative"]].sum().reindex(list(NAMES), fill_value=0)
    enough = [(code, r) for code, r in tally.iterrows() if r.assessed >= min_n]
    want = [NAMES[c] for c, r in sorted(enough, key=lambda cr: (-Fraction(int(cr[1].negative), int(cr[1].assessed)), NAMES[cr[0]]))]
    assert _ranked(page) == want
    few = sorted(NAMES[c] for c, r in tally.iterrows() if r.assessed < min_n)
    text = " ".join(" ".join(page.text).split())
    if few:
        listed = re.search(r"\(\d+ regions?, not listed\): (.*?)\.", text)[1]
        assert listed.split(", ") == few  # after the table, by name
    widths = {len(row) for row in page.rows}
    assert len(widths) == 1  # one grid: every row has the same cells, so the columns line up


@pytest.mark.parametrize(
    "filters", [Filters("voting", setting="urban"), Filters("counting", evoting="yes"), Filters("tabulation", setting="rural")]
)
def test_the_brief_html_holds_no_instruction(demo, monkeypatch, filters):
    text = " ".join(" ".join(_brief(demo, filters, monkeypatch).text).split())
    assert "Tabulation" in text and "territorial commissions" in text
    assert not INSTRUCTION.search(text), INSTRUCTION.search(text)


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_printed_brief_holds_no_instruction_and_stays_on_one_page(demo, tmp_path):
    from pypdf import PdfReader

    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(exports.brief(demo, Filters("voting", setting="urban"), "pdf"))
    reader = PdfReader(pdf)
    assert len(reader.pages) == 1
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "do not apply to territorial commissions" in text and META["name"] in text
    assert not INSTRUCTION.search(text), INSTRUCTION.search(text)


# -------------------------------------------------------------------------------------- file names
EVERY_FILTER = Filters(
    form_type="voting",
    regions=("KZ-KAR", "KZ-PAV"),
    metric="problem",
    problem="protocol_tampering",
    orgs=("OSCE PA, Delegation", "ODIHR"),
    teams=("T007",),
    setting="rural",
    evoting="no",
    overall=("very bad", "bad"),
    hours=(8, 20),
    review="approved",
    conflict="yes",
    min_n=5,
    mode="briefing",
)
# What each filter's words in a file name must hold (the phase is in ``what``; the mode is how the page looks).
TOKENS = {
    "form_type": ["brief-voting"],
    "regions": ["KZ-KAR", "KZ-PAV"],
    "metric": ["problem"],
    "problem": ["protocol_tampering"],
    "orgs": ["OSCE_PA", "Delegation", "ODIHR"],
    "teams": ["T007"],
    "setting": ["rural"],
    "evoting": ["evoting_no"],
    "overall": ["very_bad", "bad"],
    "hours": ["8-20"],
    "review": ["approved"],
    "conflict": ["conflict"],
    "min_n": ["min_n_5"],
    "drill": [],  # below, on a drilled view
    "mode": [],
    "back_to": [],  # where the page's "Back" goes: not part of what the file shows
    "lang": [],  # English, the default, is not named; another language is ("lang_ru": see test_i18n_words)
}


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_a_file_name_names_every_filter_of_the_view_safely(fmt):
    assert set(TOKENS) == {spec.name for spec in SPEC}  # a new filter needs its words here
    name = exports.download_name(EVERY_FILTER, f"brief-{EVERY_FILTER.form_type}", fmt)
    assert name.endswith(f".{fmt}") and len(name.encode("utf-8")) <= 255
    assert not re.search(r'[\x00-\x1f\x7f/\\:*?"<>|, ]', name), name
    for field, tokens in TOKENS.items():
        for token in tokens:
            assert token in name, (field, token, name)
    drilled = exports.download_name(with_drill(Filters("voting"), "KZ-KAR"), "map-voting", fmt)
    assert "drill_KZ-KAR" in drilled
    assert exports.download_name(Filters("voting"), "map-voting", fmt) == f"obsmap-map-voting-all.{fmt}"  # the default view: as before


def test_file_names_of_different_views_differ():
    names = {exports.download_name(Filters("voting", **change), "brief-voting", "pdf") for change in (
        {}, {"setting": "urban"}, {"setting": "rural"}, {"hours": (8, 12)}, {"hours": (8, 20)}, {"min_n": 5},
        {"review": "all"}, {"evoting": "yes"}, {"overall": ("bad",)}, {"teams": tuple(f"T{i:03d}" for i in range(9))},
        {"teams": tuple(f"T{i:03d}" for i in range(8))},
    )}  # fmt: skip
    assert len(names) == 11
