"""Write the canonical forms as XLSForms (forms/obsmap-<phase>.xlsx) for KoboToolbox or ODK Central.

    python scripts/make_xlsforms.py

Question names are the canonical column names, so the tools' exports import with no mapping:
``obsmap import`` strips group paths (``visit/ps_id``, ``visit-ps_id``), reads the GPS columns as
latitude/longitude and uses the submission id as form_id. Choice names use ``_`` for spaces
(``very_good``), which the import reads as "very good".
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from geo.schema import PHASE_CHECKLIST, PHASE_LABELS, PROBLEMS

OUT = Path(__file__).resolve().parents[1] / "forms"
VERSION = "2026-11-28"


def survey_rows(phase: str) -> list[dict[str, str]]:
    rows = [
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
        {"type": "calculate", "name": "form_type", "calculation": f"'{phase}'"},
        {"type": "begin_group", "name": "visit", "label": "Visit"},
        {"type": "text", "name": "team_id", "label": "Team ID (pseudonymous, e.g. T017). No names.", "required": "yes"},
        {"type": "select_one org", "name": "observer_org", "label": "Observer organisation", "required": "yes"},
        {
            "type": "text",
            "name": "ps_id",
            "label": "Territorial commission number" if phase == "tabulation" else "Polling station number",
            "required": "yes",
        },
        {"type": "dateTime", "name": "observed_at", "label": "Time of arrival", "required": "yes", "default": "now()"},
        {"type": "geopoint", "name": "location", "label": "Location (GPS)"},
        {"type": "select_one setting", "name": "urban_rural", "label": "Urban or rural?"},
    ]
    if phase != "tabulation":
        rows.append({"type": "select_one yn", "name": "evoting", "label": "Electronic voting at this station?"})
    rows.append({"type": "end_group", "name": ""})
    rows.append({"type": "begin_group", "name": "checklist", "label": "Did you observe ..."})
    rows += [{"type": "select_one yn", "name": p, "label": PROBLEMS[p] + "?"} for p in PHASE_CHECKLIST[phase]]
    rows.append({"type": "end_group", "name": ""})
    rows += [
        {"type": "begin_group", "name": "assessment", "label": "Assessment"},
        {"type": "select_one overall", "name": "overall", "label": f"Overall assessment of the {PHASE_LABELS[phase].lower()}"},
        {"type": "text", "name": "comments", "label": "Comments (facts observed; no names of persons)"},
        {"type": "end_group", "name": ""},
    ]
    return rows


CHOICES = [
    ("yn", "yes", "Yes"),
    ("yn", "no", "No"),
    ("overall", "very_good", "Very good"),
    ("overall", "good", "Good"),
    ("overall", "bad", "Bad"),
    ("overall", "very_bad", "Very bad"),
    ("setting", "urban", "Urban"),
    ("setting", "rural", "Rural"),
    ("org", "ODIHR", "ODIHR"),
    ("org", "OSCE_PA", "OSCE PA"),
    ("org", "PACE", "PACE"),
    ("org", "EP", "European Parliament"),
    ("org", "other", "Other"),
]


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[dict[str, str]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([row.get(h, "") for h in header])


def write_xlsform(phase: str, out_dir: Path = OUT) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "survey", ["type", "name", "label", "required", "calculation", "default"], survey_rows(phase))
    _sheet(wb, "choices", ["list_name", "name", "label"], [dict(zip(["list_name", "name", "label"], c, strict=True)) for c in CHOICES])
    settings = {"form_title": f"obsmap {PHASE_LABELS[phase].lower()} form", "form_id": f"obsmap_{phase}", "version": VERSION}
    _sheet(wb, "settings", list(settings), [settings])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"obsmap-{phase}.xlsx"
    # Fixed timestamps so the same form writes the same bytes.
    wb.properties.created = wb.properties.modified = __import__("datetime").datetime(2026, 11, 28)
    wb.save(path)
    return path


def main() -> None:
    for phase in PHASE_CHECKLIST:
        print(f"wrote {write_xlsform(phase)}")


if __name__ == "__main__":
    main()
