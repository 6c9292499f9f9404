"""Console exports: file names as spec §7.1 makes them, and CSV cells a spreadsheet cannot run."""

from __future__ import annotations

from cavra_gateway.console.fragments import _inert, file_name


def test_file_names_replace_every_character_outside_the_safe_set() -> None:
    assert (
        file_name("gordplan-go backend/python:fallback", "json") == "gordplan-go-backend-python-fallback.json"
    )
    assert file_name("", "csv") == "record.csv"
    assert len(file_name("x" * 500, "json")) == 125


def test_formula_cells_are_exported_inert() -> None:
    assert _inert("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert _inert("@SUM(A1)") == "'@SUM(A1)"
    assert _inert("slack") == "slack"
