"""SES's S3 archive: the objects under a prefix, in key order, each read as a raw message.

boto3 is imported only when an archive is read (the CLI extra and the Lambda runtime have it),
with the standard configuration (`AWS_ENDPOINT_URL`, profiles, regions), short timeouts and
bounded retries. An object that cannot be used gets a row that says why: missing (deleted
since it was listed), too large, encrypted by the S3 action's client-side encryption (SES
then stores it with the S3 encryption client's envelope in its metadata), or not a message.
SES's `AMAZON_SES_SETUP_NOTIFICATION` object, and folder markers (keys ending in `/`), are no
input at all: skipped and counted.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.replay.rows import Input, from_message

SETUP_NOTIFICATION = "AMAZON_SES_SETUP_NOTIFICATION"
MAX_OBJECT_BYTES = 40 * 1024 * 1024 + 1024 * 1024   # SES accepts messages up to 40 MB
# The S3 encryption client's envelope, as user metadata (x-amz-meta- dropped by boto3).
ENVELOPE_KEYS = ("x-amz-key-v2", "x-amz-key")
CLIENT_CONFIG = {"connect_timeout": 5, "read_timeout": 30,
                 "retries": {"total_max_attempts": 4, "mode": "standard"}}


class ArchiveError(Exception):
    """An archive that cannot be read at all (no such bucket, no credentials, no boto3)."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str

    @property
    def label(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_url(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX` -> (bucket, prefix); ``ValueError`` when it is not one."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3://BUCKET/PREFIX URL")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"{url!r} has no bucket (write s3://BUCKET/PREFIX)")
    return bucket, prefix


def client(jobs: int = 16) -> Any:
    """An S3 client for ``jobs`` threads at once (boto3 clients are thread-safe)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ArchiveError("reading s3:// needs boto3: pip install 'ses-rules[cli]'") from None
    return boto3.client("s3", config=Config(max_pool_connections=max(jobs, 10), **CLIENT_CONFIG))


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[ObjectRef]:
    """Every object under the prefix in key order (S3 lists UTF-8 binary order), page by page."""
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", ()):
                yield ObjectRef(bucket, entry["Key"])
    except ClientError as exc:
        raise ArchiveError(f"s3://{bucket}/{prefix}: {_aws_error(exc)}") from None
    except BotoCoreError as exc:
        raise ArchiveError(f"s3://{bucket}/{prefix}: {exc}") from None


def skip_reason(key: str) -> str | None:
    """Why an object is not an input at all, or None."""
    if key.rsplit("/", 1)[-1] == SETUP_NOTIFICATION:
        return "SES's setup notification"
    if key.endswith("/"):
        return "folder marker"
    return None


def fetch(s3: Any, ref: ObjectRef) -> Input:
    """The object as an input; never raises for a bad object."""
    skipped = skip_reason(ref.key)
    if skipped:
        return Input(ref.label, None, skipped=skipped)
    data, error = read_object(s3, ref)
    if error is not None:
        return Input(ref.label, None, error)
    return from_message(ref.label, data)


def read_object(s3: Any, ref: ObjectRef) -> tuple[bytes, str | None]:
    """The object's bytes, or the reason it cannot be used as a message."""
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        answer = s3.get_object(Bucket=ref.bucket, Key=ref.key)
        meta = {k.lower(): v for k, v in (answer.get("Metadata") or {}).items()}
        if any(key in meta for key in ENVELOPE_KEYS):
            answer["Body"].close()
            return b"", encrypted_reason(meta)
        if answer.get("ContentLength", 0) > MAX_OBJECT_BYTES:
            answer["Body"].close()
            return b"", f"object of {answer['ContentLength']} bytes is larger than SES's 40 MB"
        return answer["Body"].read(), None
    except ClientError as exc:
        return b"", _aws_error(exc)
    except BotoCoreError as exc:
        return b"", f"cannot read: {exc}"


def encrypted_reason(meta: dict[str, str]) -> str:
    wrap = meta.get("x-amz-wrap-alg", "kms")
    return (f"encrypted by the S3 action's client-side encryption ({wrap} key); ses-rules does "
            "not decrypt: replay a copy decrypted with an S3 encryption client, or archive "
            "without a KMS key")


def _aws_error(exc: Any) -> str:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in ("NoSuchKey", "404"):
        return "no such object (deleted since it was listed?)"
    if code == "NoSuchBucket":
        return "no such bucket"
    if code in ("AccessDenied", "403"):
        return "access denied (the role needs s3:GetObject and s3:ListBucket here)"
    return f"{code or 'error'}: {exc.response.get('Error', {}).get('Message', exc)}"
