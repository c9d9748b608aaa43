"""Call recordings: the audio of a voice contact's sockets, kept when the contact's recording is on, with
the PII time ranges silenced when its policy redacts.

**Turning it on.** The contact attribute (or the instance tag, for its contacts) ``livelens:recording``
names the participants recorded, as Amazon Connect's "Set recording and analytics behavior" flow block
does: ``AGENT``, ``CUSTOMER`` or ``AGENT,CUSTOMER`` (``None``, the default: no recording). Each audio
socket of such a contact becomes one recording, in the format it was received (8 or 16 kHz, mono or
two channels); a channel of a participant not recorded is stored silent.

**Redaction.** Under a redacting policy (``RedactedAndOriginal`` or ``RedactedOnly``) the audio is held
in memory until every utterance it can belong to is transcribed and redacted: the character spans the
redactor found are mapped to time with the recogniser's word timestamps (plus :data:`MARGIN_MS` either
side), those ranges are zeroed, and only then is the audio written. Audio outside any utterance is
written once the VAD has passed it. A transcript the redactor could not read, or a decoding that failed,
silences its whole utterance (fail closed). So no unredacted audio reaches disk; a crash loses the audio
still held (at most the utterances being decoded plus the VAD's padding), never leaks it. Under
``None`` the audio is written as it arrives.

**Storage.** Written in chunks of at least :data:`CHUNK_SECONDS` of settled audio (and at the end):
SQLite appends raw PCM to ``<recordings_dir>/<RecordingId>.pcm`` (0600, fsynced per chunk); PostgreSQL
appends rows to ``recording_chunks``, so every node serves what any node recorded. The record (format,
roles, offset, status) is a row of ``recordings`` in both. A download is the PCM behind a WAV header.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from livelens.contacts.models import now_iso
from livelens.files import FILE_MODE, private_dir
from livelens.storage.base import BodyTransaction, Storage
from livelens.voice.audio import AudioFormat

#: Silence this much more than the words' timestamps either side: Whisper tiny.en's word times are
#: approximate (on espeak-ng speech a spoken number's or e-mail's first word was placed 30-210 ms after its
#: onset, with either encoder window, and 310 ms after it once in tests/e2e/test_recordings.py, which
#: checks the whole number is silent; its end within 20 ms).
MARGIN_MS = 400
CHUNK_SECONDS = 1.0
IN_PROGRESS, COMPLETED = "IN_PROGRESS", "COMPLETED"


@dataclass(frozen=True)
class RecordingStore:
    """Where recordings' audio lands: files in ``folder``, or (``in_database``, on PostgreSQL) rows of the
    database every node shares."""

    folder: Path
    in_database: bool = False

    def path(self, recording_id: str) -> Path:
        return self.folder / f"{recording_id}.pcm"

    def start(self, storage: Storage, record: dict[str, Any]) -> None:
        if not self.in_database:
            private_dir(self.folder)
            os.close(os.open(self.path(record["RecordingId"]), os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        with storage.write() as tx:
            tx.insert_recording(record["RecordingId"], record["ContactId"], record)

    def append(self, storage: Storage, recording_id: str, index: int, pcm: bytes) -> None:
        """Keep ``pcm`` (already redacted) durably: committed row, or fsynced file."""
        if self.in_database:
            with storage.write() as tx:
                cast(BodyTransaction, tx).append_recording_chunk(recording_id, index, pcm)
            return
        with open(self.path(recording_id), "ab") as file:
            file.write(pcm)
            file.flush()
            os.fsync(file.fileno())

    def finish(self, storage: Storage, recording_id: str, frames: int) -> None:
        with storage.write() as tx:
            record = tx.get_recording(recording_id)
            if record is not None:
                record.update(Status=COMPLETED, DurationMillis=frames * 1000 // record["SampleRate"],
                              EndTimestamp=now_iso())
                tx.update_recording(recording_id, record)

    def audio(self, storage: Storage, recording_id: str) -> bytes:
        if self.in_database:
            with storage.read() as tx:
                return cast(BodyTransaction, tx).recording_audio(recording_id)
        path = self.path(recording_id)
        return path.read_bytes() if path.exists() else b""

    def wav(self, storage: Storage, record: dict[str, Any]) -> bytes:
        """The recording as a WAV file (whole frames only: a crash may have cut the last one)."""
        pcm = self.audio(storage, record["RecordingId"])
        frame = 2 * record["Channels"]
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(record["Channels"])
            out.setsampwidth(2)
            out.setframerate(record["SampleRate"])
            out.writeframes(pcm[:len(pcm) - len(pcm) % frame])
        return buffer.getvalue()


def new_record(instance_id: str, contact_id: str, fmt: AudioFormat, roles: Sequence[str], recorded: Sequence[str],
               start_offset_ms: int, redacted: bool) -> dict[str, Any]:
    return {
        "RecordingId": str(uuid.uuid4()), "InstanceId": instance_id, "ContactId": contact_id,
        "SampleRate": fmt.sample_rate, "Channels": fmt.channels, "ChannelRoles": list(roles),
        "RecordedRoles": [role for role in roles if role in recorded], "StartOffsetMillis": start_offset_ms,
        "PiiSilenced": redacted, "Status": IN_PROGRESS, "StartTimestamp": now_iso(),
    }


def pii_time_ranges(words: Sequence[Any], spans: Sequence[tuple[int, int]] | None, duration_ms: int,
                    margin_ms: int = MARGIN_MS) -> list[tuple[int, int]]:
    """The time ranges (ms from the start of the decoded samples) to silence for the redacted character
    ``spans`` of a transcription whose ``words`` know their characters and times. ``None`` (the redactor
    failed) or a span that no word covers silences everything (fail closed)."""
    if spans is None:
        return [(0, duration_ms)]
    ranges = []
    for begin, end in spans:
        covered = [w for w in words if w.begin_char < end and w.end_char > begin]
        if not covered:
            return [(0, duration_ms)]
        start = min(w.start_ms for w in covered) - margin_ms
        stop = max(w.end_ms for w in covered) + margin_ms
        ranges.append((max(0, start), min(duration_ms, stop)))
    return ranges


class Recorder:
    """One socket's recording: the PCM received and not yet written, the ranges to silence in it, and the
    writer of what has settled. Thread-safe (the socket feeds it from one thread, finals settle from
    another)."""

    def __init__(self, store: RecordingStore, storage: Storage, record: dict[str, Any]) -> None:
        self.store = store
        self.storage = storage
        self.id: str = record["RecordingId"]
        self.rate: int = record["SampleRate"]
        self.channels: int = record["Channels"]
        self.muted = [role not in record["RecordedRoles"] for role in record["ChannelRoles"]]
        self._lock = threading.Lock()
        self._pending = bytearray()  # frames from self._written on
        self._written = 0  # frames written
        self._received = 0  # frames received
        self._silences: list[tuple[int, int, int]] = []  # (channel, first frame, end frame)
        self._chunks = 0

    def add(self, pcm: bytes) -> None:
        """Whole frames, as received."""
        with self._lock:
            self._pending += pcm
            self._received += len(pcm) // (2 * self.channels)

    def silence(self, channel: int, begin_ms: int, end_ms: int) -> None:
        with self._lock:
            first, end = self._frame(begin_ms), self._frame(end_ms)
            if end > first:  # never before self._written: the session holds an utterance's audio until it settles
                self._silences.append((channel, first, end))

    def settle(self, until_ms: int | None, force: bool = False) -> None:
        """Write the audio before ``until_ms`` (``None``: all received), once it is at least
        :data:`CHUNK_SECONDS` long (or ``force``)."""
        with self._lock:
            target = self._received if until_ms is None else min(self._received, self._frame(until_ms))
            count = target - self._written
            if count <= 0 or (not force and count < self.rate * CHUNK_SECONDS):
                return
            size = count * 2 * self.channels
            frames = np.frombuffer(bytes(self._pending[:size]), dtype="<i2").reshape(-1, self.channels).copy()
            for channel, muted in enumerate(self.muted):
                if muted:
                    frames[:, channel] = 0
            for channel, first, end in self._silences:
                lo, hi = max(first, self._written), min(end, target)
                if hi > lo:
                    frames[lo - self._written:hi - self._written, channel] = 0
            self._silences = [s for s in self._silences if s[2] > target]
            self.store.append(self.storage, self.id, self._chunks, frames.astype("<i2").tobytes())
            self._chunks += 1
            del self._pending[:size]
            self._written = target

    def finish(self) -> None:
        self.settle(None, force=True)
        self.store.finish(self.storage, self.id, self._written)

    def _frame(self, ms: int) -> int:
        return max(0, ms) * self.rate // 1000
