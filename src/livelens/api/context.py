"""What a handler receives besides its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from livelens.api.auth import Caller
from livelens.contacts.extraction import ExtractionBook
from livelens.contacts.rule_book import RuleBook
from livelens.contacts.search import ContactSearch
from livelens.contacts.segment_log import SegmentLog
from livelens.contacts.service import ContactCenter
from livelens.contacts.tags import TagBook
from livelens.ingest.chat import ChatIngest
from livelens.ingest.voice import VoiceIngest


@dataclass(frozen=True)
class Services:
    center: ContactCenter
    segments: SegmentLog
    chat: ChatIngest
    voice: VoiceIngest
    rules: RuleBook | None = None
    tags: TagBook | None = None
    extraction: ExtractionBook | None = None
    search: ContactSearch | None = None


@dataclass(frozen=True)
class RequestContext:
    services: Services
    caller: Caller | None
    base_url: str
    body: bytes = b""
    #: Which instances the caller may see, ``(instance id, owner) -> bool`` (livelens.api.authz).
    instance_visible: Callable[[str, str | None], bool] = lambda instance_id, owner: True

    @property
    def region(self) -> str:
        return self.caller.region if self.caller else "us-east-1"

    @property
    def caller_arn(self) -> str:
        """The IAM user ARN a write is recorded as (``LastUpdatedBy``)."""
        key = self.caller.access_key if self.caller else "anonymous"
        return f"arn:aws:iam::{self.services.center.account_id}:user/{key}"
