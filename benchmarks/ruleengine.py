"""The realistic policy as `rule-engine` expressions (PyPI `rule-engine`), for comparison.

rule-engine evaluates expressions over attributes of an object; it cannot parse
addresses or walk domain labels, so each event is wrapped in `Facts`, which
derives those values lazily with the hand-written baseline's helpers (the same
parser). The rules' logic (verdicts, set membership, regexes, string tests) is
rule-engine's.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from . import handwritten as hw

try:
    import rule_engine
except ImportError:      # optional: the table says it is not installed
    rule_engine = None


def _set(values) -> str:
    return "{" + ", ".join(f'"{v}"' for v in sorted(values)) + "}"


def _any_in(facts: str, values) -> str:
    return f"({facts} & {_set(values)}).length > 0"


FIN = "[w for w in " + _set(hw.FINANCE_WORDS) + " if subject_folded != null and w in subject_folded].length > 0"
RULES = [   # (name, mode, disposition, expression)
    ("drop-virus", "enforce", "STOP_RULE_SET", 'virus == "FAIL"'),
    ("drop-spam", "enforce", "STOP_RULE_SET", 'spam == "FAIL"'),
    ("drop-dmarc-reject", "enforce", "STOP_RULE_SET", 'dmarc == "FAIL" and dmarc_policy == "reject"'),
    ("drop-spf-fail-unsigned", "enforce", "STOP_RULE_SET", 'spf == "FAIL" and dkim not in ["PASS", "GRAY"]'),
    ("drop-blocked-sender", "enforce", "STOP_RULE_SET", _any_in("sender_addresses", hw.BLOCKED_SENDERS)),
    ("drop-blocked-domain", "enforce", "STOP_RULE_SET",
     _any_in("sender_suffixes", hw.BLOCKED_DOMAINS) + " or " + _any_in("from_suffixes", hw.BLOCKED_DOMAINS)),
    ("drop-display-name-spoof", "enforce", "STOP_RULE_SET",
     "name_addresses.length > 0 and (name_addresses & from_addresses).length == 0"),
    ("watch-high-priority", "shadow", "STOP_RULE", '[v for v in x_priority if v.starts_with("1")].length > 0'),
    ("drop-spam-flag", "enforce", "STOP_RULE_SET", '"yes" in x_spam_flag'),
    ("drop-pharma-subject", "enforce", "STOP_RULE_SET",
     'subject != null and subject =~~ "(?i)viagra|cialis|levitra|viarga|lottery|you have won"'),
    ("hold-reply-to-elsewhere", "enforce", "STOP_RULE",
     f"reply_domains.length > 0 and (reply_domains & from_domains).length == 0 and {FIN}"),
    ("hold-external-finance", "enforce", "STOP_RULE",
     f"{FIN} and not {_any_in('from_suffixes', hw.PARTNERS)} and not {_any_in('from_suffixes', hw.INTERNAL)}"),
    ("drop-auto-replies", "enforce", "STOP_RULE_SET",
     "subject_folded != null and [p for p in " + _set(hw.AUTO_REPLY_PREFIXES)
     + " if subject_folded.starts_with(p)].length > 0"),
    ("hold-bulk-precedence", "enforce", "STOP_RULE", '"bulk" in precedence or "junk" in precedence'),
    ("allow-partner", "enforce", "CONTINUE", f'{_any_in("from_suffixes", hw.PARTNERS)} and dmarc == "PASS"'),
    ("allow-internal-alerts", "enforce", "CONTINUE",
     f'{_any_in("from_suffixes", hw.INTERNAL)} and spf == "PASS" and subject != null '
     'and subject =~ "(?i)(ALARM|PROBLEM|OK):"'),
    ("hold-mass-recipients", "enforce", "STOP_RULE", "recipient_count > 15"),
    ("drop-no-from", "enforce", "STOP_RULE_SET", "from_addresses.length == 0"),
    ("hold-not-for-us", "enforce", "STOP_RULE", f"not {_any_in('recipient_suffixes', hw.OUR_DOMAINS)}"),
    ("watch-gray-verdicts", "shadow", "CONTINUE", 'spf == "GRAY" or dkim == "GRAY" or spam == "GRAY"'),
]


def _suffixes(domains) -> set[str]:
    """Every label-boundary suffix: `a.b.c` -> {a.b.c, b.c, c}, so in_domain is a set intersection."""
    out = set()
    for domain in domains:
        labels = domain.split(".")
        out.update(".".join(labels[i:]) for i in range(len(labels)))
    return out


class Facts:
    """One record's values, derived on first use (rule-engine reads them as symbols)."""

    def __init__(self, mail: dict, receipt: dict):
        self.mail, self.receipt = mail, receipt
        self.common = self.mail.get("commonHeaders") or {}

    def verdict(self, name: str) -> str | None:
        return hw.status(self.receipt, name + "Verdict")

    @cached_property
    def senders(self) -> list:
        source = self.mail.get("source")
        return hw.parse_addresses(source) if isinstance(source, str) else []

    @cached_property
    def froms(self) -> list:
        return hw.addresses(self.common.get("from"))

    @cached_property
    def recipients(self) -> list:
        return hw.addresses(self.receipt.get("recipients"))

    @cached_property
    def headers(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for header in self.mail.get("headers") or ():
            if isinstance(header.get("value"), str):
                index.setdefault(header["name"].lower(), []).append(header["value"].casefold())
        return index

    @cached_property
    def subject(self) -> str | None:
        subject = self.common.get("subject")
        return subject if isinstance(subject, str) else None

    def resolve(self, name: str) -> Any:
        """A symbol's value, derived once per record."""
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = DERIVED[name](self)
            return value

    @cached_property
    def _values(self) -> dict[str, Any]:
        return {}


DERIVED = {
    "spf": lambda f: f.verdict("spf"), "dkim": lambda f: f.verdict("dkim"),
    "dmarc": lambda f: f.verdict("dmarc"), "spam": lambda f: f.verdict("spam"),
    "virus": lambda f: f.verdict("virus"), "dmarc_policy": lambda f: f.receipt.get("dmarcPolicy"),
    "sender_addresses": lambda f: {hw.address_of(a) for a in f.senders},
    "sender_suffixes": lambda f: _suffixes(a.domain for a in f.senders),
    "from_addresses": lambda f: {hw.address_of(a) for a in f.froms},
    "from_domains": lambda f: {a.domain for a in f.froms},
    "from_suffixes": lambda f: _suffixes(a.domain for a in f.froms),
    "name_addresses": lambda f: {f"{local.casefold()}@{domain}" for a in f.froms
                                 for local, _, domain in (n.rpartition("@") for n in a.name_addresses)},
    "reply_domains": lambda f: {a.domain for a in hw.addresses(
        f.common.get("replyTo") or f.common.get("reply-to"))},
    "recipient_count": lambda f: len(f.recipients),
    "recipient_suffixes": lambda f: _suffixes(a.domain for a in f.recipients),
    "subject": lambda f: f.subject,
    "subject_folded": lambda f: f.subject.casefold() if f.subject is not None else None,
    "x_priority": lambda f: f.headers.get("x-priority", []),
    "x_spam_flag": lambda f: f.headers.get("x-spam-flag", []),
    "precedence": lambda f: f.headers.get("precedence", []),
}


class RuleEnginePolicy:
    """First matching enforcing rule decides; shadow matches before it are collected."""

    def __init__(self) -> None:
        if rule_engine is None:
            raise RuntimeError("rule-engine is not installed (pip install rule-engine)")
        context = rule_engine.Context(resolver=lambda thing, name: thing.resolve(name))
        self.rules = [(name, mode, disposition, rule_engine.Rule(text, context=context))
                      for name, mode, disposition, text in RULES]

    def decide(self, event: dict) -> tuple[str, str | None, list[str]]:
        record = hw.ses_record(event)
        if record is None:
            return "CONTINUE", None, []
        facts = Facts(*record)
        shadow: list[str] = []
        for name, mode, disposition, rule in self.rules:
            if rule.matches(facts):
                if mode == "shadow":
                    shadow.append(name)
                else:
                    return disposition, name, shadow
        return "CONTINUE", None, shadow
