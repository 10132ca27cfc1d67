"""Text that a spreadsheet shows as text, for every file a person may open in one (the CSV
export, the Counting TSV, the cohort and project summaries)."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A class named ``=HYPERLINK(…)`` would run as a formula when the file is opened in Excel
    or LibreOffice (OWASP: CSV injection), so such a cell gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text
