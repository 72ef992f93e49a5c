"""`python -m benchmarks`: run every section against one server process and print the table."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from qconnect_async.testing import RemoteQConnectServer

from . import (
    cli,
    cpu,
    fanout,
    fleet,
    fleet_redis,
    interactive,
    memory,
    openstall,
    profiling,
    router,
    sendrate,
    throttled,
    waitmany,
)
from ._common import Section, isolated_aws_env
from ._report import machine, progress, render, write_json
from ._server import serve

Runner = Callable[..., Section]
SECTIONS: dict[str, Runner] = {
    "cpu": cpu.run,
    "fanout": fanout.run,
    "throttled": throttled.run,
    "throttled_quota": throttled.run_quota,
    "throttled_long": throttled.run_long,
    "sendrate": sendrate.run,
    "fleet": fleet.run,
    "fleet_redis": fleet_redis.run,
    "fleet_redis_long": fleet_redis.run_long,
    "interactive": interactive.run,
    "fastapi_shed": interactive.run_shed,
    "memory": memory.run,
    "openstall": openstall.run,
    "cli": cli.run,
    "waitmany": waitmany.run,
    "router": router.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="qconnect_async against raw aiobotocore and boto3, on a local fake service.",
    )
    add = parser.add_argument
    add("--smoke", action="store_true", help="tiny sizes, one run each (a few seconds)")
    add("--only", choices=sorted(SECTIONS), metavar="NAME", help=f"one of {sorted(SECTIONS)}")
    add("--runs", type=int, metavar="N", help="measured runs per section (default 5)")
    add("--awscli", action="store_true", help="also run awscli (builds .venv-awscli once)")
    add("--burners", type=int, default=0, metavar="N", help="openstall: N busy processes beside")
    add("--json", type=Path, metavar="PATH", help="also save the results as JSON")
    add("--profile", action="store_true", help="cProfile qconnect_async's per-page path")
    add("--profile-pages", type=int, default=200, metavar="N", help="pages to profile")
    add("--top", type=int, default=15, metavar="N", help="functions per profile table")
    return parser


def _sections(
    server: RemoteQConnectServer, names: Sequence[str], args: argparse.Namespace
) -> list[Section]:
    done = []
    for name in names:
        started = time.perf_counter()
        progress(f"[{name}] running...")
        extra: dict[str, object] = {"awscli": args.awscli} if name == "cli" else {}
        if name == "openstall":
            extra = {"burners": args.burners}
        done.append(SECTIONS[name](server, smoke=args.smoke, runs=args.runs, **extra))
        progress(f"[{name}] done in {time.perf_counter() - started:.1f} s")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 once the table is printed (missed goals are reported, not fatal)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    started = time.perf_counter()
    info = machine()
    with isolated_aws_env(), serve() as server:
        if args.profile:
            print(profiling.run(server, pages=args.profile_pages, top=args.top))
            return 0
        names = [args.only] if args.only else list(SECTIONS)
        sections = _sections(server, names, args)
        endpoint = server.endpoint_url
    took = time.perf_counter() - started
    print(render(info, sections, smoke=args.smoke, endpoint=endpoint, took=took))
    if args.json is not None:
        write_json(args.json, info, sections, smoke=args.smoke, took=took)
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Unwind like Ctrl-C does, so that the server process is terminated on the way out.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server process was stopped", file=sys.stderr)
        sys.exit(130)
