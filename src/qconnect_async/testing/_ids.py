"""Identifiers of the fake service: UUIDs, ARNs, and knowledge base references.

Apart from the backend so that the controls (and RemoteQConnectServer) need no moto.
"""

from __future__ import annotations

import re
import uuid

# The service's own shapes: `Uuid` and the ARN branch of `UuidOrArn` in botocore's model.
UUID_RE = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
KB_ARN_RE = re.compile(
    r"arn:(?P<partition>[a-z-]+):wisdom:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"knowledge-base/(?P<id>[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})"
)


def new_id() -> str:
    """A fresh lower-case UUID, the form every qconnect ID takes."""
    return str(uuid.uuid4())


def knowledge_base_arn(region: str, account_id: str, knowledge_base_id: str) -> str:
    """The ARN of a knowledge base."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:wisdom:{region}:{account_id}:knowledge-base/{knowledge_base_id}"


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
