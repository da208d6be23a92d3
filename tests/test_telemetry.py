"""engine.aws.telemetry: every address form is masked in the decision line and in traces (issue 10 item 7)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.aws import telemetry
from engine.aws.telemetry import mask_local, mask_text


class Logger:
    def __init__(self):
        self.lines = []

    def info(self, message, extra):
        self.lines.append((message, extra))


@pytest.mark.parametrize(("text", "masked"), [
    ('"john.doe"@example.com', '"***@example.com'),          # quoted local part: was logged whole
    ("jane.roe@[192.0.2.1]", "j***@[192.0.2.1]"),            # address literal: was logged whole
    ("mary smith@example.org", "m***@example.org"),          # unquoted by the parser: was `mary s***@...`
    ('"a\\"b"@x.example', '"***@x.example'),                 # escaped quote in the local part
    ('"Doe, John"@x.example', '"***@x.example'),             # a delimiter inside the quotes
    ("bob @ x.example", "b***@x.example"),
    ("Mary Smith <mary.smith@example.org>", "Mary Smith <m***@example.org>"),
    ("a@b.example, c@d.example", "a***@b.example, c***@d.example"),
    ("no address", "no address"),
])
def test_every_address_form_is_masked(text, masked):
    assert mask_text(text, "masked") == masked
    hidden = mask_text(text, "none")
    assert "@" not in hidden or text == hidden
    assert mask_text(text, "full") == text


@pytest.mark.parametrize("local", ["mary smith", "jane.roe", '"john.doe"'])
def test_no_local_part_survives_masking(local):
    for domain in ("example.org", "[192.0.2.1]"):
        out = mask_text(f"{local}@{domain}", "masked")
        assert out == f"{local[0]}***@{domain}"
        assert local[1:] not in out


def test_local_parts_keep_only_their_first_character():
    assert mask_local("mary.smith", "masked") == "m***"
    assert mask_local("mary.smith", "none") == "***"
    assert mask_local("mary.smith", "full") == "mary.smith"


def test_decision_line_and_trace_mask_quoted_and_literal_addresses():
    from engine.decision import Decision, RecordDecision
    from engine.trace import CheckTrace, RuleTrace, TestTrace

    event = {"Records": [{"ses": {"mail": {"source": '"john.doe"@example.com'},
                                  "receipt": {"action": {"invocationType": "RequestResponse"}}}}]}
    values = ["mary smith@example.org", "jane.roe@[192.0.2.1]"]
    trace = [RuleTrace("r", "enforce", "STOP_RULE", True,
                       TestTrace("from.address", values, [CheckTrace("equals", "x@y.example", True, values)], True))]
    decision = Decision("CONTINUE", None, [], [], "p", "rev", [RecordDecision("CONTINUE", trace=trace)], event)
    logger = Logger()
    telemetry.log_decision(logger, telemetry.Outcome(decision, None), "masked")
    (_, line), = logger.lines
    assert line["sender"] == '"***@example.com'
    logged = line["trace"][0][0]["condition"]
    assert logged["values"] == logged["checks"][0]["matched"] == ["m***@example.org", "j***@[192.0.2.1]"]
    assert values == ["mary smith@example.org", "jane.roe@[192.0.2.1]"]     # the decision itself is untouched


def test_masking_a_hostile_megabyte_finishes_and_masks_everything():
    text = '"' + 'a@b\\"' * 200_000
    out = mask_text(text, "masked")
    assert "a@" not in out


PLAIN = st.text(alphabet=st.sampled_from("aZ09.+-_=!#$%&*/?^`{|}~"), max_size=6)
# A plain part with at most one character that may stop RE2's match (or make the text non-ASCII).
PART = st.tuples(PLAIN, st.sampled_from(["", *' \t\x0b\r\n"<>()[],;:@\\\x7fé']), PLAIN).map("".join)


@given(PART, PART, st.sampled_from(["masked", "none"]))
def test_a_bare_sender_is_masked_as_the_re2_route_masks_it(local, domain, mode):
    """The shortcut for a bare ASCII `local@domain` (no RE2 on a cold start) gives what RE2 gives."""
    text = f"{local}@{domain}"
    assert mask_text(text, mode) == telemetry.mask_found(text, mode)


def test_the_common_sender_takes_the_shortcut():
    assert telemetry.BARE.fullmatch("bounce-123+x=y@mail.partner.example")
    assert mask_text("bounce-123+x=y@mail.partner.example", "masked") == "b***@mail.partner.example"
