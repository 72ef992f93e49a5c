"""What the CLI prints: one writer per ``--output`` format, and the progress line on stderr.

A listing is written as it arrives: ``add(job)`` per job, ``page_done()`` after each page,
then ``finish(next_token)`` once, also when the listing failed or was interrupted, so that
``json`` is always a complete document (with ``NextToken`` to resume from when the listing
did not end). With ``--query`` the document is kept whole and the query applied at the end,
as the AWS CLI does. Like ``cli.py``, this module uses only the public face of the package.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TextIO

import jmespath

from qconnect_async import ImportJob, QConnectError

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "JOB_KEY",
    "LIST_KEY",
    "ListingWriter",
    "Progress",
    "aws_shape",
    "job_shape",
    "make_writer",
    "write_job",
]

FORMATS = ("json", "text", "table", "ndjson", "csv")
#: The key of the jobs in the service's answer, and so in ``--output json``.
LIST_KEY = "importJobSummaries"
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
_TIMES = ("createdTime", "lastModifiedTime", "urlExpiry")


def aws_shape(job: ImportJob) -> dict[str, Any]:
    """A job as the AWS CLI prints it: wire names, ISO 8601 times with ``+00:00``."""
    data = job.model_dump(by_alias=True, mode="json", exclude_none=True)
    for key in _TIMES:
        value = data.get(key)
        if isinstance(value, str) and value.endswith("Z"):
            data[key] = value[:-1] + "+00:00"
    return data


#: The key of the job in GetImportJob's (and StartImportJob's) answer.
JOB_KEY = "importJob"
_SECRETS = (("url", "url"), ("failed_record_report", "failedRecordReport"))


def job_shape(job: ImportJob) -> dict[str, Any]:
    """A job as ``aws qconnect get-import-job`` prints it, presigned URLs included.

    The user asked for the job, and the URLs are how to use it (the failed-record report
    above all), so stdout has them; errors, progress and logs never do.
    """
    data = aws_shape(job)
    for name, key in _SECRETS:
        secret = getattr(job, name)
        if secret is not None:
            data[key] = secret.get_secret_value()
    return data


def write_job(output: str, job: ImportJob, stream: TextIO, *, query: Any = None) -> None:
    """One job in an output format: ``{"importJob": {...}}`` (json, text, ``--query``), the
    job itself a line (ndjson) or a row (csv), a FIELD/VALUE table for a person."""
    shaped = job_shape(job)
    document = {JOB_KEY: shaped}
    if query is not None:
        write_value(output, query.search(document), stream)
    elif output in ("json", "text"):
        write_value(output, document, stream)
    elif output == "table":
        rows = [{"FIELD": k, "VALUE": v} for k, v in shaped.items()]
        _plain_table(["FIELD", "VALUE"], rows, stream)
        stream.flush()
    else:
        write_value(output, shaped, stream)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ListingWriter(Protocol):
    """Prints a listing as it comes (see the module's docstring)."""

    def add(self, job: ImportJob) -> None: ...

    def page_done(self) -> None: ...

    def finish(self, next_token: str | None) -> None: ...


# -- json --------------------------------------------------------------------------------------


class _Json:
    """``{"importJobSummaries": [...], "NextToken": ...}`` indented by 4, as ``aws`` prints it.

    Streamed: each job is written as it comes, and ``finish`` closes the document, so the
    bytes are exactly ``json.dumps(document, indent=4)`` however the listing ended.
    """

    def __init__(self, stream: TextIO, token_key: str) -> None:
        self._stream = stream
        self._token_key = token_key
        self._count = 0

    def add(self, job: ImportJob) -> None:
        text = json.dumps(aws_shape(job), indent=4, ensure_ascii=False).replace("\n", "\n        ")
        head = f'{{\n    "{LIST_KEY}": [\n' if self._count == 0 else ",\n"
        self._stream.write(f"{head}        {text}")
        self._count += 1

    def page_done(self) -> None:
        self._stream.flush()

    def finish(self, next_token: str | None) -> None:
        out = "\n    ]" if self._count else f'{{\n    "{LIST_KEY}": []'
        if next_token is not None:
            out += f',\n    "{self._token_key}": {json.dumps(next_token)}'
        self._stream.write(out + "\n}\n")
        self._stream.flush()


# -- text (the AWS CLI's text format) ----------------------------------------------------------


def format_text(value: Any, stream: TextIO, identifier: str | None = None) -> None:
    """The AWS CLI's ``--output text``: tab-separated scalars, rows named by their key."""
    _text(value, stream, identifier, None)


def _text(value: Any, stream: TextIO, identifier: str | None, keys: list[str] | None) -> None:
    if isinstance(value, dict):
        _text_dict(value, stream, identifier, keys)
    elif isinstance(value, list):
        _text_list(value, stream, identifier)
    else:
        stream.write(f"{_scalar(value)}\n")


def _text_list(items: list[Any], stream: TextIO, identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        # One column per scalar key of any element, so that rows line up.
        keys = sorted(
            {k for item in items if isinstance(item, dict) for k, v in item.items() if _is(v)}
        )
        for item in items:
            _text(item, stream, identifier, keys)
        return
    scalars = [item for item in items if not isinstance(item, list)]
    if scalars:
        if identifier is not None:
            stream.writelines(f"{identifier.upper()}\t{_scalar(s)}\n" for s in scalars)
        else:
            stream.write("\t".join(_scalar(s) for s in scalars) + "\n")
    for item in items:
        if isinstance(item, list):
            _text(item, stream, identifier, None)


def _text_dict(
    item: dict[str, Any], stream: TextIO, identifier: str | None, keys: list[str] | None
) -> None:
    if keys is None:
        keys = sorted(k for k, v in item.items() if _is(v))
    scalars = [_scalar(item.get(k, "")) for k in keys]
    nested = sorted((k, v) for k, v in item.items() if k not in keys and not _is(v))
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        stream.write("\t".join(scalars) + "\n")
    for key, value in nested:
        _text(value, stream, key, None)


def _is(value: Any) -> bool:
    """A scalar, in the text format's sense."""
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


class _Text:
    """The AWS CLI's text format, a page at a time (as ``aws`` prints a paginated listing),
    then ``NEXTTOKEN<tab>token`` when the listing did not end.

    With ``--no-paginate`` (``raw``) the one answer is printed whole at the end, as ``aws``
    prints a response: its scalar ``nextToken`` first, on a line of its own.
    """

    def __init__(self, stream: TextIO, token_key: str, *, raw: bool) -> None:
        self._stream = stream
        self._token_key = token_key
        self._raw = raw
        self._page: list[dict[str, Any]] = []

    def add(self, job: ImportJob) -> None:
        self._page.append(aws_shape(job))

    def page_done(self) -> None:
        if self._raw:
            return  # one answer, printed whole by finish
        format_text({LIST_KEY: self._page}, self._stream)
        self._page = []
        self._stream.flush()

    def finish(self, next_token: str | None) -> None:
        if self._raw:
            answer: dict[str, Any] = {LIST_KEY: self._page}
            if next_token is not None:
                answer[self._token_key] = next_token
            format_text(answer, self._stream)
        else:
            if self._page:
                self.page_done()
            if next_token is not None:
                # What aws prints for a resume token: a row named by its key.
                format_text({self._token_key: {self._token_key: next_token}}, self._stream)
        self._stream.flush()


# -- table -------------------------------------------------------------------------------------


class _Table:
    """Aligned columns for a person, streamed: widths are fixed by the first page.

    A later cell wider than its column pushes the rest of its row right; nothing waits for
    the end of the listing. A KNOWLEDGE BASE column is shown when several are listed.
    """

    HEADERS = ("IMPORT JOB ID", "STATUS", "TYPE", "CREATED (UTC)", "LAST MODIFIED (UTC)")
    #: Rows gathered before widths are fixed when pages are not marked (a merged listing).
    FIRST_ROWS = 100

    def __init__(self, stream: TextIO, names: Mapping[str, str] | None) -> None:
        self._stream = stream
        self._names = names
        self._headers = (("KNOWLEDGE BASE", *self.HEADERS)) if names is not None else self.HEADERS
        self._pending: list[tuple[str, ...]] = []
        self._widths: list[int] | None = None
        self._count = 0
        self._kbs: set[str] = set()

    def add(self, job: ImportJob) -> None:
        self._count += 1
        self._kbs.add(job.knowledge_base_id)
        self._pending.append(self._row(job))
        if len(self._pending) >= self.FIRST_ROWS or self._widths is not None:
            self.page_done()

    def _row(self, job: ImportJob) -> tuple[str, ...]:
        cells = (
            job.import_job_id,
            str(job.status),
            str(job.import_job_type),
            f"{job.created_time:%Y-%m-%d %H:%M:%S}",
            f"{job.last_modified_time:%Y-%m-%d %H:%M:%S}",
        )
        if self._names is None:
            return cells
        kb = job.knowledge_base_id
        return (self._names.get(kb, kb), *cells)

    def page_done(self) -> None:
        if self._widths is None:
            if not self._pending:
                return
            columns = zip(self._headers, *self._pending, strict=True)
            self._widths = [max(len(cell) for cell in column) for column in columns]
            self._line(self._headers)
        for row in self._pending:
            self._line(row)
        self._pending = []
        self._stream.flush()

    def _line(self, cells: Sequence[str]) -> None:
        assert self._widths is not None
        text = "  ".join(c.ljust(w) for c, w in zip(cells, self._widths, strict=True))
        self._stream.write(text.rstrip() + "\n")

    def finish(self, next_token: str | None) -> None:
        self.page_done()
        kbs = f" in {len(self._kbs)} knowledge bases" if self._names is not None else ""
        self._stream.write(f"{_count(self._count)}{kbs}\n")
        if next_token is not None:
            self._stream.write(f"NextToken: {next_token}\n")
        self._stream.flush()


def _count(n: int) -> str:
    return f"{n} import job{'' if n == 1 else 's'}"


# -- ndjson, csv -------------------------------------------------------------------------------


class _Ndjson:
    """One JSON object a line, flushed as each job arrives; a last ``{"NextToken": ...}``
    line when the listing did not end."""

    def __init__(self, stream: TextIO, token_key: str) -> None:
        self._stream = stream
        self._token_key = token_key

    def add(self, job: ImportJob) -> None:
        self._stream.write(_compact(aws_shape(job)) + "\n")
        self._stream.flush()

    def page_done(self) -> None:
        pass

    def finish(self, next_token: str | None) -> None:
        if next_token is not None:
            self._stream.write(_compact({self._token_key: next_token}) + "\n")
        self._stream.flush()


class _Csv:
    """A header, then a row per job (flat columns; nested values as compact JSON).

    A CSV has no place for a resume token: ``NextToken: ...`` goes to ``aside`` (stderr).
    """

    def __init__(self, stream: TextIO, aside: TextIO | None) -> None:
        self._stream = stream
        self._aside = aside
        self._csv = csv.DictWriter(
            stream, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        self._csv.writeheader()

    def add(self, job: ImportJob) -> None:
        row = aws_shape(job)
        for key in _NESTED:
            if key in row:
                row[key] = _compact(row[key])
        self._csv.writerow(row)

    def page_done(self) -> None:
        self._stream.flush()

    def finish(self, next_token: str | None) -> None:
        self._stream.flush()
        if next_token is not None and self._aside is not None:
            # Cut short (--max-items, Ctrl-C, a failure): say where to resume from.
            self._aside.write(f"NextToken: {next_token}\n")
            self._aside.flush()


# -- --query -----------------------------------------------------------------------------------


class _Queried:
    """Keeps the whole document, applies the JMESPath query at the end, prints the result."""

    def __init__(self, stream: TextIO, output: str, query: Any, token_key: str) -> None:
        self._stream = stream
        self._output = output
        self._query = query
        self._token_key = token_key
        self._jobs: list[dict[str, Any]] = []

    def add(self, job: ImportJob) -> None:
        self._jobs.append(aws_shape(job))

    def page_done(self) -> None:
        pass

    def finish(self, next_token: str | None) -> None:
        document: dict[str, Any] = {LIST_KEY: self._jobs}
        if next_token is not None:
            document[self._token_key] = next_token
        write_value(self._output, self._query.search(document), self._stream)


def write_value(output: str, value: Any, stream: TextIO) -> None:
    """Print any JSON value (a query's result, a command's answer) in an output format."""
    if value is None and output not in ("json", "text"):
        pass  # as the AWS CLI's table: nothing for a null result (json: null, text: None)
    elif output == "json":
        stream.write(json.dumps(value, indent=4, ensure_ascii=False) + "\n")
    elif output == "text":
        format_text(value, stream)
    elif output == "ndjson":
        rows = value if isinstance(value, list) else [value]
        stream.writelines(_compact(row) + "\n" for row in rows)
    else:  # table, csv: rows of a list of objects, else one value a line
        rows = value if isinstance(value, list) else [value]
        if rows and all(isinstance(row, dict) for row in rows):
            columns = list(dict.fromkeys(k for row in rows for k in row))
            if output == "csv":
                writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
                writer.writerows(
                    {k: v if _is(v) else _compact(v) for k, v in row.items()} for row in rows
                )
            else:
                _plain_table(columns, rows, stream)
        else:
            stream.writelines(f"{v if _is(v) else _compact(v)}\n" for v in rows)
    stream.flush()


def _plain_table(columns: list[str], rows: list[dict[str, Any]], stream: TextIO) -> None:
    cells = [[_table_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(columns, *cells, strict=True)]
    for line in [columns, *cells]:
        text = "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        stream.write(text.rstrip() + "\n")


def _table_cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _compact(value)


def make_writer(
    output: str,
    stream: TextIO,
    *,
    query: Any = None,
    names: Mapping[str, str] | None = None,
    raw: bool = False,
    aside: TextIO | None = None,
) -> ListingWriter:
    """The writer of an ``--output`` format.

    ``query`` is a compiled JMESPath expression (``jmespath.compile``); ``names`` (KB ID to
    name) adds a knowledge base column to the table; ``raw`` (``--no-paginate``): the one
    answer as the service sent it, its own ``nextToken`` instead of a ``NextToken``;
    ``aside`` (stderr) gets the resume token of a format with no place for it (csv).
    """
    token_key = "nextToken" if raw else "NextToken"
    if query is not None:
        return _Queried(stream, output, query, token_key)
    if output == "json":
        return _Json(stream, token_key)
    if output == "text":
        return _Text(stream, token_key, raw=raw)
    if output == "table":
        return _Table(stream, names)
    if output == "ndjson":
        return _Ndjson(stream, token_key)
    if output == "csv":
        return _Csv(stream, aside)
    raise ValueError(f"unknown output format {output!r}")


def compile_query(text: str) -> Any:
    """A compiled JMESPath expression; ``jmespath.exceptions.ParseError`` when it is not one."""
    return jmespath.compile(text)


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
