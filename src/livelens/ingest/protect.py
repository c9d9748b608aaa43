"""Keep originals out of storage for contacts whose policy is RedactedOnly."""

from __future__ import annotations

from typing import Any

from livelens.analysis.types import Turn
from livelens.contacts.analysis_worker import whole_turn_redaction
from livelens.contacts.models import Contact
from livelens.contacts.segments import redaction_to_record
from livelens.contacts.service import ContactCenter


def protect_turn(
    center: ContactCenter, contact: Contact, participant_id: str, role: str, content: str, **timing: Any
) -> dict[str, Any]:
    """The stored fields of a new turn: its text, or under RedactedOnly only its redacted form.

    Redaction then runs on the request path, before anything is written, so
    the original text never reaches the database. If no redactor is available
    the whole turn is masked (fail closed).
    """
    if contact.keeps_original:
        return {"content": content, **timing}
    turn = Turn(
        id="pending",
        contact_id=contact.id,
        channel=contact.channel,  # type: ignore[arg-type]
        participant_id=participant_id,
        participant_role=role,
        content=content,
        language=contact.language,
    )
    try:
        redaction = center.redactor(contact, turn) if center.redactor else whole_turn_redaction(content)
    except Exception:
        redaction = whole_turn_redaction(content)
    return {"redaction": redaction_to_record(redaction), **timing}
