"""The policy in force in one Lambda execution environment, and where it came from.

SSM lets operators change the policy without a deployment, but a read can fail
and a new text can be wrong. So the bundled file covers only a cold start, and
once a policy is in force nothing but a new text that loads replaces it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from engine.lang.diagnostics import PolicyError
from engine.lang.loader import load_policy, load_policy_text

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from engine.aws.settings import Settings
    from engine.policy import Policy

RETRY_AFTER_FAILURE = 60   # seconds: a failed SSM read must not slow every invocation down
SSM_CLIENT = {"connect_timeout": 1, "read_timeout": 2,
              "retries": {"total_max_attempts": 2, "mode": "standard"}}
MAX_LOGGED_DIAGNOSTICS = 20

_clock = time.monotonic    # the refresh schedule's clock; tests replace it


class PolicySource:
    """The policy in force: SSM when configured and loadable, else the bundled file.

    The file is only a cold-start fallback: once any policy is in force, a failed
    read or a text that does not load keeps it.
    """

    def __init__(self, settings: Settings, logger: Logger, metrics: Metrics) -> None:
        self.settings = settings
        self.policy: Policy | None = None
        self.origin = ""
        self._logger = logger
        self._metrics = metrics
        self._ssm_text: str | None = None
        self._next_fetch = 0.0
        self._provider: Any = None
        self._file_tried = False

    def current(self) -> Policy | None:
        if self.settings.ssm_parameter and _clock() >= self._next_fetch:
            self._refresh()
        if self.policy is None and not self._file_tried:
            self._file_tried = True
            self._load(f"file:{self.settings.policy_file}",
                       lambda: load_policy(self.settings.policy_file, environ=self.settings.policy_environ))
        return self.policy

    def describe(self) -> dict[str, Any]:
        assert self.policy is not None
        return {"name": self.policy.name, "revision": self.policy.revision, "source": self.origin}

    def _refresh(self) -> None:
        origin = f"ssm:{self.settings.ssm_parameter}"
        try:
            text = self._fetch()
        except Exception as exc:  # boto, network, IAM, missing parameter: all mean "not now"
            self._next_fetch = _clock() + RETRY_AFTER_FAILURE
            self._failed(origin, "cannot read the SSM parameter", [str(exc)])
            return
        self._next_fetch = _clock() + self.settings.max_age
        if text != self._ssm_text and self._load(origin, lambda: self._load_text(text)):
            self._ssm_text = text

    def _fetch(self) -> str:
        if self._provider is None:
            # Imported here: boto3 and Parameters would cost every cold start 150-250 ms.
            from aws_lambda_powertools.utilities.parameters import SSMProvider
            from botocore.config import Config
            self._provider = SSMProvider(boto_config=Config(**SSM_CLIENT))
        # Our own schedule decides when to fetch: Powertools does not cache failures.
        text = self._provider.get(self.settings.ssm_parameter, max_age=self.settings.max_age,
                                  decrypt=True, force_fetch=True)
        if not isinstance(text, str):
            raise TypeError(f"expected the policy text, got {type(text).__name__}")
        return text

    def _load_text(self, text: str) -> Policy:
        # `{file: ...}` lists in an SSM policy resolve beside the bundled policy file.
        return load_policy_text(text, base_dir=str(self.settings.policy_file.parent),
                                environ=self.settings.policy_environ)

    def _load(self, origin: str, load: Callable[[], Policy]) -> bool:
        try:
            policy = load()
        except PolicyError as exc:
            self._failed(origin, "the policy does not load", [str(d) for d in exc.errors])
            return False
        except Exception as exc:  # unreadable file or an engine bug: the answer must not depend on it
            self._failed(origin, "the policy does not load", [f"{type(exc).__name__}: {exc}"])
            return False
        self.policy, self.origin = policy, origin
        self._logger.info("policy loaded", extra={"policy": self.describe()})
        return True

    def _failed(self, origin: str, reason: str, details: list[str]) -> None:
        kept = self.describe() if self.policy is not None else None
        self._logger.error("policy load failed", extra={
            "source": origin, "reason": reason, "details": details[:MAX_LOGGED_DIAGNOSTICS],
            "kept_policy": kept})
        self._metrics.add_metric(name="PolicyLoadFailures", unit=MetricUnit.Count, value=1)
