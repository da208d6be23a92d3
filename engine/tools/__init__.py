"""The tools over the public API: the CLI, lint, schema, policy tests, dry-run inputs, SES event building."""
