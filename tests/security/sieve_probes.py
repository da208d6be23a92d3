"""Equivalent probes for Pigeonhole and the ses-rules pipeline, built per message.

Each probe is one yes/no question asked of both sides: a Sieve test and a
policy condition meaning the same thing (RFC 5228 `address` / `header` /
`exists` versus the policy's named fields). The questions come from what
*either* side sees in the message, so an address only one of them finds shows
up as a disagreement instead of going unasked.

Two `sieve-test` runs per message: one extracts Sieve's view (first address
per part, address counts, decoded subject), one answers every probe.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

ADDRESS_HEADERS = ("from", "to", "cc")
EXISTS_HEADERS = ("From", "To", "Cc", "Subject", "Reply-To", "Sender")
MAX_COUNT = 64  # a corpus message has at most 21 addresses in one field
REQUIRE = ('require ["variables", "vnd.dovecot.debug", "relational", '
           '"comparator-i;ascii-numeric", "encoded-character"];')
SIEVE_PARTS = {"address": "all", "local": "localpart", "domain": "domain"}


def sieve_string(text: str) -> str:
    """A Sieve quoted string holding `text` literally, also under `variables` (`$` encoded)."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${hex:24}")
    return f'"{body}"'


def _count_test(header: str, n: int) -> str:
    return f'address :all :count "eq" :comparator "i;ascii-numeric" "{header}" "{n}"'


def extraction_script() -> str:
    """Sieve's view of a message: `V <header> <part> <value>`, `C <header> <n>`, `S <subject>`."""
    lines = [REQUIRE]
    for header in ADDRESS_HEADERS:
        for part, sieve_part in SIEVE_PARTS.items():
            lines.append(f'if address :{sieve_part} :matches "{header}" "*" '
                         f'{{ debug_log "V {header} {part} ${{1}}"; }}')
        lines.extend(f'if {_count_test(header, n)} {{ debug_log "C {header} {n}"; }}'
                     for n in range(MAX_COUNT + 1))
    lines.append('if header :matches "subject" "*" { debug_log "S ${1}"; }')
    return "\n".join(lines) + "\n"


@dataclass
class View:
    """What one side sees: per address header the values of each part, the count, the subject."""
    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    counts: dict[str, int | None] = field(default_factory=dict)
    subject: str | None = None


def sieve_view(lines: list[str]) -> View:
    """Parse the extraction script's output (Sieve reports only the first match per part)."""
    view = View(counts={h: None for h in ADDRESS_HEADERS})
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "V":
            header, part, value = (rest.split(" ", 2) + [""])[:3]
            view.values.setdefault((header, part), []).append(value)
        elif kind == "C":
            header, n = rest.split(" ")
            view.counts[header] = int(n)
        elif kind == "S":
            view.subject = rest
    return view


def pipeline_view(event: dict, parse: Callable[[str], list[Any]]) -> View:
    """The pipeline's view of the event built from the message, addresses parsed by `parse`."""
    mail = event["Records"][0]["ses"]["mail"]
    common = mail.get("commonHeaders", {})
    view = View()
    for header in ADDRESS_HEADERS:
        found = [a for raw in common.get(header) or [] for a in parse(raw)]
        view.counts[header] = len(found)
        view.values[(header, "address")] = [a.address for a in found]
        view.values[(header, "local")] = [a.local for a in found]
        view.values[(header, "domain")] = [a.domain for a in found]
    subject = common.get("subject")
    view.subject = subject if isinstance(subject, str) else None
    return view


@dataclass(frozen=True)
class Probe:
    """One question. `when` is None when the policy language cannot even state the literal."""
    id: str
    sieve: str
    when: dict | None


def _exists_probes() -> list[Probe]:
    return [Probe(f"exists:{h}", f'exists "{h}"', {f"header.{h}": {"exists": True}}) for h in EXISTS_HEADERS]


def build_probes(sieve: View, ours: View, is_address: Callable[[str], bool]) -> list[Probe]:
    """Every probe for one message, from the union of both views; ids are stable and readable."""
    probes = _exists_probes()
    for header in ADDRESS_HEADERS:
        for n in sorted({c for c in (sieve.counts.get(header), ours.counts.get(header)) if c is not None}):
            probes.append(Probe(f"count:{header}={n}", _count_test(header, n), {header: {"count": n}}))
        for part, sieve_part in SIEVE_PARTS.items():
            if header != "from" and part == "local":
                continue
            candidates = dict.fromkeys(v for view in (ours, sieve) for v in view.values.get((header, part), []) if v)
            for value in candidates:
                test = f'address :{sieve_part} :is "{header}" {sieve_string(value)}'
                if part == "address":
                    when = {header: value} if is_address(value) else None
                else:
                    when = {f"{header}.{part}": value}
                probes.append(Probe(f"{part}:{header}={value}", test, when))
    for subject in dict.fromkeys(s for s in (ours.subject, sieve.subject) if s and s.strip()):
        probes.append(Probe(f"subject-contains={subject}", f'header :contains "subject" {sieve_string(subject)}',
                            {"subject": {"contains": subject}}))
    return probes


def probe_script(probes: list[Probe]) -> str:
    """One Sieve script answering every probe: `P <index>` for each that holds."""
    lines = [REQUIRE]
    lines.extend(f'if {p.sieve} {{ debug_log "P {i}"; }}' for i, p in enumerate(probes))
    return "\n".join(lines) + "\n"


def sieve_answers(lines: list[str]) -> set[int]:
    return {int(line[2:]) for line in lines if line.startswith("P ")}


def _literal(value: Any) -> Any:
    """Policy text for a value: `${` would be interpolation, `$${` is the literal."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    return value


def probe_policy(probes: list[Probe]) -> str:
    """A policy with one shadow rule per probe: `Decision.shadow` names the probes that hold."""
    rules = [{"name": f"p{i}", "mode": "shadow", "disposition": "CONTINUE", "when": _literal(p.when)}
             for i, p in enumerate(probes) if p.when is not None]
    return yaml.safe_dump({"version": 1, "name": "sieve-probes", "rules": rules},
                          allow_unicode=True, sort_keys=False, width=1 << 20)


def policy_answers(shadow: list[str]) -> set[int]:
    return {int(name[1:]) for name in shadow}
