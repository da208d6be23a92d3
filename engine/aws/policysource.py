"""The policy in force in one Lambda execution environment, and where it came from.

Policy sources are a table (`SOURCES`): each kind names the setting that configures
it, the Powertools Parameters provider (a `BaseProvider`) that reads its text, and
whether it is re-read on a schedule. A remote source (SSM; AppConfig would be one
more row, over Powertools' `AppConfigProvider`) lets operators change the policy
without a deployment, but a read can fail and a new text can be wrong. So the
bundled file covers only a cold start, and once a policy is in force nothing but
a new text that loads replaces it: the last good policy stays.

The file has a precompiled bundle beside it in the package (`engine.lang.precompiled`,
written by `make package`): loaded in its place when it was built from the same files,
so a cold start needs neither PyYAML nor jsonpath_ng. The log's `source` says which
was used (`precompiled:...` or `file:...`); a bundle that cannot be used is logged with
why, and the YAML is loaded instead. SSM text has no bundle: it is always the YAML loader.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from engine.files import read_regular
from engine.lang.diagnostics import PolicyError
from engine.lang.files import FileProblem, read_text
from engine.lang.loader import load_policy_text
from engine.lang.precompiled import MAX_BUNDLE_BYTES, Unusable, bundle_path, load_precompiled
from engine.lang.yamlsource import MAX_POLICY_BYTES

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from engine.aws.settings import Settings
    from engine.policy import Policy

RETRY_AFTER_FAILURE = 60   # seconds: a failed remote read must not slow every invocation down
SSM_CLIENT = {"connect_timeout": 1, "read_timeout": 2,
              "retries": {"total_max_attempts": 2, "mode": "standard"}}
MAX_LOGGED_DIAGNOSTICS = 20

_clock = time.monotonic    # the refresh schedule's clock; tests replace it


class Provider(Protocol):
    """What the table needs of a source: Powertools' `BaseProvider.get`."""

    def get(self, name: str, max_age: int | None = None, transform: Any = None, force_fetch: bool = False,
            **sdk_options: Any) -> Any: ...


class FileProvider:
    """A policy file read like a Parameters provider: `get(path)` is its text, bounded, as UTF-8.

    Not a `BaseProvider` subclass on purpose: importing Powertools' parameters package
    imports boto3 (about 150 ms), and the file is what every cold start reads.
    """

    def get(self, name: str, max_age: int | None = None, transform: Any = None, force_fetch: bool = False,
            **sdk_options: Any) -> str:
        try:
            return read_text(name, MAX_POLICY_BYTES, "policy")
        except FileProblem as problem:
            raise OSError(problem.message) from None


def _ssm_provider(settings: Settings) -> Provider:
    # Imported here: boto3 and the SSM provider would cost every cold start 150-250 ms.
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.config import Config
    return SSMProvider(boto_config=Config(**SSM_CLIENT))


class SourceKind(NamedTuple):
    """One row of the source table."""
    name: str
    setting: Callable[[Settings], str]                # what to read ("" when not configured)
    provider: Callable[[Settings], Provider]      # made at the first read
    remote: bool           # re-read every max_age; else a fallback read once, while nothing is in force
    what: str              # for the log: "cannot read the {what}"
    options: dict[str, Any]


# Tried in this order; the first configured source whose text loads is in force.
SOURCES: dict[str, SourceKind] = {s.name: s for s in (
    SourceKind("ssm", lambda s: s.ssm_parameter, _ssm_provider, True, "SSM parameter", {"decrypt": True}),
    SourceKind("file", lambda s: str(s.policy_file), lambda s: FileProvider(), False, "policy file", {}),
)}


class PolicySource:
    """The policy in force: the first configured source in `SOURCES` that loads, kept until a
    newer text loads."""

    def __init__(self, settings: Settings, logger: Logger, metrics: Metrics) -> None:
        self.settings = settings
        self.policy: Policy | None = None
        self.origin = ""
        self._logger = logger
        self._metrics = metrics
        self._providers: dict[str, Provider] = {}
        self._texts: dict[str, str] = {}            # the last text read per source, to skip reloading it
        self._next_read: dict[str, float] = {}      # remote sources: when to read again
        self._tried: set[str] = set()               # fallback sources read once

    def current(self) -> Policy | None:
        for kind in SOURCES.values():
            name = kind.setting(self.settings)
            if not name:
                continue
            if kind.remote and _clock() >= self._next_read.get(kind.name, 0.0):
                self._refresh(kind, name)
            elif not kind.remote and self.policy is None and kind.name not in self._tried:
                self._tried.add(kind.name)
                self._refresh(kind, name)
        return self.policy

    def describe(self) -> dict[str, Any]:
        assert self.policy is not None
        return {"name": self.policy.name, "revision": self.policy.revision, "source": self.origin}

    def _refresh(self, kind: SourceKind, name: str) -> None:
        origin = f"{kind.name}:{name}"
        try:
            text = self._read(kind, name)
        except Exception as exc:  # boto, network, IAM, a missing parameter or file: all mean "not now"
            self._next_read[kind.name] = _clock() + RETRY_AFTER_FAILURE
            self._failed(origin, f"cannot read the {kind.what}", [str(exc)])
            return
        self._next_read[kind.name] = _clock() + self.settings.max_age
        if text != self._texts.get(kind.name) and self._load(origin, text, name if not kind.remote else None):
            self._texts[kind.name] = text

    def _read(self, kind: SourceKind, name: str) -> str:
        provider = self._providers.get(kind.name)
        if provider is None:
            provider = self._providers[kind.name] = kind.provider(self.settings)
        # Our own schedule decides when to read: Powertools does not cache failures.
        text = provider.get(name, max_age=self.settings.max_age, force_fetch=True, **kind.options)
        if not isinstance(text, str):
            raise TypeError(f"expected the policy text, got {type(text).__name__}")
        return text

    def _load(self, origin: str, text: str, path: str | None) -> bool:
        """Load a text; a file keeps its name, and `{file: ...}` lists resolve beside the bundled policy file.
        The deployment's PolicyEnvironment is added to the environment the text reads."""
        try:
            policy, origin = self._compile(origin, text, path)
        except PolicyError as exc:
            self._failed(origin, "the policy does not load", [str(d) for d in exc.errors])
            return False
        except Exception as exc:  # an engine bug: the answer must not depend on it
            self._failed(origin, "the policy does not load", [f"{type(exc).__name__}: {exc}"])
            return False
        self.policy, self.origin = policy, origin
        self._logger.info("policy loaded", extra={"policy": self.describe()})
        return True

    def _compile(self, origin: str, text: str, path: str | None) -> tuple[Policy, str]:
        """The policy of a text and where it came from: a file's precompiled bundle when it can stand
        for the file, else the text itself."""
        environ = self.settings.policy_environ
        if path is None:
            return load_policy_text(text, base_dir=str(self.settings.policy_file.parent), environ=environ), origin
        bundle = bundle_path(path)
        policy = self._precompiled(bundle, text, path)
        if policy is not None:
            return policy, f"precompiled:{bundle}"
        return load_policy_text(text, base_dir=Path(path).parent, file=path, name=Path(path).stem,
                                environ=environ), origin

    def _precompiled(self, bundle: Path, text: str, path: str) -> Policy | None:
        """The policy from the file's bundle, or None: no bundle (a checkout, not a package), or one
        that cannot be used here (logged with why; the YAML is loaded instead)."""
        try:
            data = read_regular(bundle, MAX_BUNDLE_BYTES)
            if len(data) > MAX_BUNDLE_BYTES:
                raise Unusable(f"larger than {MAX_BUNDLE_BYTES} bytes")
            return load_precompiled(data, text, path, self.settings.policy_environ)
        except FileNotFoundError:
            return None
        except PolicyError:
            reason = "the policy does not load in this environment (the YAML is loaded to report why)"
        except Exception as exc:  # Unusable, an unreadable file, an engine bug: the YAML decides
            reason = str(exc) if isinstance(exc, Unusable) else f"{type(exc).__name__}: {exc}"
        self._logger.warning("precompiled policy not used, loading the YAML",
                             extra={"bundle": str(bundle), "reason": reason})
        return None

    def _failed(self, origin: str, reason: str, details: list[str]) -> None:
        kept = self.describe() if self.policy is not None else None
        self._logger.error("policy load failed", extra={
            "source": origin, "reason": reason, "details": details[:MAX_LOGGED_DIAGNOSTICS],
            "kept_policy": kept})
        self._metrics.add_metric(name="PolicyLoadFailures", unit=MetricUnit.Count, value=1)
