"""The hand-written subject filter, as teams deploy it today: the cold-start baseline.

Configured by MAIL_SOURCE and MAIL_SUBJECTS; logs with Powertools Logger. The
empty-entry bug (a trailing `;` matches every subject) is kept: it is what
such functions do.
"""
import os

from aws_lambda_powertools import Logger

logger = Logger(service="subject-filter")


@logger.inject_lambda_context
def lambda_handler(event, context):
    records = event.get("Records")
    if not records:
        logger.info("no records")
        return {"disposition": "STOP_RULE_SET"}
    mail = records[0]["ses"]["mail"]
    if mail["source"] != os.environ["MAIL_SOURCE"]:
        logger.info("unexpected sender", extra={"source": mail["source"]})
        return {"disposition": "STOP_RULE_SET"}
    subject = mail["commonHeaders"].get("subject", "")
    subjects = [entry.strip() for entry in os.environ["MAIL_SUBJECTS"].split(";")]
    if any(entry in subject for entry in subjects):
        logger.info("subject matched", extra={"subject": subject})
        return {"disposition": "CONTINUE"}
    logger.info("subject not matched", extra={"subject": subject})
    return {"disposition": "STOP_RULE_SET"}
