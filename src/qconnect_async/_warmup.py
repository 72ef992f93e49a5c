"""Opening a client without stalling the event loop: botocore's slow synchronous work, in a thread.

Creating an aiobotocore client loads JSON data (endpoints.json alone is 1.2 MB), lists
botocore's data directory and reads the AWS config files, synchronously, on the loop: a
service stops answering while a client opens. ``warmed_session`` does that work first, in a
worker thread, on botocore's public session and loader APIs, so that ``create_client`` finds
it cached and the loop only builds the client objects.

- A session this library creates is made in the thread, and shares one loader per data path
  (``AWS_DATA_PATH``) with the other sessions it creates: N clients load the JSON once. That
  loader decodes a document in pieces, letting the loop run in between (the C decoder holds
  the GIL for a whole document: ~15 ms for endpoints.json, a stall even from a thread).
- A session the caller passed is warmed as it is: its config files and its loader's caches
  (botocore's own decoder; the loader is never replaced).

A loader is warmed once: the first open loads, the others await the same result; opens on
different loaders run side by side in their own threads. The warm-up is one thread hop, and
its thread gives the loop a turn (waits until the loop has run a callback) before it starts
and between its steps, so the loop never waits for the GIL behind it longer than a step.
When the opening task is the loop's only task (a script, a command line), nothing waits for
the loop: the same work is done on it, at full speed (no thread hops, botocore's C decoder).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import json
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.loaders import create_loader

__all__ = ["PieceJSONFileLoader", "decode_in_pieces", "loaded_service_model", "warmed_session"]

# The data every client creation loads (botocore's session and client creators).
_SHARED_DATA = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
_SERVICE_DATA = ("service-2", "endpoint-rule-set-1")
# Operation names converted between two turns of the loop (about 2 ms of work).
_NAMES_PER_BREATH = 16

# One loader per data path for the sessions we create; a loader's warm-up per (service,
# API version), shared by every open that needs it, whatever its thread or loop.
_lock = threading.Lock()
_loaders: dict[str | None, Any] = {}
_Warmups = dict[tuple[str, str | None], concurrent.futures.Future[None]]
_warmups: weakref.WeakKeyDictionary[Any, _Warmups] = weakref.WeakKeyDictionary()


async def warmed_session(
    session: Any | None, new_session: Callable[[], Any], service_name: str
) -> Any:
    """``session`` (or ``new_session()``) with its config read and its loader warm, off the loop."""
    if len(asyncio.all_tasks()) <= 1:
        # The opening task is the loop's only one (a script, a command): nothing waits for the
        # loop, so the work is done here, without thread hops or pauses.
        return _warmed_here(session, new_session, service_name)
    loop = asyncio.get_running_loop()
    # One thread hop for the whole warm-up: the session, then the loader's data (a second hop
    # could start a second thread, a wait on the loop while the OS schedules it).
    ready, future = await asyncio.to_thread(
        _warmed_in_thread, loop, session, new_session, service_name
    )
    # Another open warms the same loader: its result lands here even if that open is cancelled.
    await asyncio.wrap_future(future)
    # Tasks that were due while the loop waited for the thread run before the client is built.
    await asyncio.sleep(0)
    return ready


def _warmed_in_thread(
    loop: asyncio.AbstractEventLoop,
    session: Any | None,
    new_session: Callable[[], Any],
    service_name: str,
) -> tuple[Any, concurrent.futures.Future[None]]:
    """The session, and its loader's warm-up: run here by the first open, else another's."""
    _turns.loop = loop
    try:
        # The loop's thread, which started this one, waits for the GIL to go on: its turn first
        # (else it waits out the switch interval while this thread works).
        _breathe()
        if session is None:
            ready = _own_session(new_session)
        else:
            _their_session(session)
            ready = session
        loader = ready.get_component("data_loader")
        api_version = ready.get_config_variable("api_versions").get(service_name)
        future, first = _warmup_of(loader, service_name, api_version)
        if first:
            _warm(future, loader, service_name, api_version)
        return ready, future
    finally:
        _turns.loop = None


def loaded_service_model(service_name: str) -> Any | None:
    """botocore's ``service-2`` model of ``service_name`` as a client's open loaded it: the
    loader's cached document, no file read (None: no open of this process has loaded it).

    For readers of the model beside a client (e.g. the shapes' key order), who would
    otherwise decode the file a second time.
    """
    with _lock:
        loaded = [
            (loader, api_version)
            for loader, warmups in _warmups.items()
            for (name, api_version), future in warmups.items()
            if name == service_name and future.done() and future.exception() is None
        ]
    if not loaded:
        return None
    loader, api_version = loaded[-1]  # the latest open's
    # The warm-up's own call, so botocore's per-call cache answers it.
    return loader.load_service_model(service_name, "service-2", api_version=api_version)


def _warmed_here(session: Any | None, new_session: Callable[[], Any], service_name: str) -> Any:
    if session is None:
        ready = _own_session(new_session)
    else:
        _their_session(session)
        ready = session
    loader = ready.get_component("data_loader")
    api_version = ready.get_config_variable("api_versions").get(service_name)
    done, first = _warmup_of(loader, service_name, api_version)
    if not first and not done.done():
        # Another thread is warming this loader: load here too rather than wait for it.
        done = concurrent.futures.Future()
        done.set_running_or_notify_cancel()
        first = True
    if first:
        _warm(done, loader, service_name, api_version)
    done.result()  # the load's error, if any
    return ready


def _own_session(new_session: Callable[[], Any]) -> Any:
    """A new session: its config files read, its credential chain built, the shared loader."""
    session = new_session()
    _breathe()
    session.get_scoped_config()  # reads the config files; botocore keeps them on the session
    session.get_component("credential_provider")  # used when no keys are given
    data_path: str | None = session.get_config_variable("data_path")
    with _lock:
        loader = _loaders.get(data_path)
        if loader is None:
            loader = _loaders[data_path] = create_loader(data_path)
            loader.file_loader = PieceJSONFileLoader()
    session.register_component("data_loader", loader)
    return session


def _their_session(session: Any) -> None:
    """A caller's session: its config files read, its own loader created (as botocore would)."""
    session.get_scoped_config()
    session.get_component("data_loader")


def _warmup_of(
    loader: Any, service_name: str, api_version: str | None
) -> tuple[concurrent.futures.Future[None], bool]:
    """The loader's warm-up for the service, and whether the caller is the first (to run it)."""
    with _lock:
        futures = _warmups.setdefault(loader, {})
        future = futures.get((service_name, api_version))
        if future is not None and not (future.done() and future.exception() is not None):
            return future, False
        future = futures[(service_name, api_version)] = concurrent.futures.Future()
        # Running: an awaiting open that is cancelled cannot cancel it for the others.
        future.set_running_or_notify_cancel()
        return future, True


def _warm(
    future: concurrent.futures.Future[None], loader: Any, service_name: str, api_version: str | None
) -> None:
    try:
        for name in _SHARED_DATA:
            loader.load_data(name)
            _breathe()
        models = {}
        for type_name in _SERVICE_DATA:
            # As botocore's client creator asks: the loader caches by the call's exact form.
            models[type_name] = loader.load_service_model(
                service_name, type_name, api_version=api_version
            )
            _breathe()
        # create_client names a method per operation with xform_name, two regex substitutions
        # each on the first client of a process (~8 ms for qconnect's 94), then cached
        # process-wide: here, that first time is off the loop.
        for count, operation in enumerate(models["service-2"].get("operations", ()), 1):
            xform_name(operation)
            if count % _NAMES_PER_BREATH == 0:
                _breathe()
    except BaseException as exc:  # handed to every open waiting for it (a retry loads anew)
        future.set_exception(exc)
    else:
        future.set_result(None)


class PieceJSONFileLoader:
    """A loader's ``file_loader`` as botocore's ``JSONFileLoader``, decoding in pieces.

    The same files (``.json``, then ``.json.gz``), values, types and key order.
    """

    _EXTENSIONS: tuple[tuple[str, Callable[[str, str], Any]], ...] = (
        (".json", open),
        (".json.gz", gzip.open),
    )

    def exists(self, file_path: str) -> bool:
        """Whether the file exists, given its path without the extension."""
        return any(os.path.isfile(file_path + ext) for ext, _ in self._EXTENSIONS)

    def load_file(self, file_path: str) -> Any:
        """The decoded file, given its path without the extension; None if there is none."""
        for ext, opener in self._EXTENSIONS:
            path = file_path + ext
            if os.path.isfile(path):
                with opener(path, "rb") as file:
                    text = file.read().decode("utf-8")
                if _on_a_loop():  # loading inline: nothing to let run in between
                    return json.loads(text, object_pairs_hook=OrderedDict)
                return decode_in_pieces(text)
        return None


# -- giving the GIL back ---------------------------------------------------------------------

# A thread busy in Python keeps the GIL until the interpreter's switch interval (5 ms) forces
# it out, so a loop waiting for it waits that long. The warm-up gives the loop a turn between
# its steps and every 2 ms of decoding: it asks the loop to run a callback and waits (the GIL
# free) until it has, so the loop runs whatever was due, however late the OS wakes it. A
# pause alone (a sleep) is often over before a busy machine has woken the loop's thread, and
# the thread takes the GIL back first. Without a loop to wait for, a short sleep.
_BREATHE_EVERY = 0.002
_BREATH = 0.0001
# The longest a turn is waited for: only a loop that stopped (or closed) before running the
# turn's callback makes the warm-up wait this long.
_TURN_WAIT = 0.25

_turns = threading.local()  # .loop: the loop the warm-up on this thread lets run


def _breathe() -> None:
    if _on_a_loop():
        return
    loop: asyncio.AbstractEventLoop | None = getattr(_turns, "loop", None)
    if loop is None or loop.is_closed():
        time.sleep(_BREATH)
        return
    turn = threading.Event()
    try:
        loop.call_soon_threadsafe(turn.set)
    except RuntimeError:  # closed meanwhile
        time.sleep(_BREATH)
        return
    turn.wait(_TURN_WAIT)


def _on_a_loop() -> bool:
    """Whether this thread runs an event loop (where a pause, or decoding in pieces, stalls it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- decoding in pieces --------------------------------------------------------------------

_DECODER = json.JSONDecoder(object_pairs_hook=OrderedDict)
_SPACE = re.compile(r"[ \t\n\r]*")
# After this many values of a container, a value follows whole when the one before it was
# smaller than _PIECE: maps of similar entries (services, shapes) go at C speed, while a big
# value among small ones (a partition's services) is still split.
_FIRST_SPLIT = 8
_PIECE = 16_384


def decode_in_pieces(text: str) -> Any:
    """``json.loads(text, object_pairs_hook=OrderedDict)``, one small value per C call.

    Between the calls the thread lets the loop run, so a worker decoding a 1.2 MB document
    holds the GIL a few milliseconds at a time at most (json.loads: the whole document).
    """
    return _Pieces(text).document()


class _Pieces:
    """One document's decoding: containers walked here, small values by the C decoder."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._breathed = time.perf_counter()

    def document(self) -> Any:
        value, end = self._value(self._skip(0), whole=False)
        if self._skip(end) != len(self._text):
            raise json.JSONDecodeError("Extra data", self._text, end)
        return value

    def _skip(self, i: int) -> int:
        match = _SPACE.match(self._text, i)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def _expect(self, char: str, i: int, what: str) -> None:
        if self._text[i : i + 1] != char:
            raise json.JSONDecodeError(f"Expecting {what}", self._text, i)

    def _value(self, i: int, *, whole: bool) -> tuple[Any, int]:
        text = self._text
        opening = text[i : i + 1]
        if whole or opening not in ("{", "["):
            return _DECODER.raw_decode(text, i)
        closing = "}" if opening == "{" else "]"
        items: list[Any] = []
        i = self._skip(i + 1)
        if text[i : i + 1] == closing:
            return (OrderedDict() if opening == "{" else []), i + 1
        small = False
        while True:
            if opening == "{":
                self._expect('"', i, "property name enclosed in double quotes")
                key, i = _DECODER.raw_decode(text, i)
                i = self._skip(i)
                self._expect(":", i, "':' delimiter")
                start = self._skip(i + 1)
                value, i = self._value(start, whole=small)
                items.append((key, value))
            else:
                start = i
                value, i = self._value(start, whole=small)
                items.append(value)
            small = len(items) >= _FIRST_SPLIT and i - start < _PIECE
            if time.perf_counter() - self._breathed > _BREATHE_EVERY:
                _breathe()
                self._breathed = time.perf_counter()
            i = self._skip(i)
            if text[i : i + 1] == closing:
                return (OrderedDict(items) if opening == "{" else items), i + 1
            self._expect(",", i, "',' delimiter")
            i = self._skip(i + 1)
