"""benchmarks/policies/realistic.yaml written by hand, the way a careful engineer would.

The baseline the engine is measured against: direct dict access, one address
parse per header string, `in` on sets, `str` methods, `re` compiled once at
import. Nothing is cached across events. It parses addresses with the
engine's own parser (`engine.mail.addresses.parse_addresses`: a possessive-regex
fast path, then the stdlib) so both sides parse alike and the ratio measures
the engine's overhead, not a difference in parsers.
"""
from __future__ import annotations

import re
from typing import Any

from engine.mail.addresses import Address, parse_addresses

BLOCKED_SENDERS = frozenset("""
    ticket-spam@bulkmail.example travelincentives@aol.com seemsg_8452970@gmx.net
    noreply@nestor.co.uk alarm@cheap-vps.example offers@deals.example promo@prizes.example
    no-reply@lottery.example winner@claims.example info@formacaofrenetik.info ts4@nj080.top
    zyb@sgis.com.cn baoguan@hotmail.com mailer@bulk-sender.example news@spam.example
    admin@phish.example billing@fake-invoices.example hr@fake-payroll.example
    it@fake-helpdesk.example ceo@fake-corp.example""".split())
BLOCKED_DOMAINS = frozenset({"bulk-sender.example", "cheap-vps.example", "nj080.top", "bk.ru", "ggg.com",
                             "guide-des-vins-de-bourgogne.fr"})
PARTNERS = frozenset({"acme.example", "globex.example", "example.com", "amazon.com", "winehq.com",
                      "lindsaar.net"})
INTERNAL = frozenset({"corp.example"})
OUR_DOMAINS = frozenset({"corp.example", "example.com", "amazon.com", "test.com", "example.net"})
FINANCE_WORDS = ("invoice", "payment", "bank", "wire transfer", "overdue", "remittance")
AUTO_REPLY_PREFIXES = ("automatic reply", "out of office", "auto:")
PHARMA = re.compile("viagra|cialis|levitra|viarga|lottery|you have won", re.IGNORECASE)
ALERT = re.compile("^(ALARM|PROBLEM|OK):", re.IGNORECASE)
STOP_SET, STOP, CONTINUE = "STOP_RULE_SET", "STOP_RULE", "CONTINUE"


def in_domain(domain: str, domains: frozenset[str]) -> bool:
    """`domain` is one of `domains` or a subdomain of one, on a label boundary."""
    while True:
        if domain in domains:
            return True
        dot = domain.find(".")
        if dot < 0:
            return False
        domain = domain[dot + 1:]


def addresses(values: Any) -> list[Address]:
    """Every address of a commonHeaders list (one parse per string)."""
    if not isinstance(values, list):
        return []
    return [a for raw in values if isinstance(raw, str) for a in parse_addresses(raw)]


def address_of(a: Address) -> str:
    return f"{a.local.casefold()}@{a.domain}"


def status(receipt: dict, verdict: str) -> str | None:
    value = receipt.get(verdict)
    return value.get("status") if isinstance(value, dict) else None


def ses_record(event: Any) -> tuple[dict, dict] | None:
    """The first record's `mail` and `receipt`; None when it is not an SES receiving record."""
    records = event.get("Records") if isinstance(event, dict) else None
    record = records[0] if isinstance(records, list) and records else None
    if not isinstance(record, dict) or record.get("eventSource") != "aws:ses":
        return None
    ses = record.get("ses")
    mail, receipt = (ses.get("mail"), ses.get("receipt")) if isinstance(ses, dict) else (None, None)
    return (mail, receipt) if isinstance(mail, dict) and isinstance(receipt, dict) else None


def decide(event: dict) -> tuple[str, str | None, list[str]]:
    """(disposition, deciding rule, shadow matches) for a Lambda SES event; fails open."""
    record = ses_record(event)
    if record is None:
        return CONTINUE, None, []
    mail, receipt = record
    common = mail.get("commonHeaders") or {}
    shadow: list[str] = []

    if status(receipt, "virusVerdict") == "FAIL":
        return STOP_SET, "drop-virus", shadow
    if status(receipt, "spamVerdict") == "FAIL":
        return STOP_SET, "drop-spam", shadow
    dmarc = status(receipt, "dmarcVerdict")
    if dmarc == "FAIL" and receipt.get("dmarcPolicy") == "reject":
        return STOP_SET, "drop-dmarc-reject", shadow
    spf = status(receipt, "spfVerdict")
    if spf == "FAIL" and status(receipt, "dkimVerdict") not in ("PASS", "GRAY"):
        return STOP_SET, "drop-spf-fail-unsigned", shadow

    source = mail.get("source")
    senders = parse_addresses(source) if isinstance(source, str) else []
    if any(address_of(a) in BLOCKED_SENDERS for a in senders):
        return STOP_SET, "drop-blocked-sender", shadow
    froms = addresses(common.get("from"))
    from_domains = [a.domain for a in froms]
    if any(in_domain(a.domain, BLOCKED_DOMAINS) for a in senders) or \
            any(in_domain(d, BLOCKED_DOMAINS) for d in from_domains):
        return STOP_SET, "drop-blocked-domain", shadow
    name_addresses = [f"{local.casefold()}@{domain}" for a in froms
                      for local, _, domain in (n.rpartition("@") for n in a.name_addresses)]
    if name_addresses and not set(name_addresses) & {address_of(a) for a in froms}:
        return STOP_SET, "drop-display-name-spoof", shadow

    headers: dict[str, list[Any]] = {}
    for header in mail.get("headers") or ():
        headers.setdefault(header["name"].lower(), []).append(header["value"])
    if any(isinstance(v, str) and v.casefold().startswith("1") for v in headers.get("x-priority", ())):
        shadow.append("watch-high-priority")
    if any(isinstance(v, str) and v.casefold() == "yes" for v in headers.get("x-spam-flag", ())):
        return STOP_SET, "drop-spam-flag", shadow

    subject = common.get("subject")
    subject = subject if isinstance(subject, str) else None
    if subject is not None and PHARMA.search(subject):
        return STOP_SET, "drop-pharma-subject", shadow
    folded = subject.casefold() if subject is not None else None
    finance = folded is not None and any(word in folded for word in FINANCE_WORDS)
    reply_to = addresses(common.get("replyTo") or common.get("reply-to"))
    if reply_to and finance and not {a.domain for a in reply_to} & set(from_domains):
        return STOP, "hold-reply-to-elsewhere", shadow
    if finance and not any(in_domain(d, PARTNERS) for d in from_domains) and \
            not any(in_domain(d, INTERNAL) for d in from_domains):
        return STOP, "hold-external-finance", shadow
    if folded is not None and folded.startswith(AUTO_REPLY_PREFIXES):
        return STOP_SET, "drop-auto-replies", shadow
    if any(isinstance(v, str) and v.casefold() in ("bulk", "junk") for v in headers.get("precedence", ())):
        return STOP, "hold-bulk-precedence", shadow
    if dmarc == "PASS" and any(in_domain(d, PARTNERS) for d in from_domains):
        return CONTINUE, "allow-partner", shadow
    if spf == "PASS" and subject is not None and ALERT.search(subject) and \
            any(in_domain(d, INTERNAL) for d in from_domains):
        return CONTINUE, "allow-internal-alerts", shadow
    recipients = addresses(receipt.get("recipients"))
    if len(recipients) > 15:
        return STOP, "hold-mass-recipients", shadow
    if not froms:
        return STOP_SET, "drop-no-from", shadow
    if not any(in_domain(a.domain, OUR_DOMAINS) for a in recipients):
        return STOP, "hold-not-for-us", shadow
    if "GRAY" in (spf, status(receipt, "dkimVerdict"), status(receipt, "spamVerdict")):
        shadow.append("watch-gray-verdicts")
    return CONTINUE, None, shadow
