"""moto's standalone S3 server on 127.0.0.1, and an SES-like archive to fill it with.

Used by the archive tests (the CLI as a subprocess, reaching the server through
`AWS_ENDPOINT_URL`) and by `make bench`'s replay throughput. The messages are made here, each
distinct, some with SES's header block (verdicts FAIL now and then), some without.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}


@contextmanager
def moto_server() -> Iterator[str]:
    """The server's endpoint URL while the block runs; an ephemeral port on loopback only."""
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)     # no line per request on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    """An environment for a subprocess that talks to the server and to nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(max_pool_connections=32, retries={"total_max_attempts": 3}))


def put_all(s3: Any, bucket: str, objects: list[tuple[str, bytes, dict[str, str]]]) -> None:
    """Upload (key, body, metadata) objects, 16 at a time."""
    s3.create_bucket(Bucket=bucket)

    def put(obj: tuple[str, bytes, dict[str, str]]) -> None:
        key, body, meta = obj
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=meta)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, objects))


def ses_message(n: int) -> bytes:
    """Message ``n``: distinct sender and subject; SES's block on most, verdicts that vary."""
    sid = f"m{n:06d}q7ses0archive0sample0id"
    sender = f"user{n}@sender{n % 97}.example"
    body = (f"From: User {n} <{sender}>\r\nTo: support@corp.example\r\n"
            f"Subject: request {n} (score {n % 40})\r\nDate: Mon, 27 Sep 2021 20:16:39 +0000\r\n"
            f"Message-ID: <{n}@sender.example>\r\n\r\nbody {n}\r\n")
    if n % 5 == 0:                       # stored some other way: no SES block, verdicts assumed
        return body.encode()
    spam = "FAIL" if n % 7 == 0 else "PASS"
    virus = "FAIL" if n % 31 == 0 else "PASS"
    dmarc = ("fail (p=REJECT sp=REJECT pct=100)" if n % 11 == 0 else "pass") + f" header.from=sender{n % 97}.example"
    block = (f"Return-Path: <{sender}>\r\n"
             f"Received: from mail{n}.sender.example (mail{n}.sender.example [192.0.2.{n % 250 + 1}])\r\n"
             f" by inbound-smtp.us-east-1.amazonaws.com with SMTP id {sid}\r\n"
             f" for support@corp.example;\r\n Mon, 27 Sep 2021 20:16:39 +0000 (UTC)\r\n"
             f"X-SES-Spam-Verdict: {spam}\r\nX-SES-Virus-Verdict: {virus}\r\n"
             f"Received-SPF: pass (spfCheck: domain of sender.example designates 192.0.2.1 as permitted sender) "
             f"client-ip=192.0.2.1; envelope-from={sender}; helo=mail{n}.sender.example;\r\n"
             f"Authentication-Results: amazonses.com;\r\n spf=pass (spfCheck: designates 192.0.2.1) "
             f"client-ip=192.0.2.1; envelope-from={sender}; helo=mail{n}.sender.example;\r\n"
             f" dkim=pass header.i=@sender.example;\r\n dmarc={dmarc};\r\n"
             f"X-SES-RECEIPT: AEFBQUFBQUFB{n}\r\nX-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=x{n}=;\r\n")
    return block.encode() + body.encode()


def archive_objects(count: int, prefix: str = "inbound/") -> list[tuple[str, bytes, dict[str, str]]]:
    """``count`` message objects keyed like SES's S3 action (prefix + message id)."""
    return [(f"{prefix}{n:06d}", ses_message(n), {}) for n in range(count)]
