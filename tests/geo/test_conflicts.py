"""Station conflicts, counted by number, agree with the plain reading of their definition (a groupby per station and phase)."""

import numpy as np
import pandas as pd

from geo.mission import station_conflicts


def _by_groupby(forms: pd.DataFrame) -> pd.Series:
    assessed = forms["negative"].notna() & forms["ps_id"].notna()
    key = [forms["ps_id"], forms["form_type"].astype("string")]
    negative = forms["negative"].fillna(False).astype(bool) & assessed
    positive = ~forms["negative"].fillna(True).astype(bool) & assessed
    both = negative.groupby(key).transform("any") & positive.groupby(key).transform("any")
    return (both & assessed).fillna(False).astype(bool)


def test_conflicts_agree_with_a_groupby_per_station_and_phase(demo):
    forms = demo.forms.copy()
    rng = np.random.default_rng(7)
    # Fewer stations, so many share one; some forms without a station or an assessment.
    forms["ps_id"] = pd.Series(rng.choice([f"P{i}" for i in range(150)], len(forms)), index=forms.index, dtype="string")
    forms.loc[forms.index[::13], "ps_id"] = pd.NA
    forms.loc[forms.index[::11], "negative"] = pd.NA
    got, expected = station_conflicts(forms), _by_groupby(forms)
    assert 0 < got.sum() < len(forms)
    pd.testing.assert_series_equal(got, expected, check_names=False)
