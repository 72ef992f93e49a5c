"""What StartContentUpload hands out: presigned URLs the server itself serves, S3-shaped.

The fake serves its presigned URLs on its own port (an upload route and a report route in
front of moto) rather than through moto's S3: that way a URL names this server wherever it
runs (in-process or `python -m qconnect_async.testing`), the faults of the PUT (503 SlowDown, an
expired URL) are injected like every other fault, and the check S3 makes of a presigned PUT
(every signed header present with its value, no unsigned `x-amz-*` header, not expired) is
ours to state instead of moto's, which does not enforce the signed headers of a presigned URL.

URLs: `/qconnect-uploads/<account>/<region>/<key>?X-Amz-...&X-Amz-Signature=<secret>` and
`/qconnect-reports/<account>/<region>/<key>?X-Amz-Signature=<secret>`.

What a QUICK_RESPONSES CSV must hold (the fake's rule, after the console's template): a UTF-8
header row naming at least the columns `Name` and `Content` (any case), then at most 100 data
rows. A data row is bad when its Name or Content is empty, when it has more cells than the
header, or when it is past the 100th. A job with any bad row ends FAILED; its report is a CSV of
the bad rows: `RowNumber`, the row's cells under the upload's header, and `ErrorMessage`.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

UPLOAD_PREFIX = "/qconnect-uploads/"
REPORT_PREFIX = "/qconnect-reports/"
#: The columns a quick-response row cannot do without.
REQUIRED_COLUMNS = ("Name", "Content")
#: Rows one quick-response CSV may hold (the console's limit).
MAX_ROWS = 100
#: What StartContentUpload names besides Content-Type, as the service does for its KMS bucket.
SSE_HEADER = "x-amz-server-side-encryption"
SSE_VALUE = "aws:kms"


@dataclass(eq=False, slots=True)
class Upload:
    """One StartContentUpload: where its PUT goes, what it must carry, what arrived."""

    upload_id: str
    knowledge_base_id: str
    key: str
    signature: str
    url: str
    headers: dict[str, str]
    expires_at: float
    body: bytes | None = None


def new_upload(
    base_url: str,
    account_id: str,
    region: str,
    *,
    upload_id: str,
    knowledge_base_id: str,
    content_type: str,
    ttl_seconds: float,
    now: float,
) -> Upload:
    """A fresh upload and its presigned URL."""
    key, signature = secrets.token_urlsafe(12), secrets.token_hex(32)
    headers = {"Content-Type": content_type, SSE_HEADER: SSE_VALUE}
    query = urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Expires": str(int(ttl_seconds)),
            "X-Amz-SignedHeaders": ";".join(sorted(["host", *(h.lower() for h in headers)])),
            "X-Amz-Signature": signature,
        }
    )
    path = f"{UPLOAD_PREFIX}{quote(account_id)}/{quote(region)}/{key}"
    return Upload(
        upload_id=upload_id,
        knowledge_base_id=knowledge_base_id,
        key=key,
        signature=signature,
        url=f"{base_url}{path}?{query}",
        headers=headers,
        expires_at=now + ttl_seconds,
    )


def report_url(base_url: str, account_id: str, region: str) -> tuple[str, str, str]:
    """(key, signature, url) of a new failed-record report."""
    key, signature = secrets.token_urlsafe(12), secrets.token_hex(32)
    path = f"{REPORT_PREFIX}{quote(account_id)}/{quote(region)}/{key}"
    return key, signature, f"{base_url}{path}?X-Amz-Signature={signature}"


def bad_rows(content: bytes) -> bytes | None:
    """The failed-record report of a quick-response CSV; None when every row is good."""
    text = content.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return None
    header, data = rows[0], rows[1:]
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [name for name in REQUIRED_COLUMNS if name.lower() not in columns]
    failures: list[list[str]] = []
    for number, row in enumerate(data, start=1):
        if not any(cell.strip() for cell in row):
            continue  # a blank line is not a record
        reason = _reason(row, number, header, columns, missing)
        if reason is not None:
            failures.append([str(number), *row[: len(header)], reason])
    if not failures:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["RowNumber", *header, "ErrorMessage"])
    writer.writerows(failures)
    return out.getvalue().encode()


def _reason(
    row: list[str], number: int, header: list[str], columns: dict[str, int], missing: list[str]
) -> str | None:
    if missing:
        return f"the header has no {' or '.join(missing)} column"
    if number > MAX_ROWS:
        return f"a file holds at most {MAX_ROWS} quick responses"
    if len(row) > len(header):
        return f"the row has {len(row)} cells, the header {len(header)}"
    for name in REQUIRED_COLUMNS:
        index = columns[name.lower()]
        if index >= len(row) or not row[index].strip():
            return f"{name} is required"
    return None
