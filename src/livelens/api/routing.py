"""Operations and the routes that reach them.

An :class:`Operation` pairs a handler with the botocore operation model that
defines its HTTP method, path, input and output (native livelens operations
have no model and declare their own path). Routes are compiled from the
model's ``requestUri`` and matched against the raw, still percent-encoded
path, most literal characters first, so ``/rules/{InstanceId}/{RuleId}`` and
``/rules/{InstanceId}`` never shadow each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel
from botocore.session import Session

Auth = Literal["sigv4", "bearer", "presigned"]
Handler = Callable[..., Any]

SERVICES = ("connect", "connect-contact-lens", "connectparticipant")
_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    method: str
    uri: str
    handler: Handler
    auth: Auth
    model: OperationModel | None = None
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)
    literal_length: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        path = self.uri.split("?", 1)[0]
        regex, position = "", 0
        for label in _LABEL.finditer(path):
            regex += re.escape(path[position : label.start()])
            greedy = label.group(2) == "+"
            regex += f"(?P<{label.group(1)}>{'.+' if greedy else '[^/]+'})"
            position = label.end()
        regex += re.escape(path[position:])
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))
        object.__setattr__(self, "literal_length", len(_LABEL.sub("", path)))


NATIVE_SERVICE = "livelens"


def native_service_model() -> ServiceModel:
    """livelens' own operations, declared as a botocore service model (``api/models/livelens.json``).

    Routing, input parsing, validation and errors then take the same code path
    as the three AWS services.
    """
    text = resources.files("livelens.api").joinpath("models/livelens.json").read_text()
    return ServiceModel(json.loads(text), service_name=NATIVE_SERVICE)


def load_service_models(session: Session | None = None) -> dict[str, ServiceModel]:
    session = session or Session()
    models = {name: session.get_service_model(name) for name in SERVICES}
    models[NATIVE_SERVICE] = native_service_model()
    return models


@dataclass(frozen=True)
class Match:
    operation: Operation
    path_params: dict[str, str]


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = sorted(operations, key=lambda op: -op.literal_length)

    def match(self, method: str, raw_path: str) -> Match | None:
        for operation in self.operations:
            if operation.method != method:
                continue
            found = operation.pattern.match(raw_path)
            if found:
                return Match(operation, {k: unquote(v) for k, v in found.groupdict().items()})
        return None

    def allows(self, raw_path: str) -> list[str]:
        """The methods some operation accepts at ``raw_path`` (for a 405)."""
        return sorted({op.method for op in self.operations if op.pattern.match(raw_path)})


class OperationRegistry:
    """Collects handlers declared with :meth:`operation` in the ``api.ops`` modules."""

    def __init__(self) -> None:
        self._declared: list[tuple[str, str, Handler, Auth, str | None, str | None]] = []

    def operation(
        self, service: str, name: str, *, auth: Auth = "sigv4", method: str | None = None, uri: str | None = None
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._declared.append((service, name, handler, auth, method, uri))
            return handler

        return register

    def build(self, models: Mapping[str, ServiceModel]) -> list[Operation]:
        operations = []
        for service, name, handler, auth, method, uri in self._declared:
            declared = service in models and name in models[service].operation_names
            if method and uri and not declared:
                operations.append(Operation(service, name, method, uri, handler, auth))
                continue
            model = models[service].operation_model(name)
            operations.append(
                Operation(service, name, model.http["method"], model.http["requestUri"], handler, auth, model)
            )
        return operations


registry = OperationRegistry()
operation = registry.operation
