"""What the CLI prints: documents in the service's key order, the ``--output`` formats.

Every document is printed as ``aws`` prints it: keys in the order of the service's answer
(botocore's model of the operation, which the service follows), times in ISO 8601 with
``+00:00``. A listing is written as it arrives: ``add(item)`` per item, ``page_done()`` after
each page, then ``finish(next_token)`` once, also when the listing failed or was interrupted,
so that ``json`` is always a whole document (with ``NextToken`` to resume from when the
listing did not end). With ``--query`` the document is kept whole and the query applied at the
end, as the AWS CLI does. One table renderer and one CSV writer serve every command.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from qconnect_async._checks import MAX_PAGE_SIZE

from ._progress import count

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._base import Invocation

FORMATS = ("json", "text", "table", "ndjson", "csv")
Row = dict[str, Any]


# -- documents in the service's order ----------------------------------------------------------


@functools.cache
def _shapes() -> dict[str, Any]:
    """The shapes of botocore's qconnect model (what ``aws`` orders its output by)."""
    import botocore.loaders

    model: dict[str, Any] = botocore.loaders.create_loader().load_service_model(
        "qconnect", "service-2"
    )
    return dict(model["shapes"])


def in_service_order(value: Any, shape_name: str) -> Any:
    """``value`` (a shape of the model) with keys in the model's order, times as aws prints
    them; keys the model does not know (newer than this botocore) follow, as they came."""
    shape = _shapes().get(shape_name, {})
    kind = shape.get("type")
    if kind == "structure" and isinstance(value, dict):
        members = shape["members"]
        out = {k: in_service_order(value[k], members[k]["shape"]) for k in members if k in value}
        return out | {k: v for k, v in value.items() if k not in out}
    if kind == "list" and isinstance(value, list):
        return [in_service_order(item, shape["member"]["shape"]) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: in_service_order(v, shape["value"]["shape"]) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()  # a raw field the model kept
    if kind == "timestamp" and isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + "+00:00"
    return value


def wire(model: BaseModel, shape_name: str, **extra: Any) -> Row:
    """A model as ``aws`` prints it: wire names in the service's order, no nulls."""
    data = model.model_dump(by_alias=True, mode="json", exclude_none=True) | extra
    return dict(in_service_order(data, shape_name))


# -- the text format (the AWS CLI's) -----------------------------------------------------------


def format_text(
    value: Any, stream: TextIO, identifier: str | None = None, keys: list[str] | None = None
) -> None:
    """The AWS CLI's ``--output text``: tab-separated scalars, rows named by their key."""
    if isinstance(value, dict):
        if keys is None:
            keys = sorted(k for k, v in value.items() if _is(v))
        scalars = [_scalar(value.get(k, "")) for k in keys]
        if scalars:
            stream.write("\t".join([identifier.upper(), *scalars] if identifier else scalars))
            stream.write("\n")
        for key, nested in sorted((k, v) for k, v in value.items() if k not in keys and not _is(v)):
            format_text(nested, stream, key)
    elif isinstance(value, list):
        _text_list(value, stream, identifier)
    else:
        stream.write(f"{_scalar(value)}\n")


def _text_list(items: list[Any], stream: TextIO, identifier: str | None) -> None:
    if any(isinstance(item, dict) for item in items):
        # One column per scalar key of any element, so that rows line up.
        keys = sorted({k for i in items if isinstance(i, dict) for k, v in i.items() if _is(v)})
        for item in items:
            format_text(item, stream, identifier, keys)
        return
    scalars = [_scalar(item) for item in items if not isinstance(item, list)]
    if scalars and identifier is not None:
        stream.writelines(f"{identifier.upper()}\t{s}\n" for s in scalars)
    elif scalars:
        stream.write("\t".join(scalars) + "\n")
    for item in items:
        if isinstance(item, list):
            format_text(item, stream, identifier)


def _is(value: Any) -> bool:
    """A scalar, in the text format's sense."""
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _compact(value)


# -- the one table renderer and the one CSV writer ---------------------------------------------


class Table:
    """Aligned columns for a person, streamed: widths are fixed by the first rows flushed
    (``first_rows`` of them at most); a later wider cell pushes the rest of its row right."""

    def __init__(self, stream: TextIO, headers: Sequence[str], first_rows: int | None) -> None:
        self._stream = stream
        self._headers = tuple(headers)
        self._first_rows = first_rows
        self._pending: list[Sequence[str]] = []
        self._widths: list[int] | None = None

    def add(self, cells: Sequence[str]) -> None:
        self._pending.append(cells)
        if self._widths is not None or len(self._pending) == self._first_rows:
            self.flush()

    def flush(self) -> None:
        if self._widths is None:
            if not self._pending:
                return
            columns = zip(self._headers, *self._pending, strict=True)
            self._widths = [max(len(cell) for cell in column) for column in columns]
            self._line(self._headers)
        for cells in self._pending:
            self._line(cells)
        self._pending = []
        self._stream.flush()

    def _line(self, cells: Sequence[str]) -> None:
        assert self._widths is not None
        text = "  ".join(c.ljust(w) for c, w in zip(cells, self._widths, strict=True))
        self._stream.write(text.rstrip() + "\n")


class Csv:
    """A header, then a row per object (nested values as compact JSON, other keys left out)."""

    def __init__(self, stream: TextIO, columns: Sequence[str]) -> None:
        import csv

        self._writer = csv.DictWriter(
            stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        self._writer.writeheader()

    def add(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({k: v if _is(v) else _compact(v) for k, v in row.items()})


def write_value(output: str, value: Any, stream: TextIO) -> None:
    """Print any JSON value (a query's result, a command's answer) in an output format."""
    if value is None and output not in ("json", "text"):
        pass  # as the AWS CLI's table: nothing for a null result (json: null, text: None)
    elif output == "json":
        stream.write(json.dumps(value, indent=4, ensure_ascii=False) + "\n")
    elif output == "text":
        format_text(value, stream)
    elif output == "ndjson":
        stream.writelines(_compact(row) + "\n" for row in _rows(value))
    elif all(isinstance(row, dict) for row in _rows(value)) and value != []:
        rows = _rows(value)  # table, csv: rows of a list of objects
        columns = list(dict.fromkeys(k for row in rows for k in row))
        if output == "csv":
            writer = Csv(stream, columns)
            for row in rows:
                writer.add(row)
        else:
            table = Table(stream, columns, None)
            for row in rows:
                table.add([_cell(row.get(c)) for c in columns])
            table.flush()
    else:  # table, csv of scalars: one a line
        stream.writelines(f"{_cell(v)}\n" for v in _rows(value))
    stream.flush()


def _rows(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def write_document(output: str, document: Row, stream: TextIO, *, query: Any = None) -> None:
    """A command's answer (``{"importJob": {...}}``): whole in json and text and to
    ``--query``; its one object a line (ndjson), a row (csv), a FIELD/VALUE table."""
    (item,) = document.values()
    if query is not None:
        write_value(output, query.search(document), stream)
    elif output in ("json", "text"):
        write_value(output, document, stream)
    elif output == "table":
        write_value(output, [{"FIELD": k, "VALUE": v} for k, v in item.items()], stream)
    else:
        write_value(output, item, stream)


# -- listings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingSpec:
    """How a listing's items are printed."""

    #: the items' key in the service's answer (and so in ``--output json``)
    key: str
    #: what an item is, for the table's count ("import job")
    noun: str
    #: the table's columns: a header, and the cell of an item
    columns: tuple[tuple[str, Callable[[Row], str]], ...]
    #: the columns of ``--output csv``: wire names
    csv_columns: tuple[str, ...]


class ListingWriter:
    """Prints a listing as it comes (see the module's docstring), in the invocation's format;
    as a context manager, ends the output however the listing ends.

    Done, interrupted, or failed after items were printed (``printed``): the output is
    completed (json a whole document) with ``token``, to resume from, when the listing did
    not end. A failure before anything was printed prints nothing, as ``aws`` does.
    ``raw`` (``--no-paginate``): the one answer as the service sent it, its own ``nextToken``
    instead of a ``NextToken``; ``aside`` (stderr) gets the token when the format has no
    place for it (csv); ``names`` (KB ID to name) adds a knowledge base column to the table.
    """

    def __init__(
        self,
        spec: ListingSpec,
        inv: Invocation,
        *,
        raw: bool = False,
        aside: TextIO | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self._spec, self._inv, self._out, self._raw, self._aside = spec, inv, inv.stdout, raw, aside
        self._format = "query" if inv.query is not None else inv.output
        self._token_key = "nextToken" if raw else "NextToken"
        self._rows: list[Row] = []  # not printed yet: the page (text), all of it (--query)
        self._kbs: set[str] | None = None if names is None else set()
        self.printed, self._count = False, 0
        self.token: str | None = None  # where the rest starts; None once the listing ended
        columns = spec.columns
        if names is not None:
            columns = (("KNOWLEDGE BASE", lambda row: _name(names, row)), *columns)
        self._cells = [cell for _, cell in columns]
        if self._format == "table":
            self._table = Table(self._out, [header for header, _ in columns], MAX_PAGE_SIZE)
        elif self._format == "csv":
            self._csv = Csv(self._out, spec.csv_columns)

    def add(self, row: Row) -> None:
        self._count += 1
        if self._format in ("query", "text"):
            self._rows.append(row)
        elif self._format == "json":
            text = json.dumps(row, indent=4, ensure_ascii=False).replace("\n", "\n        ")
            head = f'{{\n    "{self._spec.key}": [\n' if self._count == 1 else ",\n"
            self._out.write(f"{head}        {text}")
        elif self._format == "table":
            if self._kbs is not None:
                self._kbs.add(row["knowledgeBaseId"])
            self._table.add([cell(row) for cell in self._cells])
        elif self._format == "ndjson":
            self._out.write(_compact(row) + "\n")
            self._out.flush()
        else:
            self._csv.add(row)

    def page_done(self) -> None:
        if self._format == "text" and not self._raw:
            format_text({self._spec.key: self._rows}, self._out)
            self._rows = []
        elif self._format == "table":
            self._table.flush()
        self._out.flush()

    def __enter__(self) -> ListingWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        self._inv.progress.clear()
        if kind is None or not issubclass(kind, Exception) or self.printed:
            self._finish(self.token)

    def _finish(self, token: str | None) -> None:
        key, token_key, out = self._spec.key, self._token_key, self._out
        document: Row = {key: self._rows} | ({token_key: token} if token is not None else {})
        if self._format == "query":
            write_value(self._inv.output, self._inv.query.search(document), out)
        elif self._format == "json":
            end = "\n    ]" if self._count else f'{{\n    "{key}": []'
            if token is not None:
                end += f',\n    "{token_key}": {json.dumps(token)}'
            out.write(end + "\n}\n")
        elif self._format == "text" and self._raw:
            format_text(document, out)  # the one answer whole, as aws prints a response
        elif self._format == "text":
            self.page_done()
            if token is not None:  # what aws prints for a resume token: a named row
                format_text({token_key: {token_key: token}}, out)
        elif self._format == "table":
            self._table.flush()
            kbs = "" if self._kbs is None else f" in {len(self._kbs)} knowledge bases"
            out.write(f"{count(self._count, self._spec.noun)}{kbs}\n")
            if token is not None:
                out.write(f"{token_key}: {token}\n")
        elif self._format == "ndjson" and token is not None:
            out.write(_compact({token_key: token}) + "\n")
        elif self._format == "csv" and token is not None and self._aside is not None:
            # Cut short (--max-items, Ctrl-C, a failure): say where to resume from.
            self._aside.write(f"{token_key}: {token}\n")
            self._aside.flush()
        out.flush()


def _name(names: Mapping[str, str], row: Row) -> str:
    return names.get(row["knowledgeBaseId"], row["knowledgeBaseId"])


def time_cell(value: str) -> str:
    """An ISO 8601 time as a table shows it: ``2026-12-07 05:59:20``."""
    return value[:19].replace("T", " ")
