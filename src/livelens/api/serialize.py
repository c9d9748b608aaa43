"""rest-json on the wire: reading an operation's input, writing its output and errors.

Input members come from where the operation model puts them (URI labels,
query string, headers, JSON body); output is walked along the output shape so
timestamps leave in the model's format and unset members are simply absent.
Errors follow the rest-json convention botocore reads: the status code the
error shape declares, the code in ``x-amzn-ErrorType``, a JSON body with
``Message``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from botocore.model import OperationModel, ServiceModel, Shape

from livelens.api.limits import LimitExceeded, check_json_depth
from livelens.errors import InvalidRequestException

#: Status codes of errors a service model may not declare for every operation.
DEFAULT_STATUS = {
    "InvalidRequestException": 400,
    "ValidationException": 400,
    "InvalidParameterException": 400,
    "ResourceNotFoundException": 404,
    "OutputTypeNotFoundException": 404,
    "AccessDeniedException": 403,
    "ContactNotFoundException": 410,
    "ConflictException": 409,
    "DuplicateResourceException": 409,
    "ResourceConflictException": 409,
    "IdempotencyException": 409,
    "ThrottlingException": 429,
    "InternalServiceException": 500,
    "InternalServerException": 500,
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "IncompleteSignatureException": 403,
    "UnknownOperationException": 404,
    "SerializationException": 400,
}

#: connectparticipant names two common errors differently from connect.
PARTICIPANT_CODES = {
    "InvalidRequestException": "ValidationException",
    "InternalServiceException": "InternalServerException",
}


def error_code_for(service: str, code: str) -> str:
    if service == "connectparticipant":
        return PARTICIPANT_CODES.get(code, code)
    return code


def error_status(service_model: ServiceModel | None, code: str) -> int:
    if service_model is not None and code in service_model.shape_names:
        status = service_model.shape_for(code).metadata.get("error", {}).get("httpStatusCode")
        if status:
            return int(status)
    return DEFAULT_STATUS.get(code, 400)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "Message": message}).encode()


# input ------------------------------------------------------------------


def parse_json_body(body: bytes) -> dict[str, Any]:
    """A JSON object body, refused (naming the field) if it nests too deep or holds an unstorable string."""
    if not body.strip():
        return {}
    try:
        check_json_depth(body)
    except LimitExceeded as exc:
        raise InvalidRequestException(exc.message) from None
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestException(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequestException("The request body nests JSON too deeply.") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestException("The request body must be a JSON object.")
    check_storable(parsed)
    return parsed


#: Characters no string may carry: a lone surrogate cannot be encoded as UTF-8, PostgreSQL refuses NUL.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_storable(value: Any, path: str = "") -> None:
    """Refuse, naming the field, any string (or map key) holding a lone surrogate or a NUL character."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            where = path or "body"
            raise InvalidRequestException(
                f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
                "Member must not contain NUL characters or unpaired UTF-16 surrogates"
            )
    elif isinstance(value, dict):
        for key, member in value.items():
            name = f"{path}.{key}" if path else str(key)
            check_storable(key, name if not _UNSTORABLE.search(key) else (path or "body"))
            check_storable(member, name)
    elif isinstance(value, list):
        for index, member in enumerate(value, 1):
            check_storable(member, f"{path}.{index}")


def _from_text(shape: Shape, text: str, name: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise InvalidRequestException(f"{name} must be an integer, got {text[:32]!r}.") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidRequestException(f"{name} must be true or false, got {text[:32]!r}.")
        return text.lower() == "true"
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise InvalidRequestException(f"{name} must be a number, got {text[:32]!r}.") from None
    return text


def _decode_blobs(shape: Shape, value: Any, name: str) -> Any:
    """Base64-decode blob members of a JSON body (rest-json sends blobs as base64 text)."""
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestException(f"{name} must be base64-encoded.") from None
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _decode_blobs(members[k], v, f"{name}.{k}") if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_decode_blobs(shape.member, v, name) for v in value]
    return value


def parse_input(
    model: OperationModel,
    path_params: Mapping[str, str],
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input as botocore's caller wrote it, before validation."""
    shape = model.input_shape
    if shape is None:
        return {}
    members = shape.members
    located = {n for n, m in members.items() if m.serialization.get("location")}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    if payload and members[payload].type_name == "blob":
        params[payload] = body  # the body is the member itself, not JSON
        located.add(payload)
    elif len(located) < len(members) or body.strip():
        parsed = parse_json_body(body)
        for name, value in parsed.items():
            if name in members and name not in located:
                params[name] = _decode_blobs(members[name], value, name)
    query = parse_qs(query_string, keep_blank_values=True)
    for name, member in members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in path_params:
            params[name] = path_params[wire_name]
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            if member.type_name == "list":
                params[name] = [_from_text(member.member, v, name) for v in values]
            else:
                params[name] = _from_text(member, values[-1], name)
        elif location == "header" and wire_name.lower() in headers:
            params[name] = _from_text(member, headers[wire_name.lower()], name)
    return params


# output -----------------------------------------------------------------


#: ``iso8601`` timestamps livelens stores (``contacts.models.iso``) are already in the form the wire
#: wants; parsing and re-formatting one gives back the same string, so it is passed through as is.
_CANONICAL_ISO = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
)


def _timestamp_format(shape: Shape) -> Any:
    return shape.serialization.get("timestampFormat", shape.metadata.get("timestampFormat"))


def _timestamp(value: Any, shape: Shape, timestamp_format: Any = None) -> Any:
    if timestamp_format is None:
        timestamp_format = _timestamp_format(shape)
    if isinstance(value, str):
        if timestamp_format == "iso8601" and _CANONICAL_ISO.fullmatch(value):
            return value
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if timestamp_format == "iso8601":
            return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return round(value.timestamp(), 3)
    return value


Wire = Callable[[Any], Any]
#: One compiled writer per output shape (keyed by identity; the shape is kept so the id stays its own).
#: ``None`` as a writer means "the value goes out unchanged" (strings, numbers, booleans).
_WRITERS: dict[int, tuple[Shape, Wire | None]] = {}
_WRITERS_LOCK = threading.Lock()


def _writer(shape: Shape) -> Wire | None:
    found = _WRITERS.get(id(shape))
    if found is not None and found[0] is shape:
        return found[1]
    with _WRITERS_LOCK:
        return _compile(shape)


#: Writers by what a shape *is*: botocore makes a new Shape object for every reference to a shape,
#: so a recursive shape is only recognised as itself by its service, name and serialization.
_BY_NAME: dict[tuple[int, str, str], tuple[Shape, Wire | None]] = {}


def _compile(shape: Shape) -> Wire | None:
    found = _WRITERS.get(id(shape))
    if found is not None and found[0] is shape:
        return found[1]
    key = (id(getattr(shape, "_shape_resolver", None)), shape.name, repr(sorted(shape.serialization.items())))
    named = _BY_NAME.get(key)
    if named is not None:
        _WRITERS[id(shape)] = (shape, named[1])
        return named[1]
    writer = _build(shape, key)
    return writer


def _remember(shape: Shape, key: tuple[int, str, str], writer: Wire | None) -> None:
    _WRITERS[id(shape)] = (shape, writer)
    _BY_NAME[key] = (shape, writer)


def _build(shape: Shape, key: tuple[int, str, str]) -> Wire | None:
    kind = shape.type_name
    if kind == "structure":
        table: dict[str, Wire | None] = {}

        def structure(value: Any) -> Any:
            return {
                name: member if write is None else (None if member is None else write(member))
                for name, member in value.items()
                if member is not None and name in table
                for write in (table[name],)
            }

        _remember(shape, key, structure)  # before the members: shapes may be recursive
        for name, member_shape in shape.members.items():
            if member_shape.serialization.get("location") is None:
                table[name] = _compile(member_shape)
        return structure
    if kind == "list":
        item = shape.member
        holder: list[Wire | None] = []

        def listing(value: Any) -> Any:
            write = holder[0]
            if isinstance(value, JsonFragments):
                return value
            if write is None:
                return list(value)
            return [None if v is None else write(v) for v in value]

        _remember(shape, key, listing)
        holder.append(_compile(item))
        return listing
    if kind == "map":
        values: list[Wire | None] = []

        def mapping(value: Any) -> Any:
            write = values[0]
            if write is None:
                return dict(value.items())
            return {k: None if v is None else write(v) for k, v in value.items()}

        _remember(shape, key, mapping)
        values.append(_compile(shape.value))
        return mapping
    writer: Wire | None = None
    if kind == "timestamp":
        timestamp_format = _timestamp_format(shape)

        def writer(value: Any) -> Any:
            return _timestamp(value, shape, timestamp_format)
    elif kind == "blob":

        def writer(value: Any) -> Any:
            return base64.b64encode(value).decode("ascii") if isinstance(value, (bytes, bytearray)) else value
    _remember(shape, key, writer)
    return writer


def to_wire(shape: Shape | None, value: Any) -> Any:
    """``value`` shaped for the JSON body: unset members dropped, timestamps and blobs encoded.

    Walks ``value`` along ``shape`` with writers compiled once per shape (see :func:`to_wire_reference`
    for the plain walk they must agree with).
    """
    if shape is None or value is None:
        return value
    write = _writer(shape)
    return value if write is None else write(value)


def to_wire_reference(shape: Shape | None, value: Any) -> Any:
    """The plain recursive walk :func:`to_wire` compiles (kept as the specification, and for tests)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return {
            name: to_wire_reference(members[name], member)
            for name, member in value.items()
            if name in members and member is not None
            and members[name].serialization.get("location") is None
        }
    if kind == "list":
        if isinstance(value, JsonFragments):
            return value
        return [to_wire_reference(shape.member, v) for v in value]
    if kind == "map":
        return {k: to_wire_reference(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return _timestamp(value, shape)
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


class JsonFragments(list[str]):
    """A list member whose items are already wire-ready JSON texts.

    The segment log stores segments in wire form; a page of them is spliced
    into the response body as stored, never decoded and re-encoded.
    """


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """The JSON body; top-level :class:`JsonFragments` members are spliced in as they are."""
    if isinstance(value, dict) and any(isinstance(v, JsonFragments) for v in value.values()):
        parts = [
            f"{_encode(k)}:[{','.join(v)}]" if isinstance(v, JsonFragments) else f"{_encode(k)}:{_encode(v)}"
            for k, v in value.items()
        ]
        return ("{" + ",".join(parts) + "}").encode()
    return _encode(value).encode()
