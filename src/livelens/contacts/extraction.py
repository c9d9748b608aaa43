"""Extraction definitions: connect ``CreateExtractionDefinition`` … ``DeleteExtractionDefinition``.

A definition says what to extract from a conversation (``PromptHint``, e.g.
"the customer's order number") and what to answer when it is not there
(``NotFoundBehavior``: ``USE_DEFAULT_VALUE`` with ``DefaultValue``, or
``OMIT``). Rules run definitions with the ``EXTRACT_INFORMATION`` action
(:mod:`livelens.contacts.extraction_segments` renders the result).

Checks beyond the service model: names are unique per instance
(``ResourceConflictException``), ``DefaultValue`` goes with
``USE_DEFAULT_VALUE`` only (and is required by it), at most
:data:`MAX_DEFINITIONS` per instance (``ServiceQuotaExceededException``), and a
definition a rule still uses cannot be deleted (``InvalidRequestException``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from livelens.contacts.models import now_iso
from livelens.contacts.service import ContactCenter, idempotent
from livelens.contacts.tags import check_tags
from livelens.errors import (
    InvalidRequestException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from livelens.storage.base import Record, Transaction

MAX_DEFINITIONS = 1000
DEFAULT_PAGE = 100
EXTRACT = "EXTRACT_INFORMATION"


def check_configuration(configuration: Mapping[str, Any]) -> None:
    hint = configuration.get("PromptHint")
    if not isinstance(hint, str) or not hint.strip():
        raise InvalidRequestException("ExtractionConfiguration.PromptHint must say what to extract.")
    behavior = configuration.get("NotFoundBehavior")
    if behavior is None:
        return
    kind, default = behavior.get("Behavior"), behavior.get("DefaultValue")
    if kind == "USE_DEFAULT_VALUE" and not default:
        raise InvalidRequestException(
            "ExtractionConfiguration.NotFoundBehavior.DefaultValue is required when Behavior is USE_DEFAULT_VALUE."
        )
    if kind == "OMIT" and default is not None:
        raise InvalidRequestException(
            "ExtractionConfiguration.NotFoundBehavior.DefaultValue applies to Behavior USE_DEFAULT_VALUE only."
        )


def definition_ids(actions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The extraction definitions the EXTRACT_INFORMATION actions of a rule name."""
    ids: list[str] = []
    for action in actions:
        if action.get("ActionType") == EXTRACT:
            for item in (action.get("ExtractInformationAction") or {}).get("RulesExtractionDefinitions") or []:
                ids.append(str(item.get("Identifier")))
    return ids


class ExtractionBook:
    def __init__(self, center: ContactCenter) -> None:
        self.center = center
        self.storage = center.storage

    def _definition(self, tx: Transaction, instance_id: str, definition_id: str) -> Record:
        self.center.get_instance(tx, instance_id)
        record = tx.get_extraction_definition(definition_id)
        if record is None or record.get("InstanceId") != instance_id:
            raise ResourceNotFoundException(f"Extraction definition not found: {definition_id}")
        return record

    @staticmethod
    def _unique(tx: Transaction, instance_id: str, name: str, definition_id: str | None = None) -> None:
        existing = tx.find_extraction_definition_by_name(instance_id, name)
        if existing is not None and existing["ExtractionDefinitionId"] != definition_id:
            raise ResourceConflictException(f"An extraction definition named {name} already exists.")

    def create(self, request: Mapping[str, Any], client_token: str | None, updated_by: str) -> dict[str, Any]:
        check_configuration(request["ExtractionConfiguration"])
        check_tags(request.get("Tags") or {}, "Tags")

        def create() -> dict[str, Any]:
            instance = self.center.get_instance(tx, request["InstanceId"])
            self._unique(tx, instance.id, request["Name"])
            if len(tx.list_extraction_definitions(instance.id, 0, MAX_DEFINITIONS)) >= MAX_DEFINITIONS:
                raise ServiceQuotaExceededException(
                    f"An instance may have at most {MAX_DEFINITIONS} extraction definitions."
                )
            definition_id = str(uuid.uuid4())
            now = now_iso()
            record: dict[str, Any] = {
                "InstanceId": instance.id,
                "Name": request["Name"],
                "ExtractionDefinitionId": definition_id,
                "ExtractionDefinitionArn": f"{instance.arn}/extraction-definition/{definition_id}",
                "ExtractionConfiguration": dict(request["ExtractionConfiguration"]),
                "Display": dict(request.get("Display") or {}),
                "CreatedTime": now,
                "LastUpdatedTime": now,
                "LastUpdatedBy": updated_by,
                "Tags": dict(request.get("Tags") or {}),
            }
            tx.insert_extraction_definition(definition_id, instance.id, record["Name"], record)
            return {
                "ExtractionDefinitionArn": record["ExtractionDefinitionArn"],
                "ExtractionDefinitionId": definition_id,
            }

        with self.storage.write() as tx:
            return idempotent(tx, f"CreateExtractionDefinition:{request['InstanceId']}", client_token, request, create)

    def describe(self, instance_id: str, definition_id: str) -> Record:
        with self.storage.read() as tx:
            return self._definition(tx, instance_id, definition_id)

    def get_many(self, tx: Transaction, instance_id: str, definition_ids: Sequence[str]) -> list[Record]:
        """The definitions a rule names, in order; a missing one is ``ResourceNotFoundException``."""
        return [self._definition(tx, instance_id, d) for d in definition_ids]

    def list(
        self, instance_id: str, max_results: int | None, next_token: str | None
    ) -> tuple[list[Record], str | None]:
        limit = max_results or DEFAULT_PAGE
        scope = f"extraction-definitions|{instance_id}"
        after = self.center.next_tokens.decode(next_token, scope) if next_token else 0
        with self.storage.read() as tx:
            self.center.get_instance(tx, instance_id)
            rows = tx.list_extraction_definitions(instance_id, after, limit + 1)
        page = rows[:limit]
        token = self.center.next_tokens.encode(scope, page[-1][0]) if len(rows) > limit else None
        return [record for _, record in page], token

    def update(self, request: Mapping[str, Any], updated_by: str) -> None:
        check_configuration(request["ExtractionConfiguration"])
        with self.storage.write() as tx:
            record = self._definition(tx, request["InstanceId"], request["ExtractionDefinitionId"])
            self._unique(tx, record["InstanceId"], request["Name"], record["ExtractionDefinitionId"])
            record.update(
                Name=request["Name"],
                ExtractionConfiguration=dict(request["ExtractionConfiguration"]),
                Display=dict(request.get("Display") or {}),
                LastUpdatedTime=now_iso(),
                LastUpdatedBy=updated_by,
            )
            tx.update_extraction_definition(record["ExtractionDefinitionId"], record["Name"], record)

    def delete(self, instance_id: str, definition_id: str) -> None:
        with self.storage.write() as tx:
            self._definition(tx, instance_id, definition_id)
            after = 0
            while rows := tx.list_rules(instance_id, after, 500):
                for _, rule in rows:
                    if definition_id in definition_ids(rule.get("Actions") or []):
                        raise InvalidRequestException(
                            f"Extraction definition {definition_id} is used by rule {rule['Name']} "
                            f"({rule['RuleId']}); remove it from the rule's EXTRACT_INFORMATION action first."
                        )
                after = rows[-1][0]
            tx.delete_extraction_definition(definition_id)
