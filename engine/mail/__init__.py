"""The mail model: named fields, address parsing, JSONPath, operators, regexes and the per-record context."""
