"""Checking values against botocore shapes: required members, types, lengths, ranges, enums, patterns.

:class:`ShapeValidator` checks requests (every problem becomes part of one
``InvalidRequestException`` naming the fields, in the message format AWS
uses); :class:`WireValidator`, a strict reading of the model, checks the
server's own serialized responses when ``validate_responses`` is on and in
the unit tests that walk every output shape.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botocore.model import Shape

_MAX_ERRORS = 10


@functools.lru_cache(maxsize=512)
def _pattern(expression: str, dotall: bool) -> re.Pattern[str] | None:
    if "\\\\" in expression:  # double-escaped in the model: not the pattern AWS means
        return None
    try:
        return re.compile(expression, re.DOTALL if dotall else 0)
    except re.error:  # a Java-only construct: AWS's own check stands, ours is skipped
        return None


def _describe(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"'{value}' "
    if isinstance(value, str) and len(value) <= 64:
        return f"'{value}' "
    return ""


class ShapeValidator:
    def __init__(self, *, dotall: bool = False) -> None:
        self.dotall = dotall

    def errors(self, shape: Shape, value: Any, path: str = "") -> list[str]:
        found: list[str] = []
        self._check(shape, value, path, found)
        return found

    def _fail(self, found: list[str], value: Any, path: str, constraint: str) -> None:
        if len(found) < _MAX_ERRORS:
            found.append(f"Value {_describe(value)}at '{path}' failed to satisfy constraint: {constraint}")

    def _check(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        kind = shape.type_name
        checker = getattr(self, f"_check_{kind}", None)
        if checker is not None:
            checker(shape, value, path, found)

    def _check_structure(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, dict):
            self._fail(found, value, path or "body", "Member must be an object")
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self._fail(found, None, _join(path, name), "Member must not be null")
        for name, member in value.items():
            if name in members and member is not None:
                self._check(members[name], member, _join(path, name), found)

    def _check_list(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, list):
            self._fail(found, value, path, "Member must be a list")
            return
        self._length(shape, value, path, found, "length")
        for index, member in enumerate(value):
            self._check(shape.member, member, f"{path}.{index + 1}", found)

    def _check_map(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, dict):
            self._fail(found, value, path, "Member must be a map")
            return
        self._length(shape, value, path, found, "length")
        for key, member in value.items():
            self._check(shape.key, key, f"{path}.{key}", found)
            self._check(shape.value, member, f"{path}.{key}", found)

    def _check_string(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, str):
            self._fail(found, value, path, "Member must be a string")
            return
        self._length(shape, value, path, found, "length")
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            self._fail(found, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        expression = shape.metadata.get("pattern")
        if expression:
            compiled = _pattern(expression, self.dotall)
            if compiled is not None and not compiled.match(value):
                self._fail(found, value, path, f"Member must satisfy regular expression pattern: {expression}")

    def _check_integer(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            self._fail(found, value, path, "Member must be an integer")
            return
        self._range(shape, value, path, found)

    _check_long = _check_integer

    def _check_float(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self._fail(found, value, path, "Member must be a number")
            return
        self._range(shape, value, path, found)

    _check_double = _check_float

    def _check_boolean(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, bool):
            self._fail(found, value, path, "Member must be a boolean")

    def _check_timestamp(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, (datetime, int, float, str)) or isinstance(value, bool):
            self._fail(found, value, path, "Member must be a timestamp")

    def _length(self, shape: Shape, value: Any, path: str, found: list[str], what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            self._fail(found, value, path, f"Member must have {what} greater than or equal to {low}")
        if high is not None and len(value) > high:
            self._fail(found, value, path, f"Member must have {what} less than or equal to {high}")

    def _range(self, shape: Shape, value: float, path: str, found: list[str]) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self._fail(found, value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self._fail(found, value, path, f"Member must have value less than or equal to {high}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def summarize(errors: list[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)


#: How AWS writes an ``iso8601`` timestamp: UTC with milliseconds and ``Z`` (e.g. ``2024-05-01T09:30:00.123Z``).
ISO8601_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def timestamp_format(shape: Shape) -> str:
    """The wire format of a timestamp shape: its own ``timestampFormat`` or rest-json's default."""
    declared = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat")
    return str(declared or "unixTimestamp")


class WireValidator(ShapeValidator):
    """A strict reading of the model for *serialized* output (decoded JSON), as the strictest SDKs read it.

    On top of :class:`ShapeValidator`'s checks: every timestamp is in the format its shape declares
    (``iso8601`` strings with milliseconds, ``unixTimestamp`` numbers, ``rfc822`` HTTP dates), blobs are
    base64 text, lists hold no nulls, a structure carries no member the model does not declare (nor one
    the model puts in a header or the URI), and a union carries exactly one member.
    """

    def _check_structure(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        super()._check_structure(shape, value, path, found)
        if not isinstance(value, dict):
            return
        members = shape.members
        for name, member in value.items():
            if name not in members:
                self._fail(found, None, _join(path, name), "Member is not declared by the model")
            elif members[name].serialization.get("location"):
                self._fail(found, None, _join(path, name), "Member belongs in the HTTP headers or URI, not the body")
            elif member is None:
                self._fail(found, None, _join(path, name), "Member must be absent rather than null")
        if shape.metadata.get("union") and len(value) != 1:
            self._fail(found, None, path or "body", "Union must have exactly one member set")

    def _check_list(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        super()._check_list(shape, value, path, found)
        if isinstance(value, list) and any(member is None for member in value):
            self._fail(found, None, path, "List members must not be null")

    def _check_timestamp(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        wire_format = timestamp_format(shape)
        if wire_format == "iso8601":
            if not isinstance(value, str) or not ISO8601_MILLIS.fullmatch(value) or not _parses(value):
                self._fail(found, value, path, "Member must be an iso8601 timestamp string such as "
                                              "2024-05-01T09:30:00.123Z")
        elif wire_format == "rfc822":
            if not isinstance(value, str) or _http_date(value) is None:
                self._fail(found, value, path, "Member must be an rfc822 (HTTP date) timestamp string")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            self._fail(found, value, path, "Member must be an epoch-seconds (unixTimestamp) number")

    def _check_blob(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        if not isinstance(value, str) or not _is_base64(value):
            self._fail(found, value, path, "Member must be base64-encoded text")


def _parses(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _http_date(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
