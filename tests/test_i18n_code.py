"""The code's use of gettext: no function hides the translation function ``_`` behind a local variable."""

from __future__ import annotations

import symtable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _functions_assigning_underscore(path: Path) -> list[str]:
    table = symtable.symtable(path.read_text(encoding="utf-8"), str(path), "exec")
    if not any(s.get_name() == "_" and s.is_imported() for s in table.get_symbols()):
        return []
    found = []

    def walk(scope: symtable.SymbolTable) -> None:
        for child in scope.get_children():
            a_def = child.get_type() == "function" and not child.get_name().endswith("comp") and child.get_name() != "genexpr"
            if a_def and "_" in child.get_identifiers() and child.lookup("_").is_assigned():
                found.append(f"{path.relative_to(ROOT)}:{child.get_lineno()} {child.get_name()}")
            walk(child)

    walk(table)
    return found


def test_no_function_shadows_the_translation_function():
    """``for _ in range(3)`` or ``a, _, b = ...`` in a function that also says ``_("...")`` makes ``_`` an int or a
    string there: the message's line raises TypeError instead of saying the message (it happened once)."""
    found = [
        hit
        for folder in ("dashboard", "geo", "scripts")
        for path in sorted((ROOT / folder).glob("*.py"))
        for hit in _functions_assigning_underscore(path)
    ]
    assert not found, "name the throwaway variable something else than _:\n" + "\n".join(found)
