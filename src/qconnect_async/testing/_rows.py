"""The rows of a quick-response CSV, checked as the service checks them: the failed-record report.

A UTF-8 CSV whose header row names at least the columns `Name` and `Content`, then at most 100
data rows (the console's limit). Columns are matched ignoring case, spaces, `_` and `-`; each
known column's cells are checked against the shape botocore's model gives that field of a quick
response (`COLUMNS`: lengths, and the content type's pattern); an empty optional cell is absent.
A row is refused when a required cell is empty, a cell breaks its shape, it has more cells than
the header, it is past the 100th, or it cannot be read as CSV (a cell over csv's 128 KiB field
limit: reading stops there, that row is the report's last). A blank line is no record. The
report is a CSV of the refused rows: `RowNumber`, the row's cells under the upload's header, and
`ErrorMessage`.
"""

from __future__ import annotations

import csv
import io
import re

from ._model import check_value

#: Column (normalised) -> the model's shape of that quick-response field.
COLUMNS = {
    "name": "QuickResponseName",
    "content": "QuickResponseContent",
    "contenttype": "QuickResponseType",
    "shortcutkey": "ShortCutKey",
    "language": "LanguageCode",
    "description": "QuickResponseDescription",
}
#: The columns a quick-response row cannot do without.
REQUIRED_COLUMNS = ("Name", "Content")
#: Rows one quick-response CSV may hold (the console's limit).
MAX_ROWS = 100
_NOISE = re.compile(r"[\s_-]+")


def _column(name: str) -> str:
    return _NOISE.sub("", name).lower()


def failed_record_report(content: bytes) -> bytes | None:
    """The failed-record report of a quick-response CSV; None when every row is good."""
    text = content.decode("utf-8-sig", errors="replace")
    rows: list[list[str]] = []
    unreadable = None
    try:
        rows.extend(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        # The uploader's fault, as a bad row is: the job fails with a report, never a 500.
        unreadable = f"the row cannot be read as CSV: {exc}"
    if not rows and unreadable is None:
        return None
    header, data = (rows[0], rows[1:]) if rows else ([], [])
    failures: list[list[str]] = []
    for number, row in enumerate(data, start=1):
        if not any(cell.strip() for cell in row):
            continue  # a blank line is not a record
        reason = _reason(row, number, header)
        if reason is not None:
            failures.append([str(number), *row[: len(header)], reason])
    if unreadable is not None:
        failures.append([str(len(data) + 1), *([""] * len(header)), unreadable])
    if not failures:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["RowNumber", *header, "ErrorMessage"])
    writer.writerows(failures)
    return out.getvalue().encode()


def _reason(row: list[str], number: int, header: list[str]) -> str | None:
    columns = {_column(name): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED_COLUMNS if _column(name) not in columns]
    if missing:
        return f"the header has no {' or '.join(missing)} column"
    if number > MAX_ROWS:
        return f"a file holds at most {MAX_ROWS} quick responses"
    if len(row) > len(header):
        return f"the row has {len(row)} cells, the header {len(header)}"
    for name in REQUIRED_COLUMNS:
        index = columns[_column(name)]
        if index >= len(row) or not row[index].strip():
            return f"{name} is required"
    for index, cell in enumerate(row):
        shape = COLUMNS.get(_column(header[index]))
        if shape is not None and cell.strip():
            message = check_value(shape, cell, header[index].strip())
            if message is not None:
                return message
    return None
