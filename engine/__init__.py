"""ses-rules: a declarative rule engine for the Lambda function Amazon SES calls when mail arrives."""
from engine.decision import Decision, RecordDecision
from engine.lang.diagnostics import Diagnostic, PolicyError
from engine.lang.loader import load_policy, load_policy_text
from engine.policy import Policy, Rule

__all__ = ["Decision", "Diagnostic", "Policy", "PolicyError", "RecordDecision", "Rule",
           "load_policy", "load_policy_text"]
