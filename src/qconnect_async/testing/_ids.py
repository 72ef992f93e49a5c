"""Identifiers of the fake service: UUIDs, ARNs, and knowledge base references.

Apart from the backend so that the controls (and RemoteQConnectServer) need no moto.
"""

from __future__ import annotations

import re
import uuid

# The service's own shapes: `Uuid` and the ARN branch of `UuidOrArn` in botocore's model.
UUID_RE = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
ACCOUNT_RE = re.compile(r"[0-9]{12}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
KB_ARN_RE = re.compile(
    r"arn:(?P<partition>[a-z-]+):wisdom:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"knowledge-base/(?P<id>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})"
)


def new_id() -> str:
    """A fresh lower-case UUID, the form every qconnect ID takes."""
    return str(uuid.uuid4())


#: Region prefixes of the partitions other than `aws` (botocore's endpoints data, regionRegex).
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
)


def partition(region: str) -> str:
    """The partition of a Region: aws, aws-cn, aws-us-gov, ..."""
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


def knowledge_base_arn(region: str, account_id: str, knowledge_base_id: str) -> str:
    """The ARN of a knowledge base, in its Region's partition."""
    where = f"{partition(region)}:wisdom:{region}:{account_id}"
    return f"arn:{where}:knowledge-base/{knowledge_base_id}"


def split_knowledge_base_ref(ref: str) -> tuple[str, str | None, str | None] | None:
    """(id, region, account) of a KB given as an ID or an ARN; None if it is neither."""
    if UUID_RE.fullmatch(ref):
        return ref, None, None
    match = KB_ARN_RE.fullmatch(ref)
    if match is None:
        return None
    return match["id"], match["region"], match["account"]


def knowledge_base_id_of(ref: str) -> str:
    """The ID inside a KB reference, or the reference itself when it is not one."""
    parts = split_knowledge_base_ref(ref)
    return ref if parts is None else parts[0]
