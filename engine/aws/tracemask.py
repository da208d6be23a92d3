"""An explain trace as the log may show it: every address (and every local part) as LOG_ADDRESSES wants.

Apart from `engine.aws.telemetry` so the trace types are imported only when a trace is
logged (LOG_TRACE sampling), not at every cold start.
"""
from __future__ import annotations

from dataclasses import replace

from engine.aws.telemetry import LOCAL_PARTS, mask, mask_value
from engine.trace import RuleTrace, TestTrace, TraceTransformer


class Masker(TraceTransformer):
    """A trace with every address (and every local part) as `LOG_ADDRESSES` wants it."""

    def __init__(self, mode: str):
        self.mode = mode

    def visit_rule(self, node: RuleTrace) -> RuleTrace:
        """Planned actions hold resolved arguments (where mail goes): masked like addresses."""
        masked = super().visit_rule(node)
        return masked if node.actions is None else replace(masked, actions=mask(node.actions, self.mode))

    def visit_test(self, node: TestTrace) -> TestTrace:
        if self.mode == "full":
            return node
        local = node.test.endswith(LOCAL_PARTS)
        checks = [replace(c, arg=mask_value(c.arg, self.mode, local), matched=mask_value(c.matched, self.mode, local))
                  for c in node.checks]
        return replace(node, test=mask_value(node.test, self.mode), values=mask_value(node.values, self.mode, local),
                       checks=checks)
