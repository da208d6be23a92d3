"""ses-rules: a declarative rule engine for the Lambda function Amazon SES calls when mail arrives.

The names are imported on first use, so `import engine.aws...` (the Lambda handler's
cold start) does not pay for the loader it may never need (a precompiled bundle).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.decision import Decision, RecordDecision
    from engine.lang.diagnostics import Diagnostic, PolicyError
    from engine.lang.loader import load_policy, load_policy_text
    from engine.policy import Policy, Rule

_HOMES = {"Decision": "engine.decision", "RecordDecision": "engine.decision",
          "Diagnostic": "engine.lang.diagnostics", "PolicyError": "engine.lang.diagnostics",
          "load_policy": "engine.lang.loader", "load_policy_text": "engine.lang.loader",
          "Policy": "engine.policy", "Rule": "engine.policy"}

__all__ = ["Decision", "Diagnostic", "Policy", "PolicyError", "RecordDecision", "Rule",
           "load_policy", "load_policy_text"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
