"""The SAM template resolved for given parameter values, as CloudFormation would see it.

The template is read with cfn-lint's own decoder and its intrinsic functions are
resolved by the small evaluator below, so each test looks at the template a
stack would really get for those parameters. Resources stay symbolic
(`{"ref": name}`, `{"getatt": "Name.Attr"}`), which is what the tests compare.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "sam" / "template.yaml"
ACCOUNT, REGION, PARTITION, STACK = "111122223333", "eu-west-1", "aws", "mail-prod"
NO_VALUE = object()
CFN_LINT = Path(sys.executable).parent / "cfn-lint"   # the console script of the dev install
# Regions that have long received mail; cfn-lint checks resource availability per region.
LINT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def cfn_lint(template: Path) -> subprocess.CompletedProcess:
    assert CFN_LINT.exists(), f"{CFN_LINT} missing: install the dev extra (make install)"
    return subprocess.run([str(CFN_LINT), "--regions", *LINT_REGIONS, "--", str(template)],
                          capture_output=True, text=True, timeout=180)


class Stack:
    """The template resolved for one set of parameter values."""

    def __init__(self, template_path: Path = TEMPLATE, **overrides: str) -> None:
        template, matches = decode_str(template_path.read_text(encoding="utf-8"))
        assert not matches, matches
        self.template = template
        self.params = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
        self.params.update({"Recipients": "support@example.com", **overrides})
        self.pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
                       "AWS::Partition": PARTITION, "AWS::StackName": STACK}
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.conditions[name] = self._condition({"Condition": name})
        self.resources = {name: res for name, res in template["Resources"].items()
                          if self.conditions.get(res.get("Condition"), True)}

    def props(self, name: str) -> dict:
        return self.resolve(self.resources[name]["Properties"])

    def env(self, name: str) -> dict:
        return self.props(name)["Environment"]["Variables"]

    def rule_violations(self) -> list[str]:
        """The AssertDescription of every template Rule assertion these parameters break."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self._condition(rule["RuleCondition"]):
                continue
            broken += [a["AssertDescription"] for a in rule["Assertions"] if not self._condition(a["Assert"])]
        return broken

    def _condition(self, expr: Any) -> bool:
        (fn, args), = expr.items()
        if fn == "Condition":
            if args not in self.conditions:
                self.conditions[args] = self._condition(self.template["Conditions"][args])
            return self.conditions[args]
        if fn == "Fn::Equals":
            return self.resolve(args[0]) == self.resolve(args[1])
        if fn == "Fn::Not":
            return not self._condition(args[0])
        if fn == "Fn::And":
            return all(self._condition(a) for a in args)
        if fn == "Fn::Or":
            return any(self._condition(a) for a in args)
        raise AssertionError(f"condition function {fn} not handled by the test evaluator")

    def _param(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            value = self.params[name]
            kind = self.template["Parameters"][name]["Type"]
            return [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" else value
        return {"ref": name}                      # a resource: kept symbolic

    def _sub(self, text: str, variables: dict) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return "{%s}" % name              # ${Resource.Attr}
            value = self._param(name)
            return value if isinstance(value, str) else "{%s}" % name
        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def _text(self, value: Any) -> str:
        """A resolved value inside a string (Join): resources written as in Sub."""
        if isinstance(value, dict):
            return "{%s}" % (value.get("ref") or value.get("getatt"))
        return str(value)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        items = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in items.items() if v is not NO_VALUE}

    def rule_set_name(self) -> str:
        name = self.props("ReceiptRule")["RuleSetName"]
        if isinstance(name, dict):                # Ref to the rule set this stack creates
            return self.props(name["ref"])["RuleSetName"]
        return name

    def rule_arn(self) -> str:
        rule = self.props("ReceiptRule")["Rule"]["Name"]
        return (f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:receipt-rule-set/"
                f"{self.rule_set_name()}:receipt-rule/{rule}")

    def action_kinds(self) -> list[str]:
        return [next(iter(a)) for a in self.props("ReceiptRule")["Rule"]["Actions"]]

    def statements(self, role: str) -> list[dict]:
        """Every statement of the inline policies of `role`, resolved."""
        return [s for p in self.props(role)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _sub(stack: Stack, arg: Any) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else arg
    return stack._sub(text, {k: stack._text(stack.resolve(v)) for k, v in variables.items()})


def _join(stack: Stack, arg: list) -> str:
    return arg[0].join(stack._text(v) for v in stack.resolve(arg[1]))


_FUNCTIONS = {
    "Ref": lambda stack, arg: stack._param(arg),
    "Condition": lambda stack, arg: stack._condition({"Condition": arg}),
    "Fn::If": lambda stack, arg: stack.resolve(arg[1] if stack._condition({"Condition": arg[0]}) else arg[2]),
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Split": lambda stack, arg: stack.resolve(arg[1]).split(arg[0]),
    "Fn::Select": lambda stack, arg: stack.resolve(arg[1])[int(arg[0])],
    "Fn::GetAtt": lambda stack, arg: {"getatt": ".".join(arg) if isinstance(arg, list) else arg},
}
