"""Export every import job of knowledge bases to an NDJSON file, resumable after interruption.

    python examples/export_jobs.py OUT.ndjson [--state STATE.json] [KB ...]   (all KBs if none)

Run the same command again after a failure, Ctrl-C or crash: finished knowledge bases are
skipped, the others resume from the last page written, and no job is written twice or lost.

How: pages are the unit of work. Each page's jobs are written to OUT and flushed to disk, and
only then is the state file (default OUT.state.json) replaced, atomically, to record that KB's
next_token, whether it is finished, and OUT's size. On restart OUT is first cut back to the size
the state file recorded, dropping any page written after the last state save; that page is
listed again from the saved token. Region, credentials and endpoint come from the usual AWS
settings (AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_QCONNECT, ...).

Exit status: 0 all exported, 1 some KBs failed (run again to resume), 2 bad arguments,
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from qconnect_async import ImportJobPage, QConnectClient, QConnectError, ValidationError

STATE_VERSION = 1


@dataclass
class State:
    """What is safely on disk: OUT's size, and per KB where to resume."""

    path: Path
    output_bytes: int = 0
    #: KB ID -> {"next_token": str | None, "done": bool, "jobs": int}
    knowledge_bases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        """The saved state, or a fresh one if there is no state file."""
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: not a state file of this program")
        return cls(path, data["output_bytes"], data["knowledge_bases"])

    def entry(self, knowledge_base_id: str) -> dict[str, Any]:
        return self.knowledge_bases.setdefault(
            knowledge_base_id, {"next_token": None, "done": False, "jobs": 0}
        )

    def save(self) -> None:
        """Replace the state file atomically: a crash leaves the old one or the new one."""
        data = {
            "version": STATE_VERSION,
            "output_bytes": self.output_bytes,
            "knowledge_bases": self.knowledge_bases,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def open_output(path: Path, state: State) -> IO[bytes]:
    """OUT opened for appending, cut back to what the state file says was committed."""
    size = path.stat().st_size if path.exists() else 0
    if not state.path.exists() and size:
        raise ValueError(f"{path} exists but {state.path} does not: nothing to resume from")
    if size < state.output_bytes:
        raise ValueError(f"{path} is shorter than {state.path} records: it was changed")
    out = path.open("ab")
    out.truncate(state.output_bytes)  # bytes past it belong to a page never recorded as done
    return out


class Sink:
    """Commits pages: jobs to OUT, flushed and synced, then the state file."""

    def __init__(self, out: IO[bytes], state: State) -> None:
        self._out = out
        self._state = state

    def commit(self, page: ImportJobPage) -> None:
        # Synchronous on purpose: no await between writing a page and saving the state, so
        # another KB's page cannot interleave and a cancellation cannot split the two.
        data = b"".join(
            json.dumps(job.model_dump(by_alias=True, mode="json", exclude_none=True)).encode()
            + b"\n"
            for job in page.items
        )
        self._out.write(data)
        self._out.flush()
        os.fsync(self._out.fileno())
        entry = self._state.entry(page.knowledge_base_id)
        entry["next_token"] = page.next_token
        entry["done"] = page.next_token is None
        entry["jobs"] += len(page.items)
        self._state.output_bytes += len(data)
        self._state.save()


def _checked_id(client: QConnectClient, kb: str) -> str:
    """The ID of a KB given as an ID or an ARN (which ends in its ID), checked by the client."""
    client.list_import_jobs(kb)  # refuses anything else (ValidationError), sending nothing
    return kb.rsplit("/", 1)[-1]


async def export(
    client: QConnectClient,
    sink: Sink,
    state: State,
    knowledge_bases: Sequence[str] | None,
    *,
    page_size: int | None = None,
    concurrency: int = 4,
    on_page: Callable[[ImportJobPage], None] | None = None,
) -> list[QConnectError]:
    """Export the KBs not finished yet, ``concurrency`` at a time; the errors of those that
    failed (their committed pages stay, and a later run resumes them)."""
    if knowledge_bases is None:
        ids = [kb.knowledge_base_id async for kb in client.list_knowledge_bases()]
    else:
        ids = [_checked_id(client, kb) for kb in knowledge_bases]
    todo = [kb for kb in dict.fromkeys(ids) if not state.entry(kb)["done"]]
    slots = asyncio.Semaphore(concurrency)
    errors: list[QConnectError] = []

    async def one(kb: str) -> None:
        async with slots:
            token = state.entry(kb)["next_token"]
            listing = client.list_import_jobs(kb, page_size=page_size, starting_token=token)
            try:
                async with listing:
                    async for page in listing.pages():
                        sink.commit(page)
                        if on_page is not None:
                            on_page(page)
            except QConnectError as exc:  # the other KBs go on; this one resumes next run
                errors.append(exc)

    async with asyncio.TaskGroup() as tasks:
        for kb in todo:
            tasks.create_task(one(kb))
    return errors


class Progress:
    """Jobs written and KBs finished: a redrawn line on a terminal, else a line per KB."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self.jobs = 0
        self.finished = 0

    def page(self, page: ImportJobPage) -> None:
        self.jobs += len(page.items)
        if page.next_token is None:
            self.finished += 1
            if not self._tty:
                print(f"{page.knowledge_base_id}: done", file=self._stream, flush=True)
        if self._tty:
            text = f"\r\x1b[Kexported {self.jobs} jobs, {self.finished} knowledge bases finished"
            self._stream.write(text)
            self._stream.flush()

    def clear(self) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.isdigit() and low <= int(text) <= high):
            raise argparse.ArgumentTypeError(f"expected a number from {low} to {high}")
        return int(text)

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_jobs.py", description="Export every import job of knowledge bases, resumably."
    )
    parser.add_argument("output", type=Path, metavar="OUT.ndjson")
    parser.add_argument("knowledge_bases", nargs="*", metavar="KB", help="IDs or ARNs (all)")
    parser.add_argument("--state", type=Path, help="state file (default OUT.state.json)")
    parser.add_argument("--page-size", type=_bounded(1, 100), help="jobs per request (100)")
    parser.add_argument("--concurrency", type=_bounded(1, 64), default=4, help="KBs at once (4)")
    args = parser.parse_intermixed_args(argv)
    state_path: Path = args.state or args.output.with_name(args.output.name + ".state.json")
    try:
        state = State.load(state_path)
        out = open_output(args.output, state)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = Progress(sys.stderr)
    try:
        with out:
            errors = asyncio.run(_run(args, Sink(out, state), state, progress))
    except KeyboardInterrupt:
        progress.clear()
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except ValidationError as exc:
        progress.clear()
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except QConnectError as exc:
        progress.clear()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress.clear()
    total = sum(kb["jobs"] for kb in state.knowledge_bases.values())
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} knowledge bases failed: run again to resume", file=sys.stderr)
        return 1
    print(f"{total} import jobs in {args.output}", file=sys.stderr)
    return 0


async def _run(
    args: argparse.Namespace, sink: Sink, state: State, progress: Progress
) -> list[QConnectError]:
    async with QConnectClient() as client:
        return await export(
            client,
            sink,
            state,
            args.knowledge_bases or None,
            page_size=args.page_size,
            concurrency=args.concurrency,
            on_page=progress.page,
        )


if __name__ == "__main__":
    sys.exit(main())
