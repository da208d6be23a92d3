"""Reliability and security suite (docs/security.md).

A package, so that its conftest does not take the module name `conftest` from tests/conftest.py,
which other test modules import by that name.
"""
