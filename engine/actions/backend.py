"""What runners need from the world, and the settings they run under.

Runners call a `Backend`, never boto3: the Lambda's action function passes the AWS
one (`engine.aws.backend`), `ses-rules serve` a local one (SMTP relay or maildir,
files, printing), tests a fake. Nothing here imports an AWS SDK.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


DSN_ACTION = {"2": "delivered", "4": "delayed", "5": "failed"}   # RFC 3464 Action by status class


@dataclass(frozen=True)
class BounceRequest:
    """One SES SendBounce call: the recipients bounced, with one RFC 3463 status for all."""
    message_id: str           # the SES message id of the received mail
    sender: str               # BounceSender: a verified identity
    recipients: tuple[str, ...]
    status: str               # X.Y.Z
    explanation: str

    def parameters(self) -> dict[str, Any]:
        """The SendBounce request (what the AWS backend sends, what `serve` prints)."""
        fields = {"Action": DSN_ACTION[self.status[0]], "Status": self.status}
        return {"OriginalMessageId": self.message_id, "BounceSender": self.sender, "Explanation": self.explanation,
                "BouncedRecipientInfoList": [{"Recipient": r, "RecipientDsnFields": fields} for r in self.recipients]}


class Backend(Protocol):
    def send_raw(self, identity: str, destinations: list[str], message: bytes) -> str:
        """Send `message` as-is to `destinations`; returns the sender's message id."""

    def send_bounce(self, request: BounceRequest) -> str:
        """Bounce the received message to its envelope sender; returns the bounce's message id."""

    def put_object(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str],
                   kms_key: str | None) -> None:
        """Store `body` at `bucket/key` (server-side encrypted with `kms_key` when given)."""

    def publish(self, topic: str, message: str) -> None:
        """Publish `message` (JSON text) to the notification topic."""


class MissingSetting(Exception):
    """A setting an action needs is not set; the message names it."""

    def __init__(self, name: str, why: str):
        super().__init__(f"{name} is not set ({why})")
        self.name = name


class ActionFailed(Exception):
    """An action that could not be done; `str()` is the outcome's reason."""


@dataclass(frozen=True)
class Reach:
    """The deployment's bounds on what a policy's actions may name (the `ALLOWED_*` settings).

    None: the setting is unset, nothing is restricted. Set but empty: nothing the policy
    names is allowed (the templates always set the lists, and an empty parameter means
    "none", never "any"). The deployment's own settings (FORWARD_FROM, BOUNCE_SENDER,
    MAIL_BUCKET) are trusted; the lists bound what the policy names beyond them.
    """
    identities: frozenset[str] | None = None      # ALLOWED_FROM: addresses, or domains (domain identities)
    forward_domains: tuple[str, ...] | None = None  # ALLOWED_FORWARD_DOMAINS
    buckets: frozenset[str] | None = None         # ALLOWED_BUCKETS
    kms_keys: frozenset[str] | None = None        # ALLOWED_KMS_KEYS
    topics: frozenset[str] | None = None          # ALLOWED_TOPICS

    SETTINGS = {"identities": "ALLOWED_FROM", "forward_domains": "ALLOWED_FORWARD_DOMAINS",
                "buckets": "ALLOWED_BUCKETS", "kms_keys": "ALLOWED_KMS_KEYS", "topics": "ALLOWED_TOPICS"}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Reach:
        def entries(name: str) -> list[str] | None:
            raw = environ.get(name)
            return None if raw is None else [e.strip() for e in raw.split(",") if e.strip()]
        found = {field_: entries(setting) for field_, setting in cls.SETTINGS.items()}
        domains = found.pop("forward_domains")
        identities = found.pop("identities")
        return cls(identities=None if identities is None else frozenset(i.lower() for i in identities),
                   forward_domains=None if domains is None else tuple(d.lower().strip(".") for d in domains),
                   **{k: None if v is None else frozenset(v) for k, v in found.items()})

    @property
    def configured(self) -> bool:
        return any(getattr(self, name) is not None for name in self.SETTINGS)

    def refusals(self, reaches: list[tuple[str, str]]) -> list[str]:
        """For each (field, value) an action reaches, the setting that does not allow it."""
        refused = []
        for name, value in reaches:
            allowed = getattr(self, name)
            if allowed is None:
                continue
            if name == "forward_domains":
                domain = value.rpartition("@")[2].lower().strip(".")
                ok = any(domain == d or domain.endswith("." + d) for d in allowed)
            elif name == "identities":   # an SES identity is an address or a whole domain
                ok = value.lower() in allowed or value.rpartition("@")[2].lower() in allowed
            else:
                ok = value in allowed
            if not ok:
                refused.append(f"{value} is not in {self.SETTINGS[name]}")
        return refused


@dataclass(frozen=True)
class Setup:
    """The deployment's settings for running actions (docs/deploy.md, "Settings")."""
    forward_from: str = ""
    bounce_sender: str = ""
    mail_bucket: str = ""
    mail_prefix: str = ""
    reach: Reach = field(default_factory=Reach)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Setup:
        return cls(forward_from=environ.get("FORWARD_FROM", "").strip(),
                   bounce_sender=environ.get("BOUNCE_SENDER", "").strip(),
                   mail_bucket=environ.get("MAIL_BUCKET", "").strip(),
                   mail_prefix=environ.get("MAIL_PREFIX", ""),
                   reach=Reach.from_env(environ))

    def need(self, name: str, value: str, why: str) -> str:
        if not value:
            raise MissingSetting(name, why)
        return value


@dataclass
class RunContext:
    """One queued message's actions being run: the backend, settings, and the message's pieces."""
    backend: Backend
    setup: Setup
    load_raw: Callable[[], bytes]          # the stored message (read once, when an action needs it)
    now: Callable[[], datetime]
    mask: Callable[[Any], Any] = lambda value: value   # addresses as LOG_ADDRESSES wants them (notify)
    once: Callable[[int, Callable[[], Any]], Any] = lambda chunk, call: call()   # idempotency per chunk
    _raw: bytes | None = None

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.load_raw()
        return self._raw
