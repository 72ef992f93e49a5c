"""The fake service in its own process, so that the client's CPU is its own."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from qconnect_async.testing import RemoteQConnectServer

_HOST = "127.0.0.1"


@contextmanager
def serve(*, startup_timeout: float = 60.0) -> Iterator[RemoteQConnectServer]:
    """Start `python -m qconnect_async.testing` on a free port; always terminate it."""
    command = [sys.executable, "-m", "qconnect_async.testing", "--host", _HOST, "--port", "0"]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, bufsize=0
        )
        try:
            url = _read_url(process, errors, startup_timeout)
            yield RemoteQConnectServer(url)
        finally:
            _stop(process)


def _read_url(process: subprocess.Popen[bytes], errors: IO[bytes], timeout: float) -> str:
    """The one line the server prints once it listens."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    received = b""
    while b"\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the server printed no URL within {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        chunk = os.read(fd, 4096) if ready else b""
        if ready and not chunk:
            errors.seek(0)
            tail = errors.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"the server exited (status {process.poll()}):\n{tail}")
        received += chunk
    url = received.split(b"\n", 1)[0].decode().strip()
    if not url.startswith(f"http://{_HOST}:"):
        raise RuntimeError(f"unexpected server URL: {url!r}")
    return url


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server stops within half a second), then SIGKILL if it must."""
    try:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        if process.stdout is not None:
            process.stdout.close()
