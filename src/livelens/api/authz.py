"""Authorization like IAM, small: each access key has a policy (a role and the instances it reaches).

Roles grant kinds of action:

* ``admin``: everything (read, ingest, manage);
* ``supervisor``: read only (Describe*, List*, Get*, Search*, the rules dry run);
* ``ingest``: feeding contacts only (StartChatContact, CreateContact,
  CreateParticipant, StopContact, PutUtterances).

Instances a policy reaches: ``own`` (those the key created, plus instances
created before livelens recorded owners), ``*`` (all), or instance ids; a
policy lists any mix. Instances are owned by the key that created them.

Policies are declared in the credentials file (``KEY SECRET role=supervisor
instances=own,ID``) or stored in the database by ``livelens access set``; the
database wins. A key with no policy is ``admin`` over ``own``. A denied call
answers ``AccessDeniedException`` (403) with the message AWS writes. Stored
policies are re-read at most every ``ttl`` seconds, so a change made with the
CLI applies to a running server within a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livelens.errors import AccessDeniedException
from livelens.storage.base import Storage

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "ingest", "manage"}),
    "supervisor": frozenset({"read"}),
    "ingest": frozenset({"ingest"}),
}
INGEST_OPERATIONS = frozenset(
    {"StartChatContact", "CreateContact", "CreateParticipant", "StopContact", "PutUtterances"}
)
READ_OPERATIONS = frozenset({"TestRule"})
READ_VERBS = ("Describe", "List", "Get", "Search")
OWN, ALL = "own", "*"
META_KEY = "access_policies"
OWNER_CACHE_SIZE = 100_000


def action_of(operation: str) -> str:
    """The kind of action an operation is: read, ingest or manage (every other verb)."""
    if operation in INGEST_OPERATIONS:
        return "ingest"
    if operation in READ_OPERATIONS or operation.startswith(READ_VERBS):
        return "read"
    return "manage"


@dataclass(frozen=True)
class Policy:
    role: str = "admin"
    instances: tuple[str, ...] = (OWN,)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not self.instances:
            raise ValueError("instances must name at least one of own, * or an instance id")

    def allows(self, operation: str) -> bool:
        return action_of(operation) in ROLES[self.role]

    def reaches(self, instance_id: str, owner: str | None, access_key: str) -> bool:
        return (ALL in self.instances or instance_id in self.instances
                or (OWN in self.instances and owner in (None, access_key)))

    def to_record(self) -> dict[str, Any]:
        return {"role": self.role, "instances": list(self.instances)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Policy:
        return cls(str(record.get("role", "admin")), tuple(record.get("instances") or (OWN,)))

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> Policy:
        """From ``role=…`` and ``instances=a,b`` options (as in the credentials file)."""
        unknown = set(options) - {"role", "instances"}
        if unknown:
            raise ValueError(f"unknown policy option {sorted(unknown)[0]!r}; use role= and instances=")
        instances = tuple(i.strip() for i in options.get("instances", OWN).split(",") if i.strip())
        return cls(options.get("role", "admin"), instances)


def stored_policies(storage: Storage) -> dict[str, Policy]:
    with storage.read() as tx:
        text = tx.get_meta(META_KEY)
    return {key: Policy.from_record(record) for key, record in json.loads(text or "{}").items()}


def store_policy(storage: Storage, access_key: str, policy: Policy | None) -> None:
    """Set (or with ``None`` remove) the stored policy of ``access_key``."""
    with storage.write() as tx:
        records = json.loads(tx.get_meta(META_KEY) or "{}")
        if policy is None:
            records.pop(access_key, None)
        else:
            records[access_key] = policy.to_record()
        tx.set_meta(META_KEY, json.dumps(records, sort_keys=True))


class Authorizer:
    def __init__(self, storage: Storage, declared: Mapping[str, Policy], *, account_id: str,
                 ttl: float = 1.0) -> None:
        self.storage = storage
        self.declared = dict(declared)
        self.account_id = account_id
        self.ttl = ttl
        self._stored: dict[str, Policy] = {}
        self._loaded_at = -ttl
        self._lock = threading.Lock()
        self._owners: dict[str, str | None] = {}

    def policy(self, access_key: str) -> Policy:
        now = time.monotonic()
        if now - self._loaded_at >= self.ttl:
            with self._lock:
                if now - self._loaded_at >= self.ttl:
                    self._stored = stored_policies(self.storage)
                    self._loaded_at = now
        return self._stored.get(access_key) or self.declared.get(access_key) or Policy()

    def check(self, access_key: str, region: str, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Refuse, as IAM does, an operation or an instance outside the key's policy."""
        policy = self.policy(access_key)
        instance_id = params.get("InstanceId")
        resource = (f"arn:aws:connect:{region}:{self.account_id}:instance/{instance_id}"
                    if isinstance(instance_id, str) else "*")
        if not policy.allows(operation):
            raise self._denied(access_key, service, operation, resource)
        if isinstance(instance_id, str):
            found, owner = self._owner(instance_id)
            # An unknown instance is left to the handler (ResourceNotFoundException).
            if found and not policy.reaches(instance_id, owner, access_key):
                raise self._denied(access_key, service, operation, resource)

    def _owner(self, instance_id: str) -> tuple[bool, str | None]:
        """Whether the instance exists, and its owner; owners never change, so known ones are cached."""
        if instance_id in self._owners:
            return True, self._owners[instance_id]
        with self.storage.read() as tx:
            record = tx.get_instance(instance_id)
        if record is None:
            return False, None
        if len(self._owners) >= OWNER_CACHE_SIZE:
            self._owners.clear()
        self._owners[instance_id] = record.get("owner")
        return True, record.get("owner")

    def visible(self, access_key: str) -> Callable[[str, str | None], bool]:
        """Which instances ListInstances shows ``access_key``: ``(instance id, owner) -> bool``."""
        policy = self.policy(access_key)
        return lambda instance_id, owner: policy.reaches(instance_id, owner, access_key)

    def _denied(self, access_key: str, service: str, operation: str, resource: str) -> AccessDeniedException:
        prefix = "connect" if service == "livelens" else service
        return AccessDeniedException(
            f"User: arn:aws:iam::{self.account_id}:user/{access_key} is not authorized to perform: "
            f"{prefix}:{operation} on resource: {resource}"
        )
