"""AWS settings, resolved as ``aws`` resolves them (the output format, the attempts per request,
the client's options), and ``--demo``'s local fake service."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qconnect_async import RetryPolicy

from ._base import ConfigError, Progress
from ._output import FORMATS


def _config_variable(args: argparse.Namespace, name: str) -> Any:
    """A setting of the AWS environment or profile, as botocore reads it."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session(profile=args.profile)
        if name == "output":
            return session.get_scoped_config().get("output")
        return session.get_config_variable(name)
    except BotoCoreError as exc:
        raise ConfigError(str(exc)) from exc
    except ValueError:
        raise ConfigError(f"{name} (or AWS_{name.upper()}) is not a whole number") from None


def output_format(args: argparse.Namespace) -> str:
    """--output, else AWS_DEFAULT_OUTPUT, else the profile's ``output``, else json (as aws);
    the demo, for a person and without AWS configuration, prints a table."""
    value, source = args.output or os.environ.get("AWS_DEFAULT_OUTPUT"), "AWS_DEFAULT_OUTPUT"
    if not value and args.demo:
        return "table"
    if not value:
        value, source = _config_variable(args, "output"), "the profile's output setting"
    if value and value not in FORMATS:
        raise ConfigError(f"{source} is {value!r}: not one of {', '.join(FORMATS)}")
    return str(value or "json")


def client_options(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """The QConnectClient options of the global options and the AWS settings: the library's
    retry policy, with a notice of long retries on stderr and the attempts per request of
    ``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts`` (as ``aws``)."""
    attempts = None if args.demo else _config_variable(args, "max_attempts")
    if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
        raise ConfigError(f"max_attempts must be at least 1, not {attempts!r}")
    limit = {} if attempts is None else {"max_attempts": attempts}
    options = {
        "region_name": args.region,
        "endpoint_url": args.endpoint_url,
        "profile_name": args.profile,
        "retry": RetryPolicy(on_retry=progress.retry_notice, **limit),
        "connect_timeout": args.cli_connect_timeout,
        "read_timeout": args.cli_read_timeout,
    }
    return {k: v for k, v in options.items() if v is not None or not k.endswith("_timeout")}


@contextmanager
def demo_service(options: dict[str, Any]) -> Iterator[None]:
    """The fake service in this process, seeded with the demo data, while the command runs;
    ``options`` (the client's) point at it, with dummy credentials for this client only."""
    try:
        from qconnect_async.testing import QConnectServer, seed_demo
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--demo needs the fake service: pip install 'qconnect-async[testing]' ({exc})"
        ) from None
    with QConnectServer() as server:
        seed_demo(server)
        print(f"Demo: a fake Amazon Q in Connect at {server.endpoint_url}\n", file=sys.stderr)
        options.update(
            endpoint_url=server.endpoint_url,
            region_name=server.region,
            profile_name=None,
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
        )
        yield
