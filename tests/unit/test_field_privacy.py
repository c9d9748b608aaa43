"""PII outside message text: voice participant labels and idempotency fingerprints under a redacting policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from livelens.analysis.types import Redaction, Turn
from livelens.contacts.models import Contact
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.segments import whole_turn_redaction
from livelens.contacts.service import ContactCenter, InstanceDefaults, request_fingerprint
from livelens.contacts.tokens import TokenIssuer
from livelens.errors import IdempotencyException
from livelens.storage.sqlite import SqliteStorage

KEY = b"k" * 32
NAME = "Margaret Ellingsworth"


def _redactor(contact: Contact, turn: Turn) -> Redaction:
    """Finds a name or a run of digits (enough to tell a PII label from a plain one)."""
    if "Margaret" in turn.content or any(part.isdigit() and len(part) >= 4 for part in turn.content.split("-")):
        return whole_turn_redaction(turn.content)
    return Redaction(content=turn.content, entities=(), original_spans=(), redacted_spans=())


@pytest.fixture()
def center(tmp_path: Path) -> Iterator[ContactCenter]:
    storage = SqliteStorage(tmp_path / "db.sqlite")
    yield ContactCenter(storage, account_id="123456789012", defaults=InstanceDefaults(analysis=("sentiment",)),
                        tokens=TokenIssuer(KEY), next_tokens=NextTokenCodec(KEY), redactor=_redactor)
    storage.close()


def _voice(center: ContactCenter, policy: str) -> Contact:
    instance = center.create_instance("us-east-1", {"IdentityManagementType": "CONNECT_MANAGED",
                                                    "InboundCallsEnabled": True, "OutboundCallsEnabled": True},
                                      None)["Id"]
    contact = center.create_contact({"InstanceId": instance, "Channel": "VOICE", "InitiationMethod": "INBOUND",
                                     "Attributes": {"livelens:redaction": policy}}, None)["ContactId"]
    return center.describe_contact(instance, contact)


def test_a_label_with_pii_becomes_a_stable_opaque_pseudonym(center: ContactCenter) -> None:
    contact, other = _voice(center, "RedactedOnly"), _voice(center, "RedactedAndOriginal")
    label = center.participant_label(contact, NAME, "CUSTOMER")
    assert label.startswith("P-") and "Margaret" not in label
    assert center.participant_label(contact, NAME, "CUSTOMER") == label  # retries and later batches match
    assert center.participant_label(contact, "555-0142", "CUSTOMER") not in (label, "555-0142")
    assert center.participant_label(other, NAME, "CUSTOMER") != label  # not linkable across contacts
    assert center.participant_label(contact, "agent-7", "AGENT") == "agent-7"  # no PII: kept
    assert center.participant_label(_voice(center, "None"), NAME, "CUSTOMER") == NAME


def test_the_idempotency_fingerprint_of_a_contact_is_keyed(center: ContactCenter) -> None:
    instance = _voice(center, "RedactedOnly").instance_id
    request = {"InstanceId": instance, "Channel": "VOICE", "InitiationMethod": "INBOUND",
               "Attributes": {"phone": "415-555-0142"}}
    first = center.create_contact(request, "token-1")
    assert center.create_contact(request, "token-1") == first
    with center.storage.read() as tx:
        found = tx.get_idempotent(f"CreateContact:{instance}", "token-1")
    assert found is not None and found[0] == center.keyed_fingerprint(request)
    assert found[0] != request_fingerprint(request)  # a bare hash could be matched against guessed numbers
    with pytest.raises(IdempotencyException):
        center.create_contact({**request, "Attributes": {"phone": "415-555-0143"}}, "token-1")
