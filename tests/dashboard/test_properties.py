"""Property tests: on random form sets, every share, N, interval and sentence the dashboard produces
equals an independent plain-pandas / math reference."""

import math
import tempfile
from fractions import Fraction
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.analysis import interval_text, statement_sentence, wilson_interval
from dashboard.figures import REGIONS, trace_index
from dashboard.filters import Filters
from dashboard.summary import mission_summary
from dashboard.tables import region_table
from dashboard.views import headlines, map_patch
from geo.schema import FORM_TYPES, PHASE_WORDING
from tests.conftest import build_tiny, chosen, wilson_reference

OVERALL = st.sampled_from(["very good", "good", "bad", "very bad", None])
ANSWER = st.sampled_from(["yes", "no", None])
FORM = st.fixed_dictionaries(
    {
        "form_type": st.sampled_from(FORM_TYPES),
        "region_code": st.sampled_from(["AA", "BB"]),
        "overall": OVERALL,
        "protocol_tampering": ANSWER,
        "urban_rural": st.sampled_from(["urban", "rural", None]),
    }
)


def half_up_percent(k: int, n: int) -> int:
    return math.floor(Fraction(100 * k, n) + Fraction(1, 2))


def reference_tally(rows: list[dict], phase: str, region: str | None = None) -> tuple[int, int, int]:
    df = pd.DataFrame(rows, columns=["form_type", "region_code", "overall"])
    df = df[df.form_type == phase]
    if region:
        df = df[df.region_code == region]
    assessed = df.overall.notna()
    return len(df), int(assessed.sum()), int(df.overall.isin(["bad", "very bad"]).sum())


def reference_sentence(phase: str, k: int, n: int) -> str:
    subject, observed = PHASE_WORDING[phase]
    if n == 0:
        return f"{subject}: no {observed} with an overall assessment."
    if n == 1:  # one observed, in the singular (as the page always said it; Russian needs the number's own form)
        return f"{subject} was assessed as bad or very bad in {half_up_percent(k, n)} per cent of 1 {ONE_OBSERVED[phase]}."
    return f"{subject} was assessed as bad or very bad in {half_up_percent(k, n)} per cent of {n:,} {observed}."


ONE_OBSERVED = {
    "opening": "opening observed",
    "voting": "polling station visit",
    "counting": "count observed",
    "tabulation": "visit to a territorial election commission",
}


def reference_headline(phase: str, k: int, assessed: int, n: int) -> str:
    """The page's sentence: as the statement, but an empty view is said of the filters and one form in the singular."""
    label = phase  # the phase's label in lower case: opening, voting, counting, tabulation
    if n == 0:
        return f"No {label} forms match these filters."
    if assessed == 0:
        if n == 1:
            return f"1 {label} form matches these filters; it has no overall assessment."
        return f"{n:,} {label} forms match these filters; none has an overall assessment."
    if assessed == 1:
        return f"{PHASE_WORDING[phase][0]} was assessed as bad or very bad in {100 * k} per cent of 1 {ONE_OBSERVED[phase]}."
    return reference_sentence(phase, k, assessed)


def _mission(rows):
    return build_tiny(Path(tempfile.mkdtemp(prefix="obsmap-prop-")), rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(FORM, min_size=1, max_size=40), min_n=st.integers(1, 12))
def test_summary_cells_equal_the_reference(rows, min_n):
    s = mission_summary(_mission(rows), min_n=min_n)
    for phase in FORM_TYPES:
        n, assessed, negative = reference_tally(rows, phase)
        assert (s["forms"][phase]["n"], s["forms"][phase]["assessed"], s["forms"][phase]["negative"]) == (n, assessed, negative)
        assert s["statements"][phase] == reference_sentence(phase, negative, assessed)
        for region in ("AA", "BB"):
            n, assessed, negative = reference_tally(rows, phase, region)
            cell = s["by_region"][region][phase]
            assert (cell["n"], cell["assessed"], cell["negative"]) == (n, assessed, negative)
            assert cell["too_few"] is (0 < assessed < min_n)
            ref = wilson_reference(negative, assessed)
            if ref is None:
                assert cell["ci95"] is None
            else:
                assert abs(cell["ci95"][0] - ref[0]) < 1e-4 and abs(cell["ci95"][1] - ref[1]) < 1e-4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(FORM, min_size=1, max_size=30), phase=st.sampled_from(FORM_TYPES), min_n=st.integers(1, 8))
def test_map_hover_region_table_and_headlines_equal_the_reference(rows, phase, min_n):
    mission = _mission(rows)
    data = Filters(phase, min_n=min_n).to_dict()
    patch, *_ = map_patch(mission, *chosen(mission, data))
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    hover = dict(zip(["AA", "BB"], ops[("data", trace_index(REGIONS), "customdata")], strict=True))
    table = {row["code"]: row for row in region_table(mission, *chosen(mission, data))}
    blocks = str([b.to_plotly_json() for b in headlines(mission, *chosen(mission, data)) if b is not None])
    for region in ("AA", "BB"):
        _, assessed, negative = reference_tally(rows, phase, region)
        row = table[region]
        assert (row["assessed"], row["negative"]) == (assessed, negative)
        if assessed == 0:
            assert row["share"] is None and "No assessed forms" in hover[region]
            continue
        pct = half_up_percent(negative, assessed)
        low, high = wilson_reference(negative, assessed)
        assert row["share"] == pct
        assert row["ci_low"] == math.floor(100 * low + 1e-9) and row["ci_high"] == math.ceil(100 * high - 1e-9)
        assert f"{pct} % bad or very bad" in hover[region] and f"{negative} of {assessed} " in hover[region]
        assert f"95 % CI {row['ci_low']}–{row['ci_high']} %" in hover[region]
        assert ("Too few observations" in hover[region]) is (assessed < min_n)
    n, assessed, negative = reference_tally(rows, phase)
    assert reference_headline(phase, negative, assessed, n) in blocks
    assert f"N = {assessed:,} assessed of {n:,} form{'' if n == 1 else 's'}" in blocks


@given(k=st.integers(0, 3000), extra=st.integers(0, 3000))
def test_wilson_interval_matches_the_quadratic_roots_and_contains_the_share(k, extra):
    n = k + extra
    if n == 0:
        assert wilson_interval(k, n) is None and interval_text(k, n) == "no interval"
        return
    low, high = wilson_interval(k, n)
    ref = wilson_reference(k, n)
    assert abs(low - ref[0]) < 1e-9 and abs(high - ref[1]) < 1e-9
    assert 0 <= low <= k / n <= high <= 1


@given(k=st.integers(0, 500), extra=st.integers(1, 500), phase=st.sampled_from(FORM_TYPES), min_n=st.integers(1, 20))
def test_fraction_phrasing_keeps_the_denominator_and_agrees_with_the_shown_percentage(k, extra, phase, min_n):
    n = k + extra
    sentence = statement_sentence(phase, k, n, as_fraction=True, min_n=min_n)
    if "per cent" in sentence:
        assert sentence == reference_sentence(phase, k, n)
        return
    # Said as a fraction: enough forms, the "(k of N)" kept, and the fraction within a point of the percentage shown.
    assert n >= min_n and sentence.endswith(f"({k:,} of {n:,}).")
    said = {"one out of two": 50, "one out of three": Fraction(100, 3), "one out of four": 25, "one out of five": 20}
    said |= {"one out of ten": 10, "two out of three": Fraction(200, 3), "three out of four": 75}
    values = [v for words, v in said.items() if f" {words} " in sentence]
    assert len(values) == 1 and abs(half_up_percent(k, n) - values[0]) <= 1


def test_fraction_phrasing_examples():
    assert "one out of four" in statement_sentence("counting", 57, 224, as_fraction=True)  # 25 %
    assert "per cent" in statement_sentence("counting", 27, 100, as_fraction=True)  # 27 % is not a quarter
    assert "per cent" in statement_sentence("counting", 12, 100, as_fraction=True)  # 12 % is not one in ten
    assert "per cent" in statement_sentence("counting", 1, 4, as_fraction=True)  # too few to say "one out of four"
