"""The canonical observation record (README.md, "The form columns"; the domain brief calls it "the import contract").

One row per form. Blank means "not answered", never "no".
"""

from __future__ import annotations

FORM_TYPES: tuple[str, ...] = ("opening", "voting", "counting", "tabulation")

OVERALL_LEVELS: tuple[str, ...] = ("very good", "good", "bad", "very bad")
NEGATIVE_LEVELS: frozenset[str] = frozenset({"bad", "very bad"})


# Problem questions, in the order the checklist asks them, with the label shown to people.
PROBLEMS: dict[str, str] = {
    "unauthorised_persons": "Unauthorised persons present or interfering",
    "multiple_voting": "Multiple voting",
    "ballot_box_stuffing": "Ballot box stuffing",
    "pressure_on_voters": "Pressure on voters",
    "protocol_tampering": "Tampering with result protocols",
    "overcrowding": "Overcrowding",
    "secrecy_compromised": "Secrecy of the vote compromised",
    "observers_restricted": "Observers restricted",
    "procedural_violations": "Procedural violations",
}

# The problem questions on each phase's checklist; the others are not asked (blank, "not answered").
PHASE_CHECKLIST: dict[str, tuple[str, ...]] = {
    "opening": ("unauthorised_persons", "ballot_box_stuffing", "observers_restricted", "procedural_violations"),
    "voting": (
        "unauthorised_persons",
        "multiple_voting",
        "ballot_box_stuffing",
        "pressure_on_voters",
        "overcrowding",
        "secrecy_compromised",
        "observers_restricted",
        "procedural_violations",
    ),
    "counting": ("unauthorised_persons", "ballot_box_stuffing", "protocol_tampering", "observers_restricted", "procedural_violations"),
    "tabulation": ("unauthorised_persons", "protocol_tampering", "observers_restricted", "procedural_violations"),
}

FORM_COLUMNS: tuple[str, ...] = (
    "form_id",
    "form_type",
    "observed_at",
    "team_id",
    "observer_org",
    "ps_id",
    "region_code",
    "district_code",
    "latitude",
    "longitude",
    "urban_rural",
    "evoting",
    "overall",
    *PROBLEMS,
    "comments",
)

STATION_COLUMNS: tuple[str, ...] = (
    "ps_id",
    "region_code",
    "name",
    "latitude",
    "longitude",
    "urban_rural",
    "evoting",
    "registered_voters",
)

# How each phase is named in a statement: (subject of the sentence, plural noun of what was observed).
PHASE_WORDING: dict[str, tuple[str, str]] = {
    "opening": ("The opening", "openings observed"),
    "voting": ("Voting", "polling station visits"),
    "counting": ("The count", "counts observed"),
    "tabulation": ("Tabulation", "visits to territorial election commissions"),
}

PHASE_LABELS: dict[str, str] = {
    "opening": "Opening",
    "voting": "Voting",
    "counting": "Counting",
    "tabulation": "Tabulation",
}
