"""policies/default.yaml written by hand, as teams deploy such a function: the cold-start baseline.

Benchmark 5 compares the engine's cold start with a hand-written Powertools function
making the same decisions: drop infected, spam and DMARC-rejected mail and
display-name spoofs, continue the rest (tests/test_benchmarks_smoke.py checks it
decides like the policy on the example events). It logs its decision with
Powertools Logger, as AWS's example functions do; the engine's handler also
publishes EMF metrics, which this function does not.
"""
import re

from aws_lambda_powertools import Logger

logger = Logger(service="ses-filter")
ANGLE = re.compile(r"<([^<>]*)>")
NAME_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def spoofed(from_headers: list) -> bool:
    """An address written in a display name that is none of the From addresses."""
    real, named = set(), set()
    for raw in from_headers:
        match = ANGLE.search(raw)
        if match is None:
            real.add(raw.strip().lower())
            continue
        real.add(match.group(1).strip().lower())
        named.update(a.lower() for a in NAME_ADDRESS.findall(raw[:match.start()]))
    return bool(named) and not named & real


def decide(event: dict) -> str:
    ses = event["Records"][0]["ses"]
    receipt, mail = ses["receipt"], ses["mail"]
    if receipt.get("virusVerdict", {}).get("status") == "FAIL":
        return "STOP_RULE_SET"
    if receipt.get("spamVerdict", {}).get("status") == "FAIL":
        return "STOP_RULE_SET"
    if receipt.get("dmarcVerdict", {}).get("status") == "FAIL" and receipt.get("dmarcPolicy") == "reject":
        return "STOP_RULE_SET"
    if spoofed(mail.get("commonHeaders", {}).get("from", [])):
        return "STOP_RULE_SET"
    return "CONTINUE"


@logger.inject_lambda_context
def lambda_handler(event, context):
    try:
        disposition = decide(event)
    except (KeyError, IndexError, TypeError, AttributeError):
        logger.exception("not an SES event")
        disposition = "CONTINUE"
    logger.info("decided", extra={"disposition": disposition})
    return {"disposition": disposition}
