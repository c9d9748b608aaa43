"""connect SearchContacts (see :mod:`livelens.contacts.search`)."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.contacts.models import Contact


def contact_summary(contact: Contact) -> dict[str, Any]:
    return {
        "Arn": contact.arn,
        "Id": contact.id,
        "InitialContactId": contact.id,
        "PreviousContactId": contact.previous_contact_id,
        "InitiationMethod": contact.initiation_method,
        "Channel": contact.channel,
        "InitiationTimestamp": contact.initiation_timestamp,
        "DisconnectTimestamp": contact.disconnect_timestamp,
        "Name": contact.name,
    }


@operation("connect", "SearchContacts")
def search_contacts(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    assert ctx.services.search is not None
    contacts, token, total = ctx.services.search.search(params)
    return {"Contacts": [contact_summary(c) for c in contacts], "NextToken": token, "TotalCount": total}
