"""Objects in the mail bucket: raw mail, attachments, large bodies.

Keys are laid out by purpose so lifecycle rules and erasure can act on a prefix:
`raw/` (what SES stored), `attachments/<ticket>/<message>/`, `bodies/<ticket>/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from functions.core.errors import HelplineError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MissingObjectError(HelplineError):
    """The object is not (yet) there. Ours: retried, since S3 and SES may race."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    bucket: str
    key: str

    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def parse(cls, uri: str) -> ObjectRef:
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise ValueError(f"not an s3:// reference: {uri!r}")
        bucket, key = uri[5:].split("/", 1)
        return cls(bucket, key)


def safe_name(filename: str, limit: int = 120) -> str:
    """A filename safe in an S3 key; the original name is kept in the message."""
    cleaned = _UNSAFE.sub("_", filename).strip("._") or "file"
    return cleaned[-limit:]


class BlobStore:
    def __init__(
        self,
        bucket: str,
        client: S3Client | None = None,
        *,
        client_factory: Callable[[], S3Client] | None = None,
    ) -> None:
        self.bucket = bucket
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> S3Client:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.client("s3")
        return self._client

    def get(self, ref: ObjectRef) -> bytes:
        try:
            response = self.client.get_object(Bucket=ref.bucket, Key=ref.key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise MissingObjectError(f"{ref.uri()} does not exist") from exc
            raise
        return response["Body"].read()

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectRef:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return ObjectRef(self.bucket, key)

    def delete(self, ref: ObjectRef) -> None:
        self.client.delete_object(Bucket=ref.bucket, Key=ref.key)
