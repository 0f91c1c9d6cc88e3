"""Names and values from a mission's files are text everywhere: never markup, never script (issue 12).

A mission's name and notes (mission.json), region and district names and codes (boundary files),
organisations, team ids, station ids and comments (forms) are set to hostile strings. Each must reach
the page, the figures, the pictures and the brief as text: escaped once where Plotly or HTML would read
markup, left as they are where Dash and AG Grid write text (escaping there too would show "&lt;").
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from dashboard import exports
from dashboard.figures import STATIONS, UNOBSERVED, plotly_text, trace_index
from dashboard.filters import Filters
from geo.errors import MissionDataError
from geo.mission import MISSION_FILE, MissionDataset, build_mission, load_mission
from tests.conftest import form_rows
from tests.dashboard.table_client import listed

TITLE = "</title><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
JS = "javascript:alert(1)"
LINK = '<a href="javascript:alert(1)">x</a>'
JINJA = "{{7*7}}"
FORMULA = '=HYPERLINK("http://evil","x")'
BOLD = "A <b>bold</b> &amp; co"
PAYLOADS = (TITLE, IMG, SVG, JS, LINK, JINJA, FORMULA, BOLD)
MARKUP = tuple(p for p in PAYLOADS if "<" in p or "&" in p)  # what a reader of HTML would take for markup

# Region R0..R7 is named after payload 0..7; R7's code is hostile too. R0 holds enough forms to be listed.
CODES = ("R0", "R1", "R2", "R3", "R4", "R5", "R6", 'R"7<i>')
NAMES = dict(zip(CODES, PAYLOADS, strict=True))
UNVISITED = 'St "3" <i>'  # a registry station no form visited: drawn as "Not observed"


def hostile_mission(tmp_path: Path) -> MissionDataset:
    regions = gpd.GeoDataFrame(
        {"code": list(CODES), "name": list(PAYLOADS)}, geometry=[box(i, 0, i + 1, 1) for i in range(len(CODES))], crs=4326
    )
    districts = gpd.GeoDataFrame(
        {"code": ["D0", IMG], "name": [TITLE, SVG], "parent": ["R0", "R0"]}, geometry=[box(0, 0, 0.5, 1), box(0.5, 0, 1, 1)], crs=4326
    )
    rows = []
    for i in range(16):
        p = PAYLOADS[i % len(PAYLOADS)]
        rows.append(
            {
                "form_id": f"F{i:02d}",
                "form_type": "voting",
                "observed_at": f"2005-12-04T{8 + i % 10:02d}:15",
                "region_code": "R0",
                "latitude": 0.5,
                "longitude": 0.25 + 0.5 * (i % 2),
                "ps_id": PAYLOADS[(i + 1) % len(PAYLOADS)],
                "team_id": PAYLOADS[(i + 2) % len(PAYLOADS)],
                "observer_org": PAYLOADS[(i + 3) % len(PAYLOADS)],
                "overall": "bad" if i % 3 == 0 else "good",
                "ballot_box_stuffing": "yes" if i % 4 == 0 else "no",
                "comments": p,
            }
        )
    for i, code in enumerate(CODES[1:], start=1):  # one form in each other region: too few to list
        rows.append({"form_id": f"G{i}", "form_type": "voting", "observed_at": "2005-12-04T12:00", "region_code": code, "overall": "bad"})
    stations = pd.DataFrame(
        {
            "ps_id": [LINK, SVG, UNVISITED],
            "region_code": ["R0", "R0", "R0"],
            "name": [IMG, TITLE, BOLD],
            "latitude": [0.3, 0.6, 0.7],
            "longitude": [0.3, 0.6, 0.2],
            "urban_rural": [None] * 3,
            "evoting": [None] * 3,
            "registered_voters": [1000, 2000, 3000],
        }
    )
    meta = {
        "name": TITLE,
        "mission": SVG,
        "synthetic": True,
        "notice": IMG,
        "data_as_of": f"2005-12-04T21:00 {LINK}",
        "sources": [LINK, JINJA, FORMULA, BOLD],
    }
    return build_mission(tmp_path / "mission", regions, form_rows(rows), meta, stations=stations, districts=districts, join=False)


@pytest.fixture(scope="module")
def mission(tmp_path_factory) -> MissionDataset:
    return hostile_mission(tmp_path_factory.mktemp("hostile"))


# A view that names everything: every region, two organisations, three teams (listed by name under four).
NAMED = Filters("voting", regions=CODES, orgs=(IMG, SVG), teams=(JS, LINK, JINJA), min_n=2)
DRILLED = Filters("voting", drill="R0")
VIEWS = {
    "country": Filters("voting"),
    "named": NAMED,
    "drilled": DRILLED,
    "problem": Filters("voting", metric="problem", problem="ballot_box_stuffing"),
}


# ------------------------------------------------------------------------------------ what to check
# The markup our own code writes into Plotly strings; anything else in angle brackets came from data.
OURS = re.compile(r"</?(?:b|br|extra)>|<span style='[^'<>]*'>|</span>")


def strings(node: Any, skip: tuple[str, ...] = ("geojson", "locations")) -> list[str]:
    """Every string in a JSON-like tree but geometry and the regions' ids (feature ids, never drawn)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in skip for s in strings(v, skip)]
    if isinstance(node, list | tuple):
        return [s for v in node for s in strings(v, skip)]
    return []


def assert_plotly_text(texts: list[str], as_typed: bool = True) -> None:
    """Plotly reads a subset of HTML in titles, hovers, annotations and labels: data must be escaped there, once.

    ``as_typed``: also no ``&quot;``, which Plotly does not decode (it would show "&quot;" for a quote).
    """
    for s in texts:
        if as_typed:
            assert "&quot;" not in s, f"a quote Plotly shows as '&quot;': {s!r}"
        rest = OURS.sub("", s)
        assert not re.search(r"<\s*[A-Za-z/!?]|<[^<>]*>", rest), f"markup from data in a Plotly string: {s!r}"  # "N < 10" is text
        for payload in MARKUP:
            assert payload not in s, f"unescaped {payload!r} in {s!r}"
        assert "&amp;lt;" not in s and "&amp;gt;" not in s, f"escaped twice (shows '&lt;'): {s!r}"


def figure_json(fig) -> dict[str, Any]:
    from plotly.utils import PlotlyJSONEncoder

    return json.loads(json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder))


# ------------------------------------------------------------------------------------------ loading
def test_the_mission_reads_its_hostile_values_as_they_are(mission):
    assert mission.meta["name"] == TITLE and mission.region_names["R0"] == TITLE and mission.region_names['R"7<i>'] == BOLD
    assert set(mission.forms["comments"].dropna()) == set(PAYLOADS) == set(mission.forms["team_id"].dropna())
    assert set(mission.stations["ps_id"]) == {LINK, SVG, UNVISITED}


def test_sources_that_are_not_text_lines_are_refused(tmp_path):
    """A source that is an object would reach the page as a Dash component (dcc.Markdown with raw HTML, say)."""
    m = hostile_mission(tmp_path)
    meta = json.loads((m.path / MISSION_FILE).read_text(encoding="utf-8"))
    meta["sources"] = [
        {"type": "Markdown", "namespace": "dash_core_components", "props": {"children": IMG, "dangerously_allow_html": True}}
    ]
    (m.path / MISSION_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(MissionDataError, match="'sources' should be a list of text lines"):
        load_mission(m.path)


# ------------------------------------------------------------------------------- captioned figures
@pytest.mark.parametrize("which", exports.FIGURES)
@pytest.mark.parametrize("view", VIEWS)
def test_captioned_figures_carry_data_as_escaped_text(mission, which, view):
    fig = exports.figure_for(mission, VIEWS[view], which)
    js = figure_json(fig)
    if which == "map":  # the observed stations' hovers are written by dashboard.text: their own tests below
        js["data"] = [t for t in js["data"] if t.get("name") not in STATIONS]
    assert_plotly_text(strings(js))
    title = js["layout"]["title"]
    if view == "drilled" and which == "map":
        assert title["text"].startswith(plotly_text(TITLE) + ":")  # the region's name, shown as text
        assert js["data"][trace_index(UNOBSERVED)]["customdata"] == ['St "3" &lt;i&gt;']
    if view == "named":
        caption = title["subtitle"]["text"].replace("<br>", " ")
        for name in PAYLOADS:
            assert plotly_text(name) in caption, name  # every region, organisation and team, readable
    if which == "map":
        names = js["data"][0]["text"]  # the regions' names: the trace's text (the hover's first line)
        assert names == [plotly_text(NAMES[c]) for c in mission.region_codes]


def _station_hovers(mission) -> list[str]:
    js = figure_json(exports.figure_for(mission, DRILLED, "map"))
    observed = [c for name in STATIONS for c in js["data"][trace_index(name)]["customdata"]]
    assert observed and all(c.startswith("<b>") for c in observed)
    return observed


def test_the_drilled_map_s_station_hovers_hold_no_markup_from_data(mission):
    observed = _station_hovers(mission)
    assert len({re.match(r"<b>(.*?)</b>", c)[1] for c in observed}) == len(PAYLOADS)
    assert_plotly_text(observed, as_typed=False)


def test_the_drilled_map_s_station_hovers_show_ids_as_typed(mission):
    observed = _station_hovers(mission)
    assert {re.match(r"<b>(.*?)</b>", c)[1] for c in observed} == {plotly_text(p) for p in PAYLOADS}
    assert_plotly_text(observed)


@pytest.mark.export
@pytest.mark.xdist_group("export")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("which", "view"), [("map", "drilled"), ("map", "named"), ("problems", "named"), ("timeline", "named")])
def test_svg_pictures_hold_no_script_no_handler_and_no_javascript_link(mission, which, view):
    svg = exports.render(exports.figure_for(mission, VIEWS[view], which), "svg").decode("utf-8")
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower()
        assert tag not in {"script", "foreignobject", "iframe", "object", "embed", "a"}, tag
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), (tag, name, value)
            if local in ("href", "src"):
                assert value.strip().lower().startswith(("data:image/", "#")), (tag, name, value[:80])
    # The same on the raw bytes: no script element, no handler inside any tag (" onerror=" in escaped text is text).
    assert not re.search(r"<\s*script|<[^<>]*\son[a-z]+\s*=[^<>]*>", svg, re.IGNORECASE)
    text = " ".join(" ".join(root.itertext()).split())
    if view == "drilled":
        assert f"{TITLE}: polling stations" in text  # the name is drawn, as text
    else:
        assert all(p in text for p in PAYLOADS), [p for p in PAYLOADS if p not in text]  # every name in the caption, as text


# ------------------------------------------------------------------------------------------- brief
class Page(HTMLParser):
    """Tags, attributes and text of an HTML page, as a browser's parser splits them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False if tag == "title" else self._in_title

    def handle_data(self, data):
        (self.title if self._in_title else self.text).append(data)


BRIEF_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "div", "p", "img", "ul", "li", "b", "span"}
BRIEF_TAGS |= {"table", "thead", "tbody", "tr", "th", "td"}


@pytest.mark.parametrize("view", ["country", "named"])
def test_the_brief_shows_every_value_as_text(mission, view, monkeypatch):
    monkeypatch.setattr(exports, "render", lambda fig, fmt: b"\x89PNG-not-drawn-here")  # the pictures are checked above
    html = exports.brief_html(mission, VIEWS[view])
    page = Page()
    page.feed(html)
    page.close()
    assert {tag for tag, _ in page.tags} <= BRIEF_TAGS, {tag for tag, _ in page.tags} - BRIEF_TAGS
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            if name in ("src", "href"):
                assert (value or "").startswith("data:image/png;base64,"), (tag, name, value)
    assert "".join(page.title) == f"obsmap brief · {TITLE}"
    text = " ".join(" ".join(page.text).split())
    for shown in (TITLE, SVG, IMG, LINK, JINJA, FORMULA, BOLD):  # name, mission line, notice, sources
        assert shown in text, shown
    assert "49" not in text.replace("2005", "")  # {{7*7}} is not evaluated
    if view == "named":
        assert all(name in text for name in PAYLOADS)  # the selection line names every region, organisation, team
    else:
        assert f"{TITLE} " in text and BOLD in text  # R0 in the table, the others in the "too few" line


def test_the_brief_template_escapes_everything():
    source = Path(exports.__file__).with_name("templates").joinpath("brief.html").read_text(encoding="utf-8")
    assert exports.TEMPLATES.autoescape("brief.html") is True
    assert not re.search(r"\|\s*safe|autoescape\s+false|Markup", source)
    for module in ("exports", "figures", "text", "views", "tables", "layout"):
        code = Path(exports.__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
        assert not re.search(r"\bMarkup\(|dangerously_allow_html|dangerously_allow_code|\|\s*safe", code), module


# ------------------------------------------------------------------------------------ file names
@pytest.mark.parametrize("code", ["../../etc/passwd", "a\\b", "x\r\nSet-Cookie: y", "nul\x00", "del\x7f", "tab\t", "é\u0085"])
def test_download_names_have_no_path_separators_or_control_characters(code):
    from dashboard.exports import download_name

    name = download_name(Filters("voting", regions=(code, "R0")), "map-voting", "png")
    assert not re.search(r"[\x00-\x1f\x7f/\\]", name), name
    assert name.startswith("obsmap-map-voting-") and name.endswith("-R0.png")


# --------------------------------------------------------------------------------------- the page
def _components(tree: Any) -> list[dict[str, Any]]:
    from scripts.dash_client import walk_layout

    return list(walk_layout(tree))


def _plotly_strings(reply: dict[str, Any]) -> list[str]:
    """The strings of the figures in a callback's reply; a Patch (the map) by its operations, ids left out."""
    out = []
    for cid, prop in (("region-map", "figure"), ("problem-chart-next", "data"), ("timeline-next", "data")):
        figure = reply.get(cid, {}).get(prop) or {}
        if "__dash_patch_update" in figure:
            for op in figure["operations"]:
                if op["location"][-1:] != ["locations"]:
                    out += strings(op["params"])
        else:
            out += strings(figure)
    return out


def test_the_page_shows_data_as_text_and_escapes_it_in_plotly(mission):
    from dashboard.app import create_app
    from dashboard.filters import to_query
    from scripts.dash_client import DashClient

    app = create_app(mission)
    page = DashClient(app)
    index = page.client.get("/").get_data(as_text=True)
    assert f"<title>obsmap · {escape(TITLE)}</title>" in index  # escaped once: Dash writes the title as is
    layout = page.client.get("/_dash-layout").json
    assert_plotly_text(strings(next(c for c in _components(layout) if c["props"].get("id") == "region-map")["props"]["figure"]))
    for view in (NAMED, DRILLED):
        reply = page.fire("url", "search", to_query(view, always_form=True))
        assert_plotly_text(_plotly_strings(reply))
        for c in _components(reply):
            assert c["type"] != "Markdown" and not any(k.startswith("dangerously") for k in c["props"]), c["type"]
        if view is DRILLED:
            assert reply["map-title"]["children"].startswith(TITLE + ":")  # Dash writes text: not escaped, or it shows "&lt;"
        else:
            said = json.dumps(reply["n-shown"]["children"], ensure_ascii=False)
            assert all(json.dumps(name, ensure_ascii=False)[1:-1] in said for name in PAYLOADS)
    page.fire("table-toggle", "n_clicks", 1)
    rows, _ = listed(page)  # the drilled region's forms, as the grid asks for them
    assert {r["comments"] for r in rows} == set(PAYLOADS) == {r["team_id"] for r in rows}  # the grid writes text: values as they are
    assert {r["region"] for r in rows} == {TITLE}


def test_the_page_writes_sources_as_text_even_for_an_unchecked_mission(mission):
    """A mission made in memory skips load_mission's check of mission.json: the page itself must write sources as text."""
    from dataclasses import replace

    from dashboard.app import create_app

    injected = {"type": "Markdown", "namespace": "dash_core_components", "props": {"children": IMG, "dangerously_allow_html": True}}
    odd = replace(mission, meta={**mission.meta, "sources": [LINK, injected]})
    layout = create_app(odd).server.test_client().get("/_dash-layout").json
    for c in _components(layout):
        assert c["type"] != "Markdown" and "dangerously_allow_html" not in c["props"], c
