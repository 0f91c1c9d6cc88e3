"""The canonical observation record (README.md, "The form columns"; the domain brief calls it "the import contract").

One row per form. Blank means "not answered", never "no".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from geo.i18n import N_, Labels, _

FORM_TYPES: tuple[str, ...] = ("opening", "voting", "counting", "tabulation")

OVERALL_LEVELS: tuple[str, ...] = ("very good", "good", "bad", "very bad")
NEGATIVE_LEVELS: frozenset[str] = frozenset({"bad", "very bad"})
# The levels as people read them (the codes above are data: they stay English in files, URLs and JSON).
LEVEL_LABELS = Labels(
    {
        "very good": N_("very good"),
        "good": N_("good"),
        "bad": N_("bad"),
        "very bad": N_("very bad"),
        "not assessed": N_("not assessed"),
    }
)


# Problem questions, in the order the checklist asks them, with the label shown to people.
# A Labels: ``PROBLEMS[key]`` reads in the current language; ``PROBLEMS.source(key)`` is the English label.
PROBLEMS = Labels(
    {
        "unauthorised_persons": N_("Unauthorised persons present or interfering"),
        "multiple_voting": N_("Multiple voting"),
        "ballot_box_stuffing": N_("Ballot box stuffing"),
        "pressure_on_voters": N_("Pressure on voters"),
        "protocol_tampering": N_("Tampering with result protocols"),
        "overcrowding": N_("Overcrowding"),
        "secrecy_compromised": N_("Secrecy of the vote compromised"),
        "observers_restricted": N_("Observers restricted"),
        "procedural_violations": N_("Procedural violations"),
    }
)

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


class _Wording(Mapping[str, tuple[str, str]]):
    """``{phase: (subject, observed)}`` read in the current language (a module constant that follows the language).

    Only for short labels: a sentence is one msgid of its own (Russian agrees the verb with the subject and declines
    the observed noun by its number), see :func:`dashboard.analysis.statement_sentence`.
    """

    def __init__(self, wording: Mapping[str, tuple[str, str]]) -> None:
        self._wording = dict(wording)

    def __getitem__(self, key: str) -> tuple[str, str]:
        subject, observed = self._wording[key]
        return _(subject), _(observed)

    def __iter__(self) -> Iterator[str]:
        return iter(self._wording)

    def __len__(self) -> int:
        return len(self._wording)

    def source(self, key: str) -> tuple[str, str]:
        return self._wording[key]


# How each phase is named in a statement: (subject of the sentence, plural noun of what was observed).
PHASE_WORDING = _Wording(
    {
        "opening": (N_("The opening"), N_("openings observed")),
        "voting": (N_("Voting"), N_("polling station visits")),
        "counting": (N_("The count"), N_("counts observed")),
        "tabulation": (N_("Tabulation"), N_("visits to territorial election commissions")),
    }
)

PHASE_LABELS = Labels(
    {
        "opening": N_("Opening"),
        "voting": N_("Voting"),
        "counting": N_("Counting"),
        "tabulation": N_("Tabulation"),
    }
)
