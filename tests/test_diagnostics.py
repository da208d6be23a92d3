from engine.lang.diagnostics import Diagnostic
from engine.suggest import did_you_mean


def test_str_format():
    d = Diagnostic("p.yaml", 3, 7, "error", "bad-value", "disposition must be ...", "did you mean STOP_RULE?")
    assert str(d) == "p.yaml:3:7: error: disposition must be ... (did you mean STOP_RULE?)"
    assert str(Diagnostic("p.yaml", 1, 1, "warning", "x", "m")) == "p.yaml:1:1: warning: m"
    assert d.to_dict()["hint"] == "did you mean STOP_RULE?"


def test_did_you_mean_catches_what_difflib_misses():
    choices = ["CONTINUE", "STOP_RULE", "STOP_RULE_SET"]
    assert did_you_mean("STOPP", choices) == "STOP_RULE"
    assert did_you_mean("stop_rule_sett", choices) == "STOP_RULE_SET"
    assert did_you_mean("contnue", choices) == "CONTINUE"
    assert did_you_mean("zzz", choices) is None
