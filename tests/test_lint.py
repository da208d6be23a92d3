"""Lint warnings of `ses-rules validate`: each code fires where it should, at the right node, and only there."""
from __future__ import annotations

import textwrap

import pytest

from engine import load_policy_text
from engine.mail.record import RECORD_SHAPE as SES_SHAPE
from engine.tools.lint import CODES, check_path, lint


def warnings(text: str) -> list:
    return lint(load_policy_text(textwrap.dedent(text), file="p.yaml"))


def codes(text: str) -> list[str]:
    return [w.code for w in warnings(text)]


def policy(rules: str, extra: str = "") -> str:
    return "version: 1\n" + textwrap.dedent(extra) + "rules:\n" + textwrap.indent(textwrap.dedent(rules), "  ")


# --- paths ------------------------------------------------------------------------


@pytest.mark.parametrize("path, hint", [
    ("$.mail.comonHeaders.subject", "did you mean $.mail.commonHeaders.subject?"),
    ("$.receipt.spfVerdict.stauts", "did you mean $.receipt.spfVerdict.status?"),
    ("$.receipt.spfverdict.status", "did you mean $.receipt.spfVerdict.status?"),
    ("$.mail.headers[?(@.nmae == 'X-Spam')].value", "did you mean $.mail.headers[?(@.name == 'X-Spam')].value?"),
    ("$.mail.commonHeaders['replyto'][*]", "did you mean $.mail.commonHeaders['replyTo'][*]?"),
    ("$.mail.headers.name", "$.mail.headers is a list: write $.mail.headers[*].name"),
    ("$.eventSource", "paths start at the record's `ses` object: $.mail... or $.receipt..."),
])
def test_a_path_that_cannot_exist_gets_a_hint(path: str, hint: str) -> None:
    problem = check_path(path)
    assert problem is not None and problem.hint == hint
    assert path in problem.message


@pytest.mark.parametrize("path", [
    "$.mail.commonHeaders.subject", "$.mail.commonHeaders['reply-to'][*]", "$.mail.headers[0].value",
    "$.mail.headers[?(@.name == 'X-Spam-Flag')].value", "$.receipt.action.objectKeyPrefix",
    "$.receipt.*.status", "$.mail.destination[0:2]", "$", "$..subject", "$.mail.commonHeaders.*",
])
def test_paths_an_ses_record_has_are_accepted(path: str) -> None:
    assert check_path(path) is None


@pytest.mark.parametrize("path, why", [
    ("$.mail.source.domain", "$.mail.source is a single value"),
    ("$.mail[0]", "$.mail is an object"),
    ("$.receipt.recipients.address", "$.receipt.recipients is a list"),
])
def test_steps_into_the_wrong_kind_of_value_are_reported(path: str, why: str) -> None:
    problem = check_path(path)
    assert problem is not None and why in problem.message


def test_every_leaf_of_the_encoded_record_shape_is_accepted() -> None:
    def leaves(shape, here):
        if isinstance(shape, dict):
            for key, child in shape.items():
                yield from leaves(child, f"{here}['{key}']" if "-" in key else f"{here}.{key}")
        elif isinstance(shape, list):
            yield from leaves(shape[0], f"{here}[*]")
        else:
            yield here
    paths = list(leaves(SES_SHAPE, "$"))
    assert len(paths) >= 35
    assert [p for p in paths if check_path(p)] == []


def test_unknown_path_is_reported_at_the_path_node_with_its_position() -> None:
    [warning] = [w for w in warnings(policy("""\
        - name: typo
          when: {path: $.mail.comonHeaders.subject, contains: invoice}
          disposition: STOP_RULE
        """)) if w.code == "unknown-path"]
    assert (warning.file, warning.line, warning.col, warning.severity) == ("p.yaml", 4, 18, "warning")
    assert warning.hint == "did you mean $.mail.commonHeaders.subject?"


def test_unknown_path_in_a_named_condition_is_reported_at_its_definition() -> None:
    found = warnings(policy("""\
        - name: r
          when: {condition: flagged}
          disposition: STOP_RULE
        """, extra="""\
        conditions:
          flagged: {path: "$.mail.headers[*].valeu", equals: "YES"}
        """))
    assert [(w.code, w.line) for w in found] == [("unknown-path", 3), ("never-matches", 5)]


# --- reachability -----------------------------------------------------------------


def test_rules_after_a_rule_without_when_are_unreachable() -> None:
    found = warnings(policy("""\
        - name: catch-all
          disposition: STOP_RULE_SET
        - name: later
          when: {spf: FAIL}
          disposition: STOP_RULE
        """))
    assert [(w.code, w.line, w.col) for w in found] == [("unreachable-rule", 5, 5)]
    assert "catch-all" in found[0].message and "line 3" in found[0].message


@pytest.mark.parametrize("when", [
    "{any: [{spf: PASS}, {not: {spf: PASS}}, {to: {count: {gte: 0}}}]}",
    "{to: {count: {gte: 0}}}",
    "{path: $.mail.nosuch, exists: false}",
    "{not: {path: $.mail.nosuch, equals: x}}",
    "{path: $.mail.nosuch, not_equals: x}",
    "{condition: always}",
])
def test_a_trivially_true_when_blocks_the_rules_after_it(when: str) -> None:
    found = codes(policy(f"""\
        - name: first
          when: {when}
          disposition: STOP_RULE_SET
        - name: second
          disposition: CONTINUE
        """, extra="conditions:\n  always: {all: [{to: {count: {gte: 0}}}]}\n"))
    assert "unreachable-rule" in found


@pytest.mark.parametrize("when", ["{spf: FAIL}", "{to: {count: {gt: 0}}}", "{path: $.mail.source, exists: false}",
                                  "{any: [{spf: PASS}, {dkim: PASS}]}"])
def test_a_condition_that_depends_on_the_mail_blocks_nothing(when: str) -> None:
    assert "unreachable-rule" not in codes(policy(f"""\
        - name: first
          when: {when}
          disposition: STOP_RULE_SET
        - name: second
          disposition: CONTINUE
        """))


def test_shadow_and_disabled_catch_alls_do_not_block_later_rules() -> None:
    assert codes(policy("""\
        - name: watch
          mode: shadow
          disposition: STOP_RULE
        - name: off
          enabled: false
          disposition: STOP_RULE
        - name: real
          when: {virus: FAIL}
          disposition: STOP_RULE_SET
        """)) == []


def test_a_condition_that_never_holds_is_reported() -> None:
    found = warnings(policy("""\
        - name: never
          when: {all: [{spf: PASS}, {path: $.mail.nosuch, exists: true}]}
          disposition: STOP_RULE
        """))
    assert sorted(w.code for w in found) == ["never-matches", "unknown-path"]


# --- spoofable allow rules --------------------------------------------------------


def test_continue_on_from_without_dmarc_pass_is_spoofable() -> None:
    [warning] = [w for w in warnings(policy("""\
        - name: partners
          when: {from.domain: {in_domain: acme.example}}
          disposition: CONTINUE
        """)) if w.code.startswith("spoofable")]
    assert (warning.code, warning.line, warning.col) == ("spoofable-from", 4, 12)
    assert "dmarc: PASS" in (warning.hint or "")


@pytest.mark.parametrize("when", [
    "{from.domain: acme.example, dmarc: PASS}",
    "{all: [{from.domain: acme.example}, {dmarc: pass}]}",
    "{all: [{from.domain: acme.example}, {condition: authenticated}]}",
    "{all: [{any: [{from: a@acme.example}, {from: b@acme.example}]}, {dmarc: [PASS]}]}",
    "{any: [{all: [{from: a@acme.example}, {dmarc: PASS}]}, {subject: hello}]}",
    "{all: [{reply_to.domain: acme.example}, {path: $.receipt.dmarcVerdict.status, equals: PASS}]}",
])
def test_from_guarded_by_dmarc_pass_on_every_branch_is_fine(when: str) -> None:
    found = codes(policy(f"""\
        - name: partners
          when: {when}
          disposition: CONTINUE
        """, extra="conditions:\n  authenticated: {spf: PASS, dkim: PASS, dmarc: PASS}\n"))
    assert [c for c in found if c.startswith("spoofable")] == []


@pytest.mark.parametrize("when, code", [
    ("{any: [{from.domain: acme.example}, {dmarc: PASS}]}", "spoofable-from"),
    ("{all: [{from.domain: acme.example}, {any: [{dmarc: PASS}, {spf: PASS}]}]}", "spoofable-from"),
    ("{any: [{all: [{from: a@acme.example}, {dmarc: PASS}]}, {sender_header: b@acme.example}]}", "spoofable-from"),
    ("{not: {from.domain: {not_in: [acme.example]}}}", "spoofable-from"),
    ("{header.Reply-To: {contains: acme}}", "spoofable-from"),
    ("{path: \"$.mail.commonHeaders.from[*]\", contains: acme}", "spoofable-from"),
    ("{sender: {in_domain: acme.example}, dmarc: PASS}", "spoofable-sender"),
    ("{return_path.domain: acme.example}", "spoofable-sender"),
    ("{path: $.mail.source, ends_with: '@acme.example'}", "spoofable-sender"),
])
def test_unguarded_branches_are_spoofable(when: str, code: str) -> None:
    assert [c for c in codes(policy(f"""\
        - name: allow
          when: {when}
          disposition: CONTINUE
        """)) if c.startswith("spoofable")] == [code]


def test_sender_guarded_by_spf_pass_is_fine_and_block_rules_are_never_spoofable() -> None:
    assert codes(policy("""\
        - name: allow
          when: {sender.domain: acme.example, spf: PASS}
          disposition: CONTINUE
        - name: block
          when: {from.domain: evil.example}
          disposition: STOP_RULE_SET
        - name: absent-from
          when: {from: {exists: false}}
          disposition: CONTINUE
        """)) == []


# --- a second address: one pass, two codes ---------------------------------------


def test_a_blocking_rule_built_on_a_negation_is_defeated_by_a_second_from() -> None:
    [warning] = warnings(policy("""\
        - name: ceo-spoof
          when:
            all:
              - from.display_name: {contains: CEO}
              - from.domain: {not_in_domain: corp.example}
          disposition: STOP_RULE_SET
        """))
    assert (warning.code, warning.line, warning.col) == ("negation-defeated-by-second-value", 7, 25)
    assert "where" in warning.hint and "{from: {where: {domain: {not_in_domain: ...}}}}" in warning.hint


def test_the_same_rule_written_with_where_is_clean() -> None:
    assert codes(policy("""\
        - name: ceo-spoof
          when: {from: {where: {display_name: {contains: CEO}, domain: {not_in_domain: corp.example}}}}
          disposition: STOP_RULE_SET
        """)) == []


@pytest.mark.parametrize("when", [
    "{reply_to.domain: {exists: true, not_same_as: from.domain}}",
    "{not: {to: {in_domain: corp.example}}}",
    "{header.Resent-From.domain: {not_in_domain: corp.example}}",
    "{any: [{spf: FAIL}, {from.name_address: {exists: true, not_same_as: from.address}}]}",
])
def test_negations_over_several_addresses_in_blocking_rules(when: str) -> None:
    assert "negation-defeated-by-second-value" in codes(policy(f"""\
        - name: block
          when: {when}
          disposition: STOP_RULE
        """))


@pytest.mark.parametrize("when, disposition", [
    ("{sender.domain: {not_in_domain: corp.example}}", "STOP_RULE"),          # one envelope sender
    ("{subject: {not_contains: invoice}}", "STOP_RULE"),                     # text, not addresses
    ("{from.domain: {not_in_domain: corp.example}}", "CONTINUE"),            # an allow rule
    ("{not: {from.domain: {in_domain: corp.example, match: all}}}", "STOP_RULE"),
    ("{all: [{from.name_address: {exists: true}}, {not: {from.name_address: {same_as: from.address, match: all}}}]}",
     "STOP_RULE_SET"),
])
def test_tests_a_second_address_cannot_defeat(when: str, disposition: str) -> None:
    assert "negation-defeated-by-second-value" not in codes(policy(f"""\
        - name: r
          when: {when}
          disposition: {disposition}
        """))


def test_continue_on_from_that_one_address_satisfies() -> None:
    found = warnings(policy("""\
        - name: partners
          when: {from.domain: {in_domain: partner.example}, dmarc: PASS}
          disposition: CONTINUE
        """))
    assert [(w.code, w.line, w.col) for w in found] == [("from-without-match-all", 4, 12)]
    assert "match: all" in found[0].hint


@pytest.mark.parametrize("when", [
    "{from.domain: {in_domain: partner.example, match: all}, dmarc: PASS}",
    "{from: {where: {domain: {in_domain: partner.example}}, match: all}, dmarc: PASS}",
    "{to.domain: {in_domain: corp.example}, dmarc: PASS}",         # not the From family
    "{sender.domain: {in_domain: partner.example}, spf: PASS}",    # one envelope sender
])
def test_allow_rules_every_address_must_satisfy_are_clean(when: str) -> None:
    assert "from-without-match-all" not in codes(policy(f"""\
        - name: partners
          when: {when}
          disposition: CONTINUE
        """))


def test_an_address_literal_on_a_header_read_as_text() -> None:
    [warning] = warnings(policy("""\
        - name: bounces
          when: {header.Return-Path: {equals: bounce@evil.example}}
          disposition: STOP_RULE
        """))
    assert (warning.code, warning.line, warning.col) == ("address-on-text-field", 4, 33)
    assert "header.Return-Path.address" in warning.hint


@pytest.mark.parametrize("when", [
    "{header.Return-Path.address: bounce@evil.example}",
    "{header.Return-Path: {contains: '@evil.example'}}",
    "{path: $.mail.commonHeaders.returnPath, equals: bounce@evil.example}",
    "{header.X-Ticket: CASE-1}",
])
def test_address_literals_where_they_compare_as_meant(when: str) -> None:
    assert "address-on-text-field" not in codes(policy(f"""\
        - name: r
          when: {when}
          disposition: STOP_RULE
        """))


# --- unused lists and conditions, ignore ------------------------------------------


def test_unused_lists_and_conditions_are_reported_at_their_names() -> None:
    found = warnings(policy("""\
        - name: r
          when: {condition: used}
          disposition: STOP_RULE
        """, extra="""\
        lists:
          blocked: [a@x.example]
          spare: [b@x.example]
        conditions:
          used: {sender: {in: {list: blocked}}}
          chained: {subject: {contains: {list: spare}}}
        """))
    assert [(w.code, w.line, w.col) for w in found] == [("unused-list", 4, 3), ("unused-condition", 7, 3)]


def test_a_list_used_only_inside_a_used_named_condition_is_used() -> None:
    assert codes(policy("""\
        - name: r
          when: {any: [{condition: outer}]}
          disposition: STOP_RULE
        """, extra="""\
        lists:
          words: [free]
        conditions:
          outer: {condition: inner}
          inner: {subject: {contains: {list: words}}}
        """)) == []


def test_lint_ignore_silences_only_the_named_codes_of_that_rule() -> None:
    text = policy("""\
        - name: relay
          lint: {ignore: [spoofable-sender]}
          when: {sender.domain: relay.example}
          disposition: CONTINUE
        - name: partners
          when: {from.domain: {equals: acme.example, match: all}}
          disposition: CONTINUE
        """)
    assert codes(text) == ["spoofable-from"]


def test_an_ignore_entry_that_is_no_code_gets_a_hint() -> None:
    [warning] = warnings(policy("""\
        - name: relay
          lint: {ignore: [spoofable-sendr]}
          when: {sender.domain: relay.example, spf: PASS}
          disposition: CONTINUE
        """))
    assert warning.code == "unknown-lint-code" and warning.hint == "did you mean spoofable-sender?"


def test_every_code_is_documented() -> None:
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    assert [c for c in CODES if f"`{c}`" not in doc] == []
