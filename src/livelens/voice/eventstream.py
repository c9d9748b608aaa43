"""AWS event-stream messages (``application/vnd.amazon.eventstream``), as Amazon Transcribe streaming frames
them: a 12-byte prelude (total length, headers length, both big-endian uint32, and the prelude's CRC32),
the headers, the payload, and the CRC32 of everything before it. A header is its name's length (1 byte),
the name, a value type (1 byte) and the value; livelens writes only string values (type 7: a 2-byte
length and UTF-8).

Decoding is botocore's (:class:`botocore.eventstream.EventStreamBuffer`: lengths and both CRCs checked);
encoding is written here.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

STRING = 7
PRELUDE = 12


class FramingError(ValueError):
    """Bytes that are not a well-formed event-stream message (bad length or CRC, unknown header type)."""


def encode(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string-valued ``headers``."""
    encoded = b"".join(
        struct.pack(">B", len(name.encode())) + name.encode() + struct.pack(">BH", STRING, len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", PRELUDE + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, body: Any) -> bytes:
    """An ``event`` message with a JSON payload (e.g. a ``TranscriptEvent``)."""
    return encode({":message-type": "event", ":event-type": event_type, ":content-type": "application/json"},
                  json.dumps(body).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An ``exception`` message, as Transcribe reports an error in the stream (``BadRequestException`` …)."""
    return encode({":message-type": "exception", ":exception-type": exception_type,
                   ":content-type": "application/json"}, json.dumps({"Message": message}).encode())


class Decoder:
    """Messages out of a byte stream cut anywhere (WebSocket frames need not align with messages)."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()

    def feed(self, data: bytes) -> Iterator[EventStreamMessage]:
        self._buffer.add_data(data)
        try:
            yield from self._buffer
        except ParserError as exc:
            raise FramingError(str(exc) or type(exc).__name__) from None
