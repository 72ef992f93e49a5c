"""Argument checks made before any request: one vocabulary, one ValidationError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qconnect_async import (
    AdaptiveRateLimiter,
    ImportJob,
    QConnectClient,
    RetryPolicy,
    ValidationError,
)
from qconnect_async._checks import (
    account_id,
    content_or_upload,
    content_source,
    content_type,
    deadline,
    external_source,
    jobs_to_wait_for,
    knowledge_base_id,
    knowledge_base_ref,
    knowledge_base_types,
    metadata,
    page_size,
    presigned_url_ttl,
    rate_wait,
    region,
    token,
)

KB = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.mark.parametrize(
    "value",
    [
        KB,
        f"arn:aws:wisdom:us-east-1:123456789012:knowledge-base/{KB}",
        f"arn:aws-cn:wisdom:cn-north-1:123456789012:knowledge-base/{KB}",
    ],
)
def test_id_and_arn_reduce_to_the_id(value: str) -> None:
    """An ID passes as it is; a knowledge-base ARN becomes its ID."""
    assert knowledge_base_id(value) == KB


@pytest.mark.parametrize(
    "value",
    [
        "",
        KB.upper(),
        f"{KB}/importJobs",
        f"../{KB}",
        "..",
        "not-a-uuid",
        f"arn:aws:wisdom:us-east-1:123456789012:assistant/{KB}",
        f"arn:aws:s3:us-east-1:123456789012:knowledge-base/{KB}",
        f"arn:aws:wisdom:us-east-1:1234:knowledge-base/{KB}",
        f" {KB}",
        None,
        42,
    ],
)
def test_bad_knowledge_base_ids_are_validation_errors(value: object) -> None:
    """Anything but a lower-case UUID or a wisdom KB ARN is refused, as a ValueError too."""
    with pytest.raises(ValidationError) as info:
        knowledge_base_id(value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [0, 101, -1, 1.5, "10", True])
def test_bad_page_sizes_are_validation_errors(value: object) -> None:
    """page_size outside 1..100, or not an int, is refused."""
    with pytest.raises(ValidationError):
        page_size(value)


def test_good_page_sizes_pass() -> None:
    """1, 100 and None (the default) are accepted."""
    assert page_size(1) == 1
    assert page_size(100) == 100
    assert page_size(None) == 100


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "starting_token must be 1 to 4096 characters, not 0"),
        ("x" * 4097, "starting_token must be 1 to 4096 characters, not 4097"),
        (12, "starting_token must be a string, not int"),
    ],
)
def test_bad_tokens_are_validation_errors_that_say_why(value: object, message: str) -> None:
    """A starting token must be a string of 1 to 4096 characters; the error says which."""
    with pytest.raises(ValidationError) as info:
        token(value)
    assert info.value.message == message


def test_good_tokens_pass() -> None:
    """A 4096-character token and None are accepted."""
    assert token("x" * 4096) == "x" * 4096
    assert token(None) is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: QConnectClient(max_concurrency=0),
        lambda: QConnectClient(rate_limiter=object()),  # type: ignore[arg-type]
        lambda: QConnectClient().list_import_jobs(KB, page_size=0),
        lambda: QConnectClient().list_knowledge_bases(starting_token=""),
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(base_delay=float("nan")),
        lambda: AdaptiveRateLimiter(initial_window=0),
        lambda: AdaptiveRateLimiter(burst=0.5),
    ],
)
def test_bad_constructor_and_call_arguments_raise_the_same_validation_error(
    build: Callable[[], object],
) -> None:
    """A bad argument, to a constructor or to a call, is one ValidationError (a ValueError)."""
    with pytest.raises(ValidationError) as info:
        build()
    assert isinstance(info.value, ValueError)


def test_an_account_id_is_twelve_digits_given_as_a_string() -> None:
    """12 digits pass as they are; fewer digits, letters or a number are refused, the value
    quoted up to 40 characters."""
    assert account_id("123456789012") == "123456789012"
    for bad in ("12345678901", "12345678901a", 123456789012):
        with pytest.raises(ValidationError) as info:
            account_id(bad)
        assert info.value.message == f"an AWS account ID is 12 digits, not {str(bad)!r}"
    with pytest.raises(ValidationError) as info:
        account_id("9" * 50)
    assert info.value.message == f"an AWS account ID is 12 digits, not {'9' * 40!r}"


def test_a_region_is_a_region_name_given_as_a_string() -> None:
    """Region names pass as they are; anything else is refused, quoted up to 40 characters."""
    for good in ("us-east-1", "eu-west-2", "ap-southeast-3"):
        assert region(good) == good
    for bad in ("", "us east 1", "US-EAST-1x", 1):
        with pytest.raises(ValidationError) as info:
            region(bad)
        assert info.value.message == f"not an AWS Region name: {str(bad)!r}"
    with pytest.raises(ValidationError) as info:
        region("x" * 50)
    assert info.value.message == f"not an AWS Region name: {'x' * 40!r}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "EXTERNAL",
            "knowledge_base_types must be a collection of types (or None: every type), "
            "not 'EXTERNAL'",
        ),
        ([], "knowledge_base_types is empty: no knowledge base would be listed"),
        ([""], "a knowledge base type must be a string of 1 to 4096 characters"),
    ],
    ids=["a-string", "empty", "an-empty-type"],
)
def test_bad_knowledge_base_types_are_refused_saying_why(value: object, message: str) -> None:
    """A bare string, an empty collection and an empty type are each refused in words."""
    with pytest.raises(ValidationError) as info:
        knowledge_base_types(value)
    assert info.value.message == message


def test_presigned_url_ttl_takes_1_to_60_minutes_both_ends_included() -> None:
    """1 and 60 minutes are taken as they are; 0 and 61 are refused."""
    assert [presigned_url_ttl(m) for m in (1, 60)] == [1, 60]
    for bad in (0, 61):
        with pytest.raises(ValidationError):
            presigned_url_ttl(bad)


def test_an_external_source_that_is_no_mapping_is_refused_naming_its_type() -> None:
    """external_source_configuration must be the model or a mapping: the message says which
    type came instead."""
    with pytest.raises(ValidationError) as info:
        external_source(5)
    assert info.value.message == (
        "external_source_configuration must be an ExternalSourceConfiguration or a mapping, not int"
    )


def test_an_external_source_is_given_in_its_wire_form_without_empty_fields() -> None:
    """A mapping is validated and comes back as the service's JSON: its names, no nulls."""
    source = {"source": "AMAZON_CONNECT", "configuration": {"connectConfiguration": {}}}
    assert external_source(source) == source
    named = {
        "source": "AMAZON_CONNECT",
        "configuration": {"connectConfiguration": {"instanceId": "i"}},
    }
    assert external_source(named) == named


def test_empty_content_and_a_long_bad_content_type_are_refused_in_words() -> None:
    """Empty bytes say there is nothing to import; a bad content type is quoted to 100
    characters."""
    with pytest.raises(ValidationError) as info:
        content_source(b"")
    assert info.value.message == "content is empty: there is nothing to import"
    with pytest.raises(ValidationError) as info:
        content_type("x" * 150)
    assert info.value.message.endswith(f", not {'x' * 100!r}")


class _BytesPath:
    """An os.PathLike whose path is bytes."""

    def __fspath__(self) -> bytes:
        return b"/tmp/content.csv"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            lambda: content_or_upload(None, None),
            "give either content or upload_id (an upload already made)",
        ),
        (lambda: content_source(7), "content must be bytes or a path, not int"),
        (lambda: metadata(["team"]), "metadata must be a mapping, not list"),
        (
            lambda: metadata({"": "a"}),
            "a metadata key must be a string of 1 to 4096 characters",
        ),
        (
            lambda: metadata({"team": ""}),
            "a metadata value must be a string of 1 to 4096 characters",
        ),
    ],
)
def test_content_and_metadata_are_refused_in_words(
    check: Callable[[], object], message: str
) -> None:
    """Neither content nor upload_id, content of another type, metadata not a mapping or
    with an empty key or value: each ValidationError says what is wrong."""
    with pytest.raises(ValidationError) as info:
        check()
    assert info.value.message == message


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: page_size(2.5), "page_size must be an int, not float"),
        (lambda: page_size(101), "page_size must be between 1 and 100, not 101"),
        (
            lambda: rate_wait(-1),
            "max_rate_wait must be a finite, non-negative number of seconds, not -1",
        ),
    ],
)
def test_page_size_and_max_rate_wait_are_refused_in_words(
    check: Callable[[], object], message: str
) -> None:
    """A page size that is no int or out of 1..100, a negative max_rate_wait: in words."""
    with pytest.raises(ValidationError) as info:
        check()
    assert info.value.message == message


def test_max_rate_wait_takes_zero_and_none() -> None:
    """max_rate_wait=0 (never wait for the send rate) is a bound; None is none."""
    assert rate_wait(0) == 0.0
    assert rate_wait(None) is None


def test_metadata_strings_of_4096_characters_are_taken_4097_refused() -> None:
    """A metadata key or value holds 1 to 4096 characters."""
    assert metadata({"k" * 4096: "v" * 4096}) == {"k" * 4096: "v" * 4096}
    for bad in ({"k" * 4097: "v"}, {"k": "v" * 4097}):
        with pytest.raises(ValidationError):
            metadata(bad)


@pytest.mark.parametrize("value", ["", _BytesPath()])
def test_an_empty_path_or_a_bytes_path_is_refused(value: object) -> None:
    """A path must be a non-empty str (or os.PathLike of one): "" and a bytes path are not."""
    with pytest.raises(ValidationError) as info:
        content_source(value)
    assert info.value.message == "content must be bytes or a non-empty path"


def test_jobs_to_wait_for_name_an_import_jobs_kb_by_its_arn_and_check_every_job() -> None:
    """ImportJobs give their KB's ARN (it names their Region), pairs their KB as given; a lone
    job, a string or something not iterable is refused (saying what is taken), as is a pair
    with a bad job ID."""
    job_id = "11111111-2222-3333-4444-555555555555"
    arn = f"arn:aws:wisdom:eu-west-2:123456789012:knowledge-base/{KB}"
    wire = {
        "importJobId": job_id,
        "knowledgeBaseId": KB,
        "uploadId": "upload-1",
        "importJobType": "QUICK_RESPONSES",
        "status": "COMPLETE",
        "createdTime": 1700000000,
        "lastModifiedTime": 1700000000,
    }
    with_arn = ImportJob.model_validate(wire | {"knowledgeBaseArn": arn})
    assert jobs_to_wait_for([with_arn, (KB, job_id)]) == [(arn, job_id), (KB, job_id)]
    for bad in (with_arn, "jobs", 7, [(KB,)], [(KB, "not-a-uuid")]):
        with pytest.raises(ValidationError):
            jobs_to_wait_for(bad)
    for lone in (with_arn, "jobs", 7):
        with pytest.raises(ValidationError) as info:
            jobs_to_wait_for(lone)
        assert info.value.message == (
            "jobs must be a collection of ImportJobs or (KB, job ID) pairs"
        )


def test_an_arn_of_another_region_or_partition_is_refused_with_its_id() -> None:
    """A client checks a KB ARN's place: another Region or partition is a ValidationError
    naming both and carrying the KB's ID; the same place, a bare ID or a client without a
    Region passes."""
    arn = f"arn:aws:wisdom:eu-west-2:123456789012:knowledge-base/{KB}"
    with pytest.raises(ValidationError) as caught:
        knowledge_base_ref(arn).check_place(partition="aws", region="us-east-1")
    assert caught.value.message == (
        "the ARN is of Region 'eu-west-2', the client's is 'us-east-1': use a client of that Region"
    )
    assert caught.value.knowledge_base_id == KB
    with pytest.raises(ValidationError) as caught:
        knowledge_base_ref(arn).check_place(partition="aws-cn", region="eu-west-2")
    assert caught.value.message == "the ARN is of partition 'aws', the client's is 'aws-cn'"
    assert caught.value.knowledge_base_id == KB
    knowledge_base_ref(arn).check_place(partition="aws", region="eu-west-2")
    knowledge_base_ref(arn).check_place(partition=None, region=None)
    knowledge_base_ref(KB).check_place(partition="aws-cn", region="us-east-1")


@pytest.mark.parametrize(
    ("value", "message", "named"),
    [
        (7, "knowledge base must be an ID or ARN string, not int", None),
        ("", "not a knowledge base ID (lower-case UUID) or ARN: ''", None),
        ("x" * 201, f"not a knowledge base ID (lower-case UUID) or ARN: {'x' * 200!r}", "x" * 200),
    ],
    ids=["int", "empty", "long"],
)
def test_a_knowledge_base_that_is_not_an_id_or_arn_is_named_cut_to_200(
    value: object, message: str, named: str | None
) -> None:
    """Neither an ID nor a KB ARN: refused in words, what was given cut to 200 characters
    (and carried as the error's knowledge_base_id when there is one)."""
    with pytest.raises(ValidationError) as caught:
        knowledge_base_ref(value)
    assert caught.value.message == message
    assert caught.value.knowledge_base_id == named


def test_a_deadline_is_named_when_refused() -> None:
    """deadline= of no use (negative) is refused naming deadline; None is no deadline."""
    assert deadline(None) is None
    with pytest.raises(ValidationError) as caught:
        deadline(-1)
    assert caught.value.message == "deadline must be a positive number of seconds, not -1"
