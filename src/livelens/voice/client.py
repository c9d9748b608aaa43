"""A client of the audio WebSocket: presigns its URL (SigV4 query auth, service ``connect``) and streams
16-bit PCM, at real speed or as fast as the server takes it, collecting the transcript events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.voice.audio import AudioFormat

CHUNK_MS = 100


def audio_path(instance_id: str, contact_id: str) -> str:
    return f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/audio"


def presigned_audio_url(endpoint_url: str, instance_id: str, contact_id: str, params: Mapping[str, str],
                        access_key: str, secret_key: str, region: str = "us-east-1",
                        session_token: str | None = None, expires: int = 300) -> str:
    """The ``ws://``/``wss://`` URL of a contact's audio socket, presigned for ``expires`` seconds."""
    base = endpoint_url.rstrip("/")
    url = f"{base}{audio_path(instance_id, contact_id)}?{urlencode(dict(params))}"
    request = AWSRequest("GET", url)
    SigV4QueryAuth(Credentials(access_key, secret_key, session_token), "connect", region, expires=expires
                   ).add_auth(request)
    signed = str(request.url)
    scheme = "wss" if urlsplit(signed).scheme == "https" else "ws"
    return scheme + signed[signed.index("://"):]


def stream_pcm(url: str, fmt: AudioFormat, pcm: bytes, *, speed: float | None = 1.0,
               on_event: Callable[[dict[str, Any]], None] = lambda event: None,
               timeout: float = 120.0) -> list[dict[str, Any]]:
    """Send ``pcm`` in 100 ms frames (at ``speed`` × real time; ``None``: as fast as possible), end the
    audio, and return every event the server sent until it closed the socket."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    events: list[dict[str, Any]] = []
    chunk = fmt.sample_rate * fmt.frame_bytes * CHUNK_MS // 1000
    with connect(url, open_timeout=30, close_timeout=timeout, max_size=None) as socket:
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), chunk)):
            if speed:
                delay = started + index * CHUNK_MS / 1000 / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            socket.send(pcm[offset:offset + chunk])
            _drain(socket, events, on_event, 0)
        socket.send(b"")
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                _drain(socket, events, on_event, deadline - time.monotonic())
        except ConnectionClosed:
            pass
    return events


def _drain(socket: Any, events: list[dict[str, Any]], on_event: Callable[[dict[str, Any]], None],
           wait: float) -> None:
    while True:
        try:
            message = socket.recv(timeout=wait)
        except TimeoutError:
            return
        event = json.loads(message)
        events.append(event)
        on_event(event)
        wait = 0
