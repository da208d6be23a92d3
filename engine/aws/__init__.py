"""The Lambda runtime: settings, where the policy comes from, logs and metrics."""
