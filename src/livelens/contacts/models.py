"""The domain's entities: instances, contacts and participants.

Each is a dataclass stored as a JSON record (``to_record`` / ``from_record``);
timestamps are ISO 8601 strings in UTC with milliseconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

PARTICIPANT_ROLES = ("AGENT", "CUSTOMER", "SYSTEM", "CUSTOM_BOT", "SUPERVISOR")
ANALYSED_CHANNELS = ("VOICE", "CHAT")
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_millis(text: str) -> str:
    """An ISO 8601 time in the form AWS writes ``iso8601`` timestamps: UTC, milliseconds, ``Z``."""
    return iso(parse_iso(text))


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _from_record(cls: type[T], record: dict[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in record.items() if k in names})


@dataclass
class Instance:
    id: str
    arn: str
    identity_management_type: str
    inbound_calls_enabled: bool
    outbound_calls_enabled: bool
    created_time: str
    service_role: str
    alias: str | None = None
    directory_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Analysis defaults for the instance's contacts (see README, "Instance settings").
    redaction_policy: str = "RedactedAndOriginal"
    language: str = "en-US"
    analysis: list[str] = field(default_factory=list)
    redaction_mask: str = "PII"
    #: Participant roles whose call audio is recorded (tag ``livelens:recording``; voice/recording.py).
    recording: list[str] = field(default_factory=list)
    #: The access key that created the instance (livelens.api.authz); None for instances made before owners.
    owner: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Instance:
        return _from_record(cls, record)

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Contact:
    id: str
    arn: str
    instance_id: str
    channel: str
    initiation_method: str
    initiation_timestamp: str
    redaction_policy: str
    language: str
    analysis: list[str]
    redaction_mask: str
    attributes: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    description: str | None = None
    related_contact_id: str | None = None
    previous_contact_id: str | None = None
    disconnect_timestamp: str | None = None
    disconnect_reason: str | None = None
    last_update_timestamp: str | None = None
    expires_at: str | None = None
    #: Participant roles whose audio is recorded (attribute ``livelens:recording``; voice/recording.py).
    recording: list[str] = field(default_factory=list)
    #: Why the analysis is FAILED (see contacts/lifecycle.py); None otherwise.
    analysis_failure: str | None = None
    # Columns kept by storage beside the record.
    analysis_status: str = IN_PROGRESS
    ended: bool = False
    last_item_seq: int = 0
    analysed_seq: int = 0

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Contact:
        return _from_record(cls, record)

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def redacts(self) -> bool:
        return self.redaction_policy != "None"

    @property
    def keeps_original(self) -> bool:
        return self.redaction_policy != "RedactedOnly"


@dataclass
class Participant:
    id: str
    contact_id: str
    instance_id: str
    role: str
    display_name: str
    created_at: str
    token_expiry: str
    connection_expiry: str | None = None
    connected_at: str | None = None
    disconnected_at: str | None = None
    #: Under RedactedAndOriginal, the display name as the Redacted output shows it.
    redacted_display_name: str | None = None
    #: Connection ids of the connection tokens still valid (livelens.contacts.tokens), oldest first.
    connections: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Participant:
        return _from_record(cls, record)

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
