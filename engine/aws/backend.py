"""The runners' backend on AWS: SES v2 raw send, SES SendBounce, S3, SNS (boto3, imported on first use).

The clients honour the standard configuration, AWS_ENDPOINT_URL included (docs/operations.md),
with short timeouts and botocore's standard retries, so a throttled call is
retried inside the invocation before the queued message is.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.backend import BounceRequest

CLIENT_CONFIG = {"connect_timeout": 3, "read_timeout": 10, "retries": {"total_max_attempts": 5, "mode": "standard"}}


class AwsBackend:
    """One client per service, made when first needed; `clients` lets tests hand in their own."""

    def __init__(self, **clients: Any) -> None:
        self._clients = dict(clients)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(service, config=Config(**CLIENT_CONFIG))
        return self._clients[service]

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def send_raw(self, identity: str, destinations: list[str], message: bytes) -> str:
        answer = self.client("sesv2").send_email(FromEmailAddress=identity,
                                                 Destination={"ToAddresses": destinations},
                                                 Content={"Raw": {"Data": message}})
        return answer["MessageId"]

    def send_bounce(self, request: BounceRequest) -> str:
        return self.client("ses").send_bounce(**request.parameters())["MessageId"]

    def put_object(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str],
                   kms_key: str | None) -> None:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Metadata=dict(metadata), **extra)

    def publish(self, topic: str, message: str) -> None:
        self.client("sns").publish(TopicArn=topic, Message=message)
