"""Serve a QConnectServer until interrupted: `python -m qconnect_async.testing --port 0`.

Prints the endpoint URL alone on one line of stdout once the server listens, so that a parent
process can read it; drive it further with RemoteQConnectServer(url).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qconnect_async.testing",
        description="A fake Amazon Q in Connect (qconnect) service on moto[server].",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    add("--region", default="us-east-1", help="region of the seeded data (default us-east-1)")
    add("--seed-kbs", type=int, default=0, metavar="N", help="create N knowledge bases")
    add("--jobs-per-kb", type=int, default=0, metavar="M", help="with M import jobs each")
    add("--default-page-size", type=int, default=100, metavar="N", help="page size w/o maxResults")
    add("--rate-limit", type=float, metavar="R", help="serve R requests/s, then 429 Throttling")
    add("--burst", type=int, default=1, metavar="B", help="requests allowed at once (default 1)")
    add("--latency", type=float, default=0.0, metavar="S", help="add S seconds to each response")
    add("--latency-operation", metavar="OP", help="add the latency to OP only, e.g. ListImportJobs")
    add("--random-faults", type=float, default=0.0, metavar="P", help="fail requests with P")
    add("--random-seed", type=int, metavar="SEED", help="seed of the random faults")
    add("--complete-after-reads", type=int, default=1, metavar="N", help="started jobs' reads")
    add("--complete-after-seconds", type=float, metavar="S", help="started jobs' duration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    from ._server import QConnectServer

    server = QConnectServer(
        host=args.host,
        port=args.port,
        region=args.region,
        default_page_size=args.default_page_size,
        complete_after_reads=args.complete_after_reads,
        complete_after_seconds=args.complete_after_seconds,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with server:
        try:
            server.seed(args.seed_kbs, args.jobs_per_kb)
            if args.rate_limit is not None:
                server.set_rate_limit(args.rate_limit, burst=args.burst)
            if args.latency:
                server.set_latency(args.latency, args.latency_operation)
            if args.random_faults:
                server.random_faults(args.random_faults, seed=args.random_seed)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(server.endpoint_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
