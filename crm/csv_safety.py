"""Spreadsheet-safe CSV cells (CSV/formula injection, OWASP).

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return followed by one) as a formula, so a contact who types `=HYPERLINK(…)` as a name could act on
the machine of whoever opens an export. Every CSV the product writes passes its cells through
`safe_cell`, which prefixes such a text with a single quote: spreadsheets then show it as text, and
a program reading the file sees the quote and can strip it. Phone numbers in E.164 start with `+`,
so plain-text phones appear as `'+972…` in exports; the ad-platform formats hash phones (hex digits
only), so their files are unchanged.
"""

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, or a text that starts like a formula with a single quote in front."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values) -> list:
    return [safe_cell(value) for value in values]


class SafeWriter:
    """A csv.writer whose rows are made spreadsheet-safe first."""

    def __init__(self, writer) -> None:
        self._writer = writer

    def writerow(self, values) -> Any:
        return self._writer.writerow(safe_row(values))
