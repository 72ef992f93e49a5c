"""What the CLI prints: one writer per output format, and the progress line on stderr.

Like ``cli.py``, this module uses only the public face of the package.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TextIO

from qconnect_async import ImportJob, QConnectError

__all__ = ["CSV_COLUMNS", "FORMATS", "JobWriter", "Progress", "make_writer", "wire"]

FORMATS = ("table", "json", "ndjson", "csv")
#: The columns of ``--output csv``: the wire names; nested values are compact JSON.
CSV_COLUMNS = (
    "importJobId",
    "knowledgeBaseId",
    "status",
    "importJobType",
    "createdTime",
    "lastModifiedTime",
    "uploadId",
    "knowledgeBaseArn",
    "metadata",
    "externalSourceConfiguration",
)
_NESTED = ("metadata", "externalSourceConfiguration")


def wire(job: ImportJob) -> dict[str, Any]:
    """A job in the API's wire shape: camelCase keys, ISO timestamps, absent fields left out."""
    return job.model_dump(by_alias=True, mode="json", exclude_none=True)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class JobWriter(Protocol):
    """Prints jobs as they come; ``finish`` completes the output once the listing succeeded."""

    def write(self, job: ImportJob) -> None: ...

    def finish(self) -> None: ...


class _Ndjson:
    """One JSON object a line, flushed as each job arrives."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, job: ImportJob) -> None:
        self._stream.write(_compact(wire(job)) + "\n")
        self._stream.flush()

    def finish(self) -> None:
        self._stream.flush()


class _JsonArray:
    """One JSON array, one job a line. Streamed: a failed listing leaves it unclosed (invalid
    JSON), so partial output can never pass for a complete one."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._count = 0

    def write(self, job: ImportJob) -> None:
        self._stream.write(("[\n  " if self._count == 0 else ",\n  ") + json.dumps(wire(job)))
        self._count += 1

    def finish(self) -> None:
        self._stream.write("\n]\n" if self._count else "[]\n")
        self._stream.flush()


class _Csv:
    """A header, then a row per job (flat columns; nested values as compact JSON)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._csv = csv.DictWriter(
            stream, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        self._csv.writeheader()

    def write(self, job: ImportJob) -> None:
        row = wire(job)
        for key in _NESTED:
            if key in row:
                row[key] = _compact(row[key])
        self._csv.writerow(row)

    def finish(self) -> None:
        self._stream.flush()


class _Table:
    """Aligned columns for a person, one section per knowledge base, printed at the end."""

    HEADERS = ("IMPORT JOB ID", "STATUS", "TYPE", "CREATED (UTC)", "LAST MODIFIED (UTC)")

    def __init__(self, stream: TextIO, order: Sequence[str], names: Mapping[str, str]) -> None:
        self._stream = stream
        self._names = names
        self._jobs: dict[str, list[ImportJob]] = {kb: [] for kb in order}

    def write(self, job: ImportJob) -> None:
        self._jobs.setdefault(job.knowledge_base_id, []).append(job)

    def finish(self) -> None:
        sections = {
            kb: [_row(j) for j in sorted(jobs, key=lambda j: (j.created_time, j.import_job_id))]
            for kb, jobs in self._jobs.items()
        }
        rows = [row for section in sections.values() for row in section]
        columns = zip(self.HEADERS, *rows, strict=True)
        widths = [max(len(cell) for cell in column) for column in columns]

        def line(cells: Sequence[str]) -> str:
            return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        out: list[str] = []
        for kb, section in sections.items():
            name = self._names.get(kb)
            title = f"{name} ({kb})" if name else kb
            out += [f"Knowledge base {title}: {_count(len(section))}", line(self.HEADERS)]
            out += [line(row) for row in section] + [""]
        out.append(f"{_count(len(rows))} in {len(sections)} knowledge base(s)")
        self._stream.write("\n".join(out) + "\n")
        self._stream.flush()


def _row(job: ImportJob) -> tuple[str, ...]:
    return (
        job.import_job_id,
        str(job.status),
        str(job.import_job_type),
        f"{job.created_time:%Y-%m-%d %H:%M:%S}",
        f"{job.last_modified_time:%Y-%m-%d %H:%M:%S}",
    )


def _count(n: int) -> str:
    return f"{n} import job{'' if n == 1 else 's'}"


def make_writer(
    output: str, stream: TextIO, *, order: Sequence[str], names: Mapping[str, str]
) -> JobWriter:
    """The writer of an ``--output`` format (``order`` and ``names`` serve the table)."""
    if output == "table":
        return _Table(stream, order, names)
    if output == "json":
        return _JsonArray(stream)
    if output == "ndjson":
        return _Ndjson(stream)
    if output == "csv":
        return _Csv(stream)
    raise ValueError(f"unknown output format {output!r}")


class Progress:
    """One line on a terminal, redrawn: knowledge bases done of the total, jobs so far.

    Disabled (every method a no-op) unless ``enabled``; the CLI enables it only when stderr is
    a TTY. Redraws are limited to one per ``interval`` seconds, except when a KB finishes.
    """

    _ERASE = "\r\x1b[K"

    def __init__(self, stream: TextIO, *, enabled: bool, interval: float = 0.1) -> None:
        self.enabled = enabled
        self._stream = stream
        self._interval = interval
        self._note = ""
        self._total = 0
        self._done = 0
        self._jobs = 0
        self._last = -interval
        self._shown = False

    def note(self, text: str) -> None:
        """Show ``text`` until ``start`` is called."""
        self._note = text
        self._draw(force=True)

    def start(self, total: int) -> None:
        """Counting begins: ``total`` knowledge bases to list."""
        self._note, self._total = "", total
        self._draw(force=True)

    def job(self) -> None:
        """One more job listed."""
        self._jobs += 1
        self._draw()

    def listing_done(self, knowledge_base_id: str, error: QConnectError | None) -> None:
        """A knowledge base's listing ended (the library's ``on_listing_done`` callback)."""
        self._done += 1
        self._draw(force=True)

    def clear(self) -> None:
        """Erase the line (it comes back at the next redraw)."""
        if self._shown:
            self._stream.write(self._ERASE)
            self._stream.flush()
            self._shown = False

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        text = self._note or (
            f"listing: {self._done}/{self._total} knowledge bases done, {_count(self._jobs)}"
        )
        self._stream.write(self._ERASE + text)
        self._stream.flush()
        self._shown = True
