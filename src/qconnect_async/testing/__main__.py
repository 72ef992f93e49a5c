"""Serve a QConnectServer until interrupted: `python -m qconnect_async.testing --port 0`.

Once the server listens, prints its endpoint URL alone on the first line of stdout (a parent
process can read it), then the region and the IDs of the seeded knowledge bases; with
`--json`, one line `{"endpoint_url", "region", "knowledge_base_ids"}` instead. Drive it
further with RemoteQConnectServer(url).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
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
    add(
        "--rate-limit",
        type=float,
        metavar="R",
        help="serve R requests/s, then 400 ThrottlingException",
    )
    add("--burst", type=int, default=1, metavar="B", help="requests allowed at once (default 1)")
    add("--latency", type=float, default=0.0, metavar="S", help="add S seconds to each response")
    add("--latency-operation", metavar="OP", help="add the latency to OP only, e.g. ListImportJobs")
    add("--random-faults", type=float, default=0.0, metavar="P", help="fail requests with P")
    add("--random-seed", type=int, metavar="SEED", help="seed of the random faults")
    add("--complete-after-reads", type=int, default=1, metavar="N", help="started jobs' reads")
    add("--complete-after-seconds", type=float, metavar="S", help="started jobs' duration")
    add("--json", action="store_true", help="print one JSON line: URL, region, seeded KB IDs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    try:
        from ._server import QConnectServer, settle_heap
    except ModuleNotFoundError as exc:
        missing = (exc.name or "moto").split(".")[0]
        print(
            f"error: the fake service needs the testing extra ({missing} is not installed): "
            "pip install 'qconnect-async[testing]'",
            file=sys.stderr,
        )
        return 1

    server = QConnectServer(
        host=args.host,
        port=args.port,
        region=args.region,
        default_page_size=args.default_page_size,
        complete_after_reads=args.complete_after_reads,
        complete_after_seconds=args.complete_after_seconds,
    )
    # A flag, not a threading.Event: the handler runs on the main thread between two bytecodes,
    # possibly while that thread holds the Event's lock inside Event.wait, and set() would then
    # wait for that lock for ever.
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # This process is the server's own: its heap can be settled after each seeding.
    server.settle_after_changes = True
    with server:
        try:
            kbs = server.seed(args.seed_kbs, args.jobs_per_kb)
            settle_heap()
            if args.rate_limit is not None:
                server.set_rate_limit(args.rate_limit, burst=args.burst)
            if args.latency:
                server.set_latency(args.latency, args.latency_operation)
            if args.random_faults:
                server.random_faults(args.random_faults, seed=args.random_seed)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            info = {"endpoint_url": server.endpoint_url, "region": server.region}
            print(json.dumps({**info, "knowledge_base_ids": kbs}), flush=True)
        else:
            print(server.endpoint_url)
            print(f"region: {server.region}")
            jobs = f" ({args.jobs_per_kb} import jobs each)" if kbs else ""
            print(f"knowledge bases: {len(kbs)}{jobs}")
            for kb in kbs:
                print(kb)
            sys.stdout.flush()
        while not stopping:
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
