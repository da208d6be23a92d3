"""engine.mail.confusables and `confusable_with` (SPEC 3.5, issue 10 item 13)."""
from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from importlib import resources
from pathlib import Path

import pytest

from engine import load_policy_text
from engine.mail import confusables
from engine.mail.confusables import domain_skeleton, skeleton, top_labels

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "derive_confusables.py"


def _derive_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("derive_confusables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the table

def test_committed_table_is_what_the_script_derives_from_the_package():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_derived_table_has_one_entry_per_line_of_confusables_txt():
    merged = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    table = _derive_module().derive(merged)
    assert len(table) == sum(len(entries) for entries in merged.values()) // 2 == 6307
    assert all(len(source) == 1 for source in table)
    assert not set(table) & set("".join(table.values()))      # prototypes are fixed points


def test_direction_is_recovered_for_pairs_of_single_characters():
    """Pairs that only map to each other are ordered by the file; the known ones come out right."""
    table = confusables._prototypes()
    assert table["\u05ad"] == "\u0596"          # HEBREW ACCENT DEHI -> TIPEHA (confusables.txt line order)
    assert table["\u0430"] == "a"               # CYRILLIC SMALL LETTER A -> a (many sources)
    assert table["m"] == "rn"                   # a prototype of two characters
    assert "a" not in table and "rn" not in table


def test_derivation_refuses_data_it_does_not_understand():
    module = _derive_module()
    with pytest.raises(SystemExit):
        module.derive({"ab": [{"c": "x", "n": "X"}], "x": [{"c": "ab", "n": "AB"}, {"c": "y", "n": "Y"}],
                       "y": [{"c": "x", "n": "X"}], "z": [{"c": "y", "n": "Y"}]})


# --------------------------------------------------------------------------- UTS #39 examples

@pytest.mark.parametrize(("look_alike", "original"), [
    ("pаypal", "paypal"),                  # Cyrillic а (UTS #39 section 4)
    ("ѕсоре", "scope"),                    # whole-script confusable: all Cyrillic (section 4.1)
    ("𝔭𝒶ỿ𝕡𝕒ℓ", "paypal"),                  # mathematical letters, y with loop, script l
    ("ρ⍺у𝓅𝒂ן", "paypal"),                 # Greek rho, APL alpha, Cyrillic u, Hebrew final nun
    ("paypa1", "paypal"),                  # digit one
    ("rn", "m"),
    ("Ⅰ", "l"),                            # Roman numeral one
])
def test_skeletons_of_the_uts39_examples_are_equal(look_alike, original):
    assert skeleton(look_alike) == skeleton(original)


@pytest.mark.parametrize(("a", "b"), [("paypal", "paypai"), ("scope", "scape"), ("straße", "strasse")])
def test_different_looking_strings_keep_different_skeletons(a, b):
    assert skeleton(a) != skeleton(b)


def test_skeleton_is_nfd_and_drops_default_ignorables():
    assert skeleton("pa\u200bypal") == skeleton("paypal")
    assert unicodedata.is_normalized("NFD", skeleton("café"))


def test_skeleton_folds_case_only_on_request():
    assert skeleton("g00gle") == skeleton("google")           # 0 -> O, lowercased: what a reader sees
    assert skeleton("g00gle", fold=False) != skeleton("google", fold=False)


def test_domains_are_compared_label_by_label():
    assert domain_skeleton("pаypal.com") == domain_skeleton("paypal.com")
    assert domain_skeleton("a\u2024b.com") != domain_skeleton("a.b.com")   # a one-dot leader is no label boundary


@pytest.mark.parametrize(("domain", "count", "parent"), [
    ("login.paypa1.com", 2, "paypa1.com"), ("login.paypa1.com", 3, "login.paypa1.com"),
    ("login.paypa1.com", 4, None), ("com", 1, "com"),
])
def test_top_labels(domain, count, parent):
    assert top_labels(domain, count) == parent


# --------------------------------------------------------------------------- the operator

POLICY = """version: 1
lists:
  ours: [paypal.com, corp.example]
rules:
  - {name: domain, when: {from.domain: {confusable_with: {list: ours}}}, disposition: STOP_RULE_SET}
  - {name: address, when: {from: {confusable_with: ceo@corp.example}}, disposition: STOP_RULE_SET}
  - {name: name, when: {from.display_name: {confusable_with: PayPal}}, disposition: STOP_RULE_SET}
"""


def _decide(sender: str, policy: str = POLICY):
    event = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0",
                          "ses": {"mail": {"source": "a@b.example", "commonHeaders": {"from": [sender]}},
                                  "receipt": {}}}]}
    return load_policy_text(policy).evaluate(event).rule


@pytest.mark.parametrize(("sender", "rule"), [
    ("x@pаypal.com", "domain"),                 # Cyrillic а
    ("x@xn--pypal-4ve.com", "domain"),          # the same, as written in DNS
    ("x@paypa1.com", "domain"),
    ("x@login.paypa1.com", "domain"),           # a parent domain on a label boundary looks like ours
    ("x@c0rp.example", "domain"),
    ("x@PAYPAL.COM", None),                     # equal to a listed domain: not a look-alike
    ("x@login.paypal.com", None),               # our own subdomain
    ("x@paypal.com.evil.example", None),        # no parent of it looks like ours (in_domain's job)
    ("x@evil.example", None),
    ("cе0@corp.example", "address"),            # Cyrillic е, digit zero in the local part
    ("CEO@corp.example", None),
    ("Pаypal <x@y.example>", "name"),
    ("PAYPAL <x@y.example>", None),             # equal in match form
])
def test_confusable_with_holds_for_look_alikes_only(sender, rule):
    assert _decide(sender) == rule


def test_not_confusable_with_is_the_negation():
    policy = ("version: 1\nrules:\n  - {name: clean, when: {from.domain: {not_confusable_with: paypal.com}},"
              " disposition: CONTINUE}\ndefault: STOP_RULE\n")
    assert _decide("x@pаypal.com", policy) is None
    assert _decide("x@paypal.com", policy) == "clean"


def test_a_domain_literal_with_an_at_sign_is_a_load_error():
    from engine.lang.diagnostics import PolicyError

    with pytest.raises(PolicyError, match="not a domain"):
        load_policy_text("version: 1\nrules:\n  - {name: r, when: {from.domain: {confusable_with: a@b.example}},"
                         " disposition: STOP_RULE}\n")


def test_many_labels_cost_one_parent_per_listed_label_count(monkeypatch):
    """A domain of 200,000 labels: one skeleton per listed label count, not one per label."""
    calls = []
    real = confusables.domain_skeleton
    monkeypatch.setattr(confusables, "domain_skeleton", lambda d: calls.append(len(d)) or real(d))
    policy = load_policy_text(POLICY.split("  - {name: address")[0])
    calls.clear()
    event = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": {"source": "a@b.example", "commonHeaders": {"from": ["x@" + "a." * 200_000 + "example"]}},
        "receipt": {}}}]}
    policy.evaluate(event)
    assert len(calls) <= 1 and sum(calls) <= len("a.example")


def test_the_table_loads_only_for_policies_that_use_the_operator():
    code = (
        "import sys\n"
        "from engine import load_policy_text\n"
        "event = {'Records': [{'eventSource': 'aws:ses', 'eventVersion': '1.0', 'ses': {'mail': {'source': 'a@b.example',"
        " 'commonHeaders': {'from': ['x@paypa1.com']}}, 'receipt': {}}}]}\n"
        "plain = load_policy_text('version: 1\\nrules:\\n  - {name: r, when: {from.domain: {in_domain: paypal.com}},"
        " disposition: STOP_RULE}\\n')\n"
        "plain.evaluate(event)\n"
        "assert 'engine.mail.confusables_table' not in sys.modules, 'loaded without the operator'\n"
        "used = load_policy_text('version: 1\\nrules:\\n  - {name: r, when: {from.domain: {confusable_with: paypal.com}},"
        " disposition: STOP_RULE}\\n')\n"
        "assert 'engine.mail.confusables_table' in sys.modules\n"
        "assert used.evaluate(event).rule == 'r'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
