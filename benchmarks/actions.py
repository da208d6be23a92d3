"""Benchmark 8, actions: the forward rewrite of a 10 MB message, and what queueing costs SES's answer.

The rewrite is compared with what a hand-written forwarder does to the same
message, a whole parse and re-serialisation by the stdlib (`email` with the
default policy), timed back to back in the same rounds; its peak memory is
measured with tracemalloc, as a multiple of the message size.

Queueing: the deciding function evaluates the forwarder policy on distinct
events (every message its own id and sender), once without and once with
sending its actions to SQS (moto's standalone server on 127.0.0.1, the queue
local); the extra time is the difference of the medians, and its ratio to the
evaluation alone is reported beside it.
"""
from __future__ import annotations

import contextlib
import email
import email.policy
import io
import os
import random
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from engine import load_policy
from engine.actions.forwarding import Forward, rewrite
from engine.mail.sesevent import build_event

from .report import Row
from .timing import Settings, median, once, per_item, ratio

ROOT = Path(__file__).resolve().parent.parent
FORWARDER = ROOT / "examples" / "policies" / "forwarder.yaml"
MESSAGE_MB = 10
MEMORY_TARGET = 3.0          # peak memory of the rewrite, in message sizes
QUEUE_TARGET_MS = 20.0       # the deciding function's extra time to queue the actions
EVENTS = 100


def message(megabytes: float) -> bytes:
    """A multipart message of about `megabytes` MB: a text part and three binary attachments."""
    rng = random.Random(7)
    msg = EmailMessage()
    msg["From"] = "Zoë Example <zoe@sender.example>"
    msg["To"] = "support@corp.example"
    msg["Subject"] = "Quarterly figures – attachments"
    msg["Message-ID"] = "<q4@sender.example>"
    msg["DKIM-Signature"] = "v=1; a=rsa-sha256; d=sender.example; s=s1; bh=abc=; b=" + "A" * 340
    msg.set_content("Figures attached.\n" * 50)
    part = int(megabytes * 1024 * 1024 * 3 / 4 / 3)      # base64 grows each attachment by 4/3
    for n in range(3):
        msg.add_attachment(rng.randbytes(part), maintype="application", subtype="octet-stream",
                           filename=f"figures-{n}.bin")
    return msg.as_bytes(policy=email.policy.SMTP)


def _stdlib_forward(raw: bytes) -> bytes:
    """The hand-written way: parse the whole message, change From, serialise it again."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    del msg["From"]
    msg["From"] = "forwarder@relay.example"
    return msg.as_bytes()


def _rewrite_rows(settings: Settings, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    raw = message(0.5 if quick else MESSAGE_MB)
    spec = Forward("forwarder@relay.example", ["support@corp.example"], "[fwd] ")
    samples = per_item({"rewrite": lambda m: rewrite(m, spec), "stdlib": _stdlib_forward}, [raw], settings)
    tracemalloc.start()
    try:
        rewrite(raw, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size_mb = len(raw) / 1e6
    memory = (peak + len(raw)) / len(raw)     # the message itself counts: the function holds it too
    rows = [
        Row("8 actions", f"forward rewrite of a {size_mb:.1f} MB message with attachments",
            median(samples["rewrite"]) * 1e3, "ms"),
        Row("8 actions", "  vs the stdlib parsing and re-serialising it", ratio(samples["rewrite"], samples["stdlib"]),
            "x", note="a hand-written forwarder's way"),
        Row("8 actions", "  peak memory (message + rewrite) / message size", memory, "x", f"< {MEMORY_TARGET:g}x",
            memory < MEMORY_TARGET, note="the body is a view of the message, never copied" if memory < 2
            else "more than the message and a view of it: something copied the body"),
    ]
    return rows, {"message_bytes": len(raw), "peak_bytes": peak, "rewrite_ms": median(samples["rewrite"]) * 1e3,
                  "stdlib_ms": median(samples["stdlib"]) * 1e3}


def _events(count: int) -> list[dict]:
    """Distinct events the forwarder policy plans a forward for: own sender, subject and message id."""
    return [build_event({"from": f"sender{n}@customer{n}.example", "recipient": ["support@corp.example"],
                         "subject": f"order {n}", "header": [f"X-Order: {n}"]}) for n in range(count)]


def _queue_rows(settings: Settings, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    import logging

    import boto3
    from aws_lambda_powertools import Logger, Metrics
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # one line per request would be timed too

    from engine.aws.actionqueue import ActionQueue, queue_actions

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("sqs", endpoint_url=f"http://{host}:{port}", region_name="eu-west-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        policy = load_policy(FORWARDER, environ={})
        events = _events(20 if quick else EVENTS)
        sink = open(os.devnull, "w")   # noqa: SIM115 - closed below; Powertools writes its lines here
        logger, metrics = Logger(service="bench", stream=sink), Metrics(namespace="Bench", service="bench")

        def decide(event: dict) -> dict:
            return policy.evaluate(event).to_dict()

        queue = ActionQueue("", client=client)

        def decide_and_queue(event: dict) -> dict:
            decision = policy.evaluate(event)
            queue_actions(queue, event, decision, {"name": policy.name, "revision": policy.revision},
                          logger, metrics, "bench")
            return decision.to_dict()

        samples: dict[str, list[float]] = {"decide": [], "queue": []}
        queued = 0
        with contextlib.redirect_stdout(io.StringIO()):
            for number in range(settings.repeats):   # a new queue each round: moto slows as it fills, SQS does not
                queue.url = client.create_queue(QueueName=f"bench-actions-{number}")["QueueUrl"]
                for name, fn in (("decide", decide), ("queue", decide_and_queue)):
                    samples[name].append(per_item({name: fn}, events, Settings(1, 0.0),   # a latency:
                                                  clock=time.perf_counter)[name][0])        # wall time
                queued = max(queued, _depth(client, queue.url))
        sink.close()
    finally:
        server.stop()
    extra_ms = (median(samples["queue"]) - median(samples["decide"])) * 1e3
    rows = [
        Row("8 actions", "deciding function: extra time to queue a record's actions (SQS local)", extra_ms, "ms",
            f"< {QUEUE_TARGET_MS:g} ms", extra_ms < QUEUE_TARGET_MS, note=f"{len(events)} distinct events"),
        Row("8 actions", "  decide + queue vs decide alone", ratio(samples["queue"], samples["decide"]), "x"),
    ]
    return rows, {"extra_ms": extra_ms, "decide_ms": median(samples["decide"]) * 1e3, "queued": queued}


def _depth(client: Any, url: str) -> int:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def run(settings: Settings, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    rewrite_rows, rewrite_details = _rewrite_rows(settings, quick)
    queue_rows, queue_details = _queue_rows(settings, quick)
    if queue_details["queued"] == 0:
        raise RuntimeError("benchmark 8: no action reached the queue")
    return rewrite_rows + queue_rows, {"rewrite": rewrite_details, "queue": queue_details}
