"""Every figure the page and the exports show is valid plotly: :func:`dashboard.figures.figure` skips plotly's
property checks for speed, so they are made here instead, on the demo's views and on edge cases (empty, too
few, private, the annotation of forms timed outside the drawn hours)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import views
from dashboard.analysis import problem_rates
from dashboard.figures import make_problem_chart, make_timeline
from geo.schema import PROBLEMS
from tests.conftest import chosen

VIEWS = [
    {},
    {"form_type": "voting", "problem": "ballot_box_stuffing"},
    {"form_type": "opening", "regions": ["KZ-AKM"], "min_n": 50},
    {"form_type": "counting", "overall": ["very_bad"], "hours": [20, 26]},
]


def check(fig: go.Figure) -> None:
    """Raises if any property is unknown to plotly or has a value it refuses (plotly's own validation)."""
    go.Figure(fig.to_dict())


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("private", [False, True])
def test_the_page_figures_pass_plotly_validation(demo, view, private):
    selection, filters = chosen(demo, view)
    chart, _ = views.problems(selection, filters, private)
    check(chart)
    check(views.timeline(selection, filters, private))


def test_edge_cases_pass_plotly_validation():
    empty_rates = problem_rates(pd.DataFrame({p: pd.Series([], dtype="boolean") for p in PROBLEMS}))
    check(make_problem_chart(empty_rates))
    table = pd.DataFrame({"n": [3, 40], "assessed": [2, 40], "negative": [1, 9]}, index=pd.Index([8, 9], name="hour"))
    for private in (False, True):
        check(make_timeline(table, range(6, 12), min_n=10, private=private))
        check(make_timeline(table.iloc[:0], range(6, 12), min_n=10, private=private))


def test_a_misspelt_property_would_be_caught():
    fig = make_timeline(pd.DataFrame({"n": [1], "assessed": [1], "negative": [0]}, index=[8]), range(8, 9))
    check(fig)
    bad = fig.to_dict()
    bad["data"][0]["markr"] = {"color": "red"}
    with pytest.raises(ValueError, match="markr"):
        go.Figure(bad)
