"""connect ``TagResource``, ``UntagResource`` and ``ListTagsForResource`` for instances, rules, extraction definitions.

A resource is named by its ARN, as livelens issues them::

    arn:aws:connect:<region>:<account>:instance/<instance id>
    arn:aws:connect:<region>:<account>:instance/<instance id>/rule/<rule id>
    arn:aws:connect:<region>:<account>:instance/<instance id>/extraction-definition/<definition id>

A string that is not such an ARN is ``InvalidParameterException``; a
well-formed ARN of another resource type (queue, contact flow, ...) is
``InvalidParameterException`` too, naming the types livelens tags; an ARN
whose instance or rule does not exist (or whose region/account differ from
the instance's) is ``ResourceNotFoundException``.

Limits are AWS's: at most 50 tags per resource, keys of 1–128 characters
(letters, digits, spaces and ``_.:/=+-@``; never starting with ``aws:``),
values of at most 256 characters. Tags on an instance keep driving its
livelens settings (``livelens:redaction`` …): tagging re-validates them and
applies the new values to contacts started afterwards.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from livelens.contacts.models import Instance
from livelens.contacts.service import ContactCenter
from livelens.errors import InvalidParameterException, InvalidRequestException, ResourceNotFoundException
from livelens.storage.base import Record, Transaction

MAX_TAGS_PER_RESOURCE = 50
_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<path>.+)$")
_INSTANCE = re.compile(r"^instance/(?P<instance>[^/]+)(?:/(?P<kind>[a-z-]+)/(?P<id>[^/]+))?$")
TAGGABLE = ("instance", "rule", "extraction-definition")


@dataclass(frozen=True)
class ResourceName:
    """A parsed ARN: the instance it belongs to, and the sub-resource (``None`` for the instance itself)."""

    arn: str
    instance_arn: str
    instance_id: str
    kind: str
    resource_id: str | None


def parse_arn(arn: str) -> ResourceName:
    found = _ARN.match(arn)
    if found is None:
        raise InvalidParameterException(f"resourceArn {arn!r} is not an Amazon Connect ARN.")
    path = _INSTANCE.match(found.group("path"))
    kind = path.group("kind") if path else None
    if path is None or (kind is not None and kind not in TAGGABLE):
        raise InvalidParameterException(
            f"resourceArn {arn!r}: livelens tags {', '.join(TAGGABLE)} resources "
            "(arn:aws:connect:REGION:ACCOUNT:instance/ID[/rule/ID | /extraction-definition/ID])."
        )
    instance_arn = arn[: len(arn) - len(found.group("path"))] + f"instance/{path.group('instance')}"
    return ResourceName(arn, instance_arn, path.group("instance"), kind or "instance", path.group("id"))


def _key_ok(key: str) -> bool:
    allowed = "_.:/=+-@"
    return all(c in allowed or unicodedata.category(c)[0] in "LZN" for c in key)


def check_tags(tags: Mapping[str, str], where: str = "tags") -> None:
    """AWS's tag constraints (the model's pattern uses ``\\p{..}`` classes Python's ``re`` lacks)."""
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or not _key_ok(key):
            raise InvalidRequestException(
                f"{where}: key {key!r} must be 1 to 128 letters, digits, spaces or _.:/=+-@ characters."
            )
        if key.lower().startswith("aws:"):
            raise InvalidRequestException(f"{where}: key {key!r} uses the reserved prefix aws:.")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidRequestException(f"{where}: the value of {key!r} must be a string of at most 256 characters.")
    if len(tags) > MAX_TAGS_PER_RESOURCE:
        raise InvalidRequestException(f"{where}: a resource may have at most {MAX_TAGS_PER_RESOURCE} tags.")


class TagBook:
    """Tags of instances and rules, kept inside each resource's own record."""

    def __init__(self, center: ContactCenter, instance_settings: Callable[[Mapping[str, str]], dict[str, object]]):
        self.center = center
        self.instance_settings = instance_settings

    def _load(self, tx: Transaction, name: ResourceName) -> tuple[Instance, Record | None]:
        record = tx.get_instance(name.instance_id)
        if record is None:
            raise ResourceNotFoundException(f"Resource not found: {name.arn}")
        instance = Instance.from_record(record)
        if instance.arn != name.instance_arn:
            raise ResourceNotFoundException(f"Resource not found: {name.arn}")
        if name.kind == "instance":
            return instance, None
        if name.kind == "rule":
            found = tx.get_rule(str(name.resource_id))
        else:
            found = tx.get_extraction_definition(str(name.resource_id))
        if found is None or found.get("InstanceId") != instance.id:
            raise ResourceNotFoundException(f"Resource not found: {name.arn}")
        return instance, found

    def list_tags(self, arn: str) -> dict[str, str]:
        name = parse_arn(arn)
        with self.center.storage.read() as tx:
            instance, rule = self._load(tx, name)
        return dict(instance.tags if rule is None else rule.get("Tags") or {})

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        check_tags(tags)
        self._change(arn, lambda current: {**current, **tags})

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        self._change(arn, lambda current: {k: v for k, v in current.items() if k not in set(keys)})

    def _change(self, arn: str, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        name = parse_arn(arn)
        with self.center.storage.write() as tx:
            instance, rule = self._load(tx, name)
            if rule is None:
                tags = change(dict(instance.tags))
                check_tags(tags)
                record = {**instance.to_record(), "tags": tags, **self.instance_settings(tags)}
                tx.update_instance(instance.id, record)
            else:
                tags = change(dict(rule.get("Tags") or {}))
                check_tags(tags)
                rule["Tags"] = tags
                if name.kind == "rule":
                    tx.update_rule(rule["RuleId"], rule["Name"], rule)
                else:
                    tx.update_extraction_definition(rule["ExtractionDefinitionId"], rule["Name"], rule)
