"""The shipped XLSForms convert to XForms and ask exactly the canonical questions."""

from pathlib import Path

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from geo.schema import FORM_COLUMNS, PHASE_CHECKLIST
from scripts.make_xlsforms import write_xlsform
from tests.conftest import ROOT

FORMS = ROOT / "forms"


def _survey(path: Path) -> list[tuple]:
    ws = load_workbook(path)["survey"]
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


@pytest.mark.parametrize("phase", list(PHASE_CHECKLIST))
def test_xlsform_converts_and_uses_canonical_names(phase):
    path = FORMS / f"obsmap-{phase}.xlsx"
    result = convert(xlsform=str(path))
    assert f"obsmap_{phase}" in result.xform
    header, *rows = _survey(path)
    names = {r[header.index("name")] for r in rows if r[header.index("type")] not in ("begin_group", "end_group", "start", "end")}
    names.discard("location")  # a geopoint: exports give its latitude/longitude columns
    assert names <= set(FORM_COLUMNS)
    assert set(PHASE_CHECKLIST[phase]) <= names
    assert {"form_type", "team_id", "ps_id", "observed_at", "overall"} <= names
    assert not {"name", "phone", "observer_name"} & names


@pytest.mark.parametrize("phase", list(PHASE_CHECKLIST))
def test_committed_xlsforms_match_the_generator(tmp_path, phase):
    fresh = write_xlsform(phase, tmp_path)
    assert _survey(fresh) == _survey(FORMS / f"obsmap-{phase}.xlsx")
