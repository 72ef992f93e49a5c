"""What the CLI prints, in the ``--output`` formats, as ``aws`` prints it: keys in the order of
botocore's model (which the service follows), times in ISO 8601 with ``+00:00``, ``--query``
applied to the whole document. A listing is written as it arrives and always ends whole, with
``NextToken`` to resume from when it did not end."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from qconnect_async._checks import MAX_PAGE_SIZE

from ._base import count

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._base import Invocation

FORMATS = ("json", "text", "table", "ndjson", "csv")
Row = dict[str, Any]


@functools.cache
def _shapes() -> dict[str, Any]:
    """The shapes of botocore's qconnect model: the document the client's open loaded, else
    read from its file (``load_service_model`` would first list every service's directory)."""
    import botocore.loaders

    from qconnect_async._warmup import loaded_service_model

    loaded = loaded_service_model("qconnect")
    if loaded is not None:
        return dict(loaded["shapes"])
    loader = botocore.loaders.create_loader()
    version = loader.determine_latest_version("qconnect", "service-2")
    model: dict[str, Any] = loader.load_data(f"qconnect/{version}/service-2")
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


def format_text(
    value: Any, stream: TextIO, identifier: str | None = None, keys: list[str] | None = None
) -> None:
    """The AWS CLI's ``--output text``: tab-separated scalars, rows named by their key."""
    if isinstance(value, dict):
        keys = sorted(k for k, v in value.items() if _is(v)) if keys is None else keys
        if scalars := [str(value.get(k, "")) for k in keys]:
            line = [identifier.upper(), *scalars] if identifier else scalars
            stream.write("\t".join(line) + "\n")
        for key, nested in sorted((k, v) for k, v in value.items() if k not in keys and not _is(v)):
            format_text(nested, stream, key)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        # One column per scalar key of any element, so that rows line up.
        keys = sorted({k for i in value if isinstance(i, dict) for k, v in i.items() if _is(v)})
        for item in value:
            format_text(item, stream, identifier, keys)
    elif isinstance(value, list):
        scalars = [str(item) for item in value if not isinstance(item, list)]
        if scalars and identifier is not None:
            stream.writelines(f"{identifier.upper()}\t{s}\n" for s in scalars)
        elif scalars:
            stream.write("\t".join(scalars) + "\n")
        for item in value:
            if isinstance(item, list):
                format_text(item, stream, identifier)
    else:
        stream.write(f"{value}\n")


def _is(value: Any) -> bool:
    """A scalar, in the text format's sense."""
    return not isinstance(value, dict | list)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cell(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _compact(value)


class Table:
    """Aligned columns for a person, streamed: widths are fixed by the first rows flushed
    (``first_rows`` of them at most); a later wider cell pushes the rest of its row right."""

    def __init__(self, stream: TextIO, headers: Sequence[str], first_rows: int | None) -> None:
        self._stream, self._headers, self._first_rows = stream, tuple(headers), first_rows
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
            self._pending.insert(0, self._headers)
        for cells in self._pending:
            line = "  ".join(c.ljust(w) for c, w in zip(cells, self._widths, strict=True))
            self._stream.write(line.rstrip() + "\n")
        self._pending = []
        self._stream.flush()


def csv_writer(stream: TextIO, columns: Sequence[str]) -> Callable[[Mapping[str, Any]], None]:
    """Writes a header; returns what writes an object's row (nested values as compact JSON)."""
    import csv

    writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    return lambda row: writer.writerow({k: v if _is(v) else _compact(v) for k, v in row.items()})


def write_value(output: str, value: Any, stream: TextIO) -> None:
    """Print any JSON value (a query's result, a command's answer) in an output format."""
    rows = value if isinstance(value, list) else [value]
    if value is None and output not in ("json", "text"):
        pass  # as the AWS CLI's table: nothing for a null result (json: null, text: None)
    elif output == "json":
        stream.write(json.dumps(value, indent=4, ensure_ascii=False) + "\n")
    elif output == "text":
        format_text(value, stream)
    elif output == "ndjson":
        stream.writelines(_compact(row) + "\n" for row in rows)
    elif all(isinstance(row, dict) for row in rows) and value != []:  # table, csv: objects
        columns = list(dict.fromkeys(k for row in rows for k in row))
        if output == "csv":
            write_row = csv_writer(stream, columns)
            for row in rows:
                write_row(row)
        else:
            table = Table(stream, columns, None)
            for row in rows:
                table.add([_cell(row.get(c)) for c in columns])
            table.flush()
    else:  # table, csv of scalars: one a line
        stream.writelines(f"{_cell(v)}\n" for v in rows)
    stream.flush()


@dataclass(frozen=True)
class ListingSpec:
    """How a listing's items are printed."""

    key: str  # the items' key in the service's answer (and so in ``--output json``)
    noun: str  # what an item is, for the table's count ("import job")
    columns: tuple[tuple[str, str], ...]  # the table's: header, wire name
    csv_columns: str  # wire names, separated by spaces


class ListingWriter:
    """Prints a listing as it comes: ``add(item)``, ``page_done()``; leaving it ends the output,
    with ``token`` to resume from while one is left, unless it failed before anything was
    ``printed`` (as ``aws``). ``raw`` (``--no-paginate``): the answer as the service sent it;
    ``aside`` (stderr): where csv says the token; ``names`` (of KB IDs): a table column.
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
        self._names, self._kbs = names, set[str]()
        self.printed, self._count = False, 0
        self.token: str | None = None  # where the rest starts; None once the listing ended
        self._keys = [key for _, key in spec.columns]
        if self._format == "table":
            headers = ["KNOWLEDGE BASE"] if names is not None else []
            headers += [header for header, _ in spec.columns]
            self._table = Table(self._out, headers, MAX_PAGE_SIZE)
        elif self._format == "csv":
            self._csv = csv_writer(self._out, spec.csv_columns.split())

    def add(self, row: Row) -> None:
        self._count += 1
        if self._format in ("query", "text"):
            self._rows.append(row)
        elif self._format == "json":
            text = json.dumps(row, indent=4, ensure_ascii=False).replace("\n", "\n        ")
            head = f'{{\n    "{self._spec.key}": [\n' if self._count == 1 else ",\n"
            self._out.write(f"{head}        {text}")
        elif self._format == "table":
            # A time as ``2026-12-07 05:59:20`` (UTC, in the header).
            cells = [
                row[k][:19].replace("T", " ") if k.endswith("Time") else str(row[k])
                for k in self._keys
            ]
            if self._names is not None:
                self._kbs.add(kb := row["knowledgeBaseId"])
                cells.insert(0, self._names.get(kb, kb))
            self._table.add(cells)
        elif self._format == "ndjson":
            self._out.write(_compact(row) + "\n")
            self._out.flush()
        else:
            self._csv(row)

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
        if kind is not None and issubclass(kind, Exception) and not self.printed:
            return
        key, token_key, out, token = self._spec.key, self._token_key, self._out, self.token
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
            kbs = "" if self._names is None else f" in {len(self._kbs)} knowledge bases"
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
