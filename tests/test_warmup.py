"""Opening a client off the loop: the stall a service sees, opens side by side, the warm-up's parts.

The stall is measured as issue 25 states it: a task sleeping 1 ms in a loop records its longest
gap while another task opens a client and makes its first call. Caches are made cold in-process
with a data path (``AWS_DATA_PATH``) of the test's own: its loader has loaded nothing yet.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import botocore
import pytest
from aiobotocore.session import AioSession
from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader, create_loader

from qconnect_async import QConnectClient, ValidationError, _warmup
from qconnect_async._warmup import PieceJSONFileLoader, decode_in_pieces, warmed_session
from qconnect_async.testing import QConnectServer

_REGION = "us-east-1"


@pytest.fixture
def kb(qconnect_server: QConnectServer) -> str:
    kb_id = qconnect_server.create_knowledge_base("kb")
    qconnect_server.add_import_jobs(kb_id, 3)
    return kb_id


@pytest.fixture
def cold_data_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Each call points AWS_DATA_PATH at a new directory: the next client we create is cold."""
    paths: list[str] = []

    def cold() -> None:
        paths.append(str(tmp_path / f"data-{len(paths)}"))
        monkeypatch.setenv("AWS_DATA_PATH", paths[-1])

    yield cold
    # The loaders of these paths hold botocore's decoded data: not for the rest of the suite.
    for path in paths:
        _warmup._loaders.pop(path, None)


async def _longest_gap(work: Callable[[], Awaitable[object]]) -> float:
    """The longest the loop left a 1 ms ticker waiting while ``work`` ran, in seconds."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.005)  # ticking before the work starts
    gaps.clear()
    try:
        await work()
    finally:
        done.set()
        await ticker
    return max(gaps)


def _ours(server: QConnectServer, kb: str, **options: Any) -> Callable[[], Awaitable[None]]:
    async def open_and_list() -> None:
        client = QConnectClient(region_name=_REGION, endpoint_url=server.endpoint_url, **options)
        async with client:
            assert len([job async for job in client.list_import_jobs(kb)]) == 3

    return open_and_list


async def test_opening_a_cold_client_stalls_the_loop_far_less_than_raw_aiobotocore(
    qconnect_server: QConnectServer, kb: str, cold_data_path: Callable[[], None]
) -> None:
    """Opening a client and its first call leave the loop free: under half raw aiobotocore's stall.

    Raw aiobotocore loads the same data on the loop (a fresh session: a cold loader), so without
    the warm-up in a thread our stall is at least its own. The best of a few runs of each keeps
    a busy machine's scheduling out of the comparison.
    """

    async def raw() -> None:
        session = AioSession()
        async with session.create_client(
            "qconnect", region_name=_REGION, endpoint_url=qconnect_server.endpoint_url
        ) as client:
            response = await client.list_import_jobs(knowledgeBaseId=kb)
            assert len(response["importJobSummaries"]) == 3

    raw_gaps = [await _longest_gap(raw) for _ in range(2)]
    our_gaps = []
    for _ in range(3):
        cold_data_path()
        our_gaps.append(await _longest_gap(_ours(qconnect_server, kb)))
    assert min(our_gaps) < min(raw_gaps) / 2, (our_gaps, raw_gaps)


class _MeetingLoader(Loader):  # type: ignore[misc]
    """A loader whose first model load waits until every loader of its group is loading."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self._barrier: threading.Barrier | None = barrier

    def load_service_model(self, *args: Any, **kwargs: Any) -> Any:
        barrier, self._barrier = self._barrier, None
        if barrier is not None:
            barrier.wait()  # BrokenBarrierError after its timeout if the loads run one by one
        return super().load_service_model(*args, **kwargs)


class _CountingLoader(Loader):  # type: ignore[misc]
    """A loader counting the models it is asked for off the loop's thread."""

    def __init__(self) -> None:
        super().__init__()
        self.off_loop: Counter[str] = Counter()

    def load_service_model(self, service_name: str, type_name: str, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            self.off_loop[type_name] += 1
        return super().load_service_model(service_name, type_name, **kwargs)


class _RecordingFileLoader(JSONFileLoader):  # type: ignore[misc]
    """botocore's file loader, noting which files are read on the loop's thread, and off it."""

    def __init__(self) -> None:
        self.on_loop: list[str] = []
        self.off_loop: list[str] = []

    def load_file(self, file_path: str) -> Any:
        on_loop = threading.current_thread() is threading.main_thread()
        (self.on_loop if on_loop else self.off_loop).append(file_path)
        return super().load_file(file_path)


def _session_with(loader: Loader) -> AioSession:
    session = AioSession()
    session.register_component("data_loader", loader)
    return session


async def test_the_loop_reads_no_botocore_data_file_to_open_a_client_and_call(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """While other tasks run, every file a client and its first call need is read in a thread."""
    files = _RecordingFileLoader()
    session = _session_with(Loader(file_loader=files))
    await _longest_gap(_ours(qconnect_server, kb, session=session))  # beside a ticking task
    assert files.on_loop == []
    assert any(path.endswith("service-2") for path in files.off_loop)


async def test_the_loops_only_task_opens_a_client_on_the_loop_without_threads(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A script's or a command's one task loads inline: nothing waits, no thread hop is paid."""
    files = _RecordingFileLoader()
    session = _session_with(Loader(file_loader=files))
    await _ours(qconnect_server, kb, session=session)()
    assert files.off_loop == []
    assert any(path.endswith("service-2") for path in files.on_loop)


async def test_clients_opened_at_once_load_their_data_side_by_side(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """Four clients opened at once load their models at the same time, none waiting for another."""
    barrier = threading.Barrier(4, timeout=10)
    sessions = [_session_with(_MeetingLoader(barrier)) for _ in range(4)]
    await asyncio.gather(*(_ours(qconnect_server, kb, session=s)() for s in sessions))
    assert not barrier.broken


async def test_clients_opened_at_once_on_one_session_warm_it_once(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """Opens sharing a loader share its warm-up: one load in a thread, the others await it."""
    loader = _CountingLoader()
    session = _session_with(loader)
    await asyncio.gather(*(_ours(qconnect_server, kb, session=session)() for _ in range(4)))
    assert loader.off_loop == {"service-2": 1, "endpoint-rule-set-1": 1}


@pytest.mark.parametrize("beside_a_task", [True, False], ids=["in-a-thread", "inline"])
async def test_a_failed_warm_up_fails_the_open_and_the_next_open_loads_anew(
    qconnect_server: QConnectServer, kb: str, beside_a_task: bool
) -> None:
    """A load that fails is the open's typed error, not a cached failure: the next open retries."""

    class FailingOnce(Loader):  # type: ignore[misc]
        failed = False

        def load_service_model(self, *args: Any, **kwargs: Any) -> Any:
            if not self.failed:
                self.failed = True
                raise DataNotFoundError(data_path="qconnect")
            return super().load_service_model(*args, **kwargs)

    session = _session_with(FailingOnce())
    work = _ours(qconnect_server, kb, session=session)
    run = (lambda: _longest_gap(work)) if beside_a_task else work
    with pytest.raises(ValidationError) as caught:
        await run()
    assert caught.value.code == "DataNotFoundError"
    await run()


async def test_sessions_we_create_share_one_loader_per_data_path(
    cold_data_path: Callable[[], None],
) -> None:
    """Our sessions share a loader (botocore's data loaded once), one per AWS_DATA_PATH."""
    cold_data_path()
    first, second = [await warmed_session(None, AioSession, "qconnect") for _ in range(2)]
    assert first is not second
    assert first.get_component("data_loader") is second.get_component("data_loader")
    assert isinstance(first.get_component("data_loader").file_loader, PieceJSONFileLoader)
    cold_data_path()
    other = await warmed_session(None, AioSession, "qconnect")
    assert other.get_component("data_loader") is not first.get_component("data_loader")


async def test_a_session_the_caller_passes_keeps_its_own_loader() -> None:
    """A caller's session is warmed, never changed: its loader stays botocore's own."""
    session = AioSession()
    loader = session.get_component("data_loader")
    assert await warmed_session(session, AioSession, "qconnect") is session
    assert session.get_component("data_loader") is loader
    assert not isinstance(loader.file_loader, PieceJSONFileLoader)


async def test_the_warm_up_thread_lets_the_loop_run_before_each_of_its_steps(
    cold_data_path: Callable[[], None],
) -> None:
    """The thread waits for the loop's next turn before its work, however late the loop runs.

    The loop's thread, having just started the thread, would otherwise wait for the GIL while
    the warm-up works (up to the 5 ms switch interval, per step). Here the loop is held 50 ms
    right after the warm-up's thread starts: its first step begins only after that.
    """
    cold_data_path()
    first_step: list[float] = []

    def new_session() -> AioSession:
        first_step.append(time.perf_counter())
        return AioSession()

    opening = asyncio.ensure_future(warmed_session(None, new_session, "qconnect"))
    await asyncio.sleep(0)  # the opening task runs first: up to its thread's start
    time.sleep(0.05)  # noqa: ASYNC251 - the loop held, on purpose
    released = time.perf_counter()
    await opening
    assert first_step and first_step[0] >= released


async def test_the_model_a_client_loaded_is_given_again_without_reading_a_file(
    qconnect_server: QConnectServer, kb: str
) -> None:
    """A reader of the model beside a client gets the open's own document: no file is read."""
    files = _RecordingFileLoader()
    session = _session_with(Loader(file_loader=files))
    await _ours(qconnect_server, kb, session=session)()
    read = len(files.on_loop) + len(files.off_loop)
    model = _warmup.loaded_service_model("qconnect")
    assert model is not None and "ListImportJobsRequest" in model["shapes"]
    assert len(files.on_loop) + len(files.off_loop) == read
    loader = session.get_component("data_loader")
    assert model is loader.load_service_model("qconnect", "service-2", api_version=None)
    assert _warmup.loaded_service_model("not-a-service-any-client-opened") is None


async def test_the_method_names_of_a_clients_operations_are_made_off_the_loop(
    cold_data_path: Callable[[], None],
) -> None:
    """botocore's name for each operation's method (a regex each, cached for the process) is
    made by the warm-up, so the loop's create_client finds every one of them cached."""
    cold_data_path()
    loader = create_loader()
    operations = list(loader.load_service_model("qconnect", "service-2")["operations"])
    cache = botocore._xform_cache  # botocore's own (private): read to check, emptied of ours
    for operation in operations:
        cache.pop((operation, "_"), None)

    async def beside_a_task() -> None:
        await warmed_session(None, AioSession, "qconnect")

    await _longest_gap(beside_a_task)
    assert all((operation, "_") in cache for operation in operations)


# -- botocore's data, decoded in pieces: the same values as botocore's own loader ------------


@pytest.fixture
def endpoints_json() -> str:
    """The text of botocore's endpoints.json (1.2 MB)."""
    base = create_loader().load_data_with_path("endpoints")[1]  # the path without extension
    plain, packed = Path(base + ".json"), Path(base + ".json.gz")
    return plain.read_text() if plain.exists() else gzip.decompress(packed.read_bytes()).decode()


async def test_a_thread_decoding_in_pieces_lets_the_loop_run_every_few_milliseconds(
    endpoints_json: str,
) -> None:
    """Decoding endpoints.json in a thread, the loop waits for the GIL a few ms at a time.

    With the interpreter's switch interval raised to 1 s, only the decoder's own pauses let
    the loop in: without them (or with json.loads) the loop would wait the whole decode.
    """
    text = endpoints_json
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            gap = await _longest_gap(lambda: asyncio.to_thread(decode_in_pieces, text))
            runs.append((gap, time.perf_counter() - started))
    finally:
        sys.setswitchinterval(interval)
    assert min(gap / wall for gap, wall in runs) < 1 / 3, runs


_MODEL_FILES = ("endpoints", "partitions", "sdk-default-configuration", "_retry")


def test_the_piece_loader_reads_every_file_a_client_needs_as_botocore_does() -> None:
    """Every file client creation loads: equal values, the same types (OrderedDict) and order.

    Also pins what _warmup relies on: botocore's loader reads files through ``file_loader``.
    """

    class Counting(PieceJSONFileLoader):
        loaded = 0

        def load_file(self, file_path: str) -> Any:
            Counting.loaded += 1
            return super().load_file(file_path)

    ours, botocores = create_loader(), create_loader()
    ours.file_loader = Counting()
    for name in _MODEL_FILES:
        _assert_same(ours.load_data(name), botocores.load_data(name))
    for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1"):
        _assert_same(
            ours.load_service_model("qconnect", type_name),
            botocores.load_service_model("qconnect", type_name),
        )
    assert Counting.loaded >= len(_MODEL_FILES) + 3


def test_the_piece_loader_finds_the_files_botocore_finds(tmp_path: Path) -> None:
    """.json before .json.gz, a missing file is None, exists() agrees with botocore's."""
    (tmp_path / "plain.json").write_text('{"a": 1}')
    (tmp_path / "both.json").write_text('{"from": "json"}')
    (tmp_path / "both.json.gz").write_bytes(gzip.compress(b'{"from": "gz"}'))
    (tmp_path / "packed.json.gz").write_bytes(gzip.compress(b'{"\\u00e9": [1.5, null]}'))
    ours, botocores = PieceJSONFileLoader(), JSONFileLoader()
    for name in ("plain", "both", "packed", "missing"):
        path = str(tmp_path / name)
        assert ours.exists(path) == botocores.exists(path)
        _assert_same(ours.load_file(path), botocores.load_file(path))


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[]",
        ' \n{ "a" : [ 1 , 2.5e3 , -0 , true , false , null ] , "b" : { } , "c" : [ ] } \n',
        '"\\u00e9\\n\\"x\\""',
        "12",
        '{"dup": 1, "dup": 2}',
        json.dumps(
            {f"k{i}": {"v": [i] * (i % 5), "s": "x" * (i * 997 % 40_000)} for i in range(60)}
        ),
        json.dumps([[{"deep": [[[i]]]} for i in range(20)], list(range(30)), "é"], indent=1),
    ],
)
def test_decoding_in_pieces_gives_what_json_loads_gives(text: str) -> None:
    """Containers big and small, nesting, escapes, whitespace, duplicate keys: as json.loads."""
    _assert_same(decode_in_pieces(text), json.loads(text, object_pairs_hook=OrderedDict))


@pytest.mark.parametrize(
    "text", ['{"a": 1', '{"a" 1}', '{"a": 1 "b": 2}', "[1 2]", "{1: 2}", "[1] x", "", "[1,]"]
)
def test_a_broken_document_is_a_json_decode_error(text: str) -> None:
    """Malformed JSON raises json.JSONDecodeError, as botocore's loader would."""
    with pytest.raises(json.JSONDecodeError):
        decode_in_pieces(text)


def _assert_same(ours: Any, expected: Any) -> None:
    """Equal, with the same types all the way down (OrderedDict, list, str, ...)."""
    assert type(ours) is type(expected)
    if isinstance(expected, dict):
        assert list(ours) == list(expected)
        for key in expected:
            _assert_same(ours[key], expected[key])
    elif isinstance(expected, list):
        assert len(ours) == len(expected)
        for mine, theirs in zip(ours, expected, strict=True):
            _assert_same(mine, theirs)
    else:
        assert ours == expected
