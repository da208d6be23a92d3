"""ses-rules: a declarative rule engine for the Lambda function Amazon SES calls when mail arrives."""
from .decision import Decision, RecordDecision
from .diagnostics import Diagnostic, PolicyError
from .loader import load_policy, load_policy_text
from .policy import Policy, Rule

__all__ = ["Decision", "Diagnostic", "Policy", "PolicyError", "RecordDecision", "Rule",
           "load_policy", "load_policy_text"]
