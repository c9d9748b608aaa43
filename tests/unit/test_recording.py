"""Call recordings' pure parts: redacted character spans → time ranges, and the recorder that writes only
settled audio with the PII ranges zeroed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livelens.contacts.service import recorded_roles
from livelens.errors import InvalidRequestException
from livelens.voice.audio import AudioFormat
from livelens.voice.recognizer import assemble
from livelens.voice.recording import Recorder, RecordingStore, new_record, pii_time_ranges


def test_words_know_where_they_stand_in_the_text() -> None:
    transcription = assemble([(" My", 0.0, 0.3), (" card", 0.3, 0.6), (" is", 0.6, 0.8), (" 4539,", 0.8, 1.5),
                              (" thanks.", 1.6, 2.0)])
    assert transcription.text == "My card is 4539, thanks."
    assert [transcription.text[w.begin_char:w.end_char] for w in transcription.words] == \
        ["My", "card", "is", "4539,", "thanks."]
    assert (transcription.words[3].start_ms, transcription.words[3].end_ms) == (800, 1500)


def test_redacted_spans_map_to_the_words_times_with_a_margin() -> None:
    words = assemble([(" call", 0.1, 0.4), (" four", 0.5, 0.8), (" one", 0.8, 1.1), (" five", 1.1, 1.4),
                      (" please.", 1.5, 1.9)]).words
    text_span = (5, 18)  # "four one five"
    assert pii_time_ranges(words, [text_span], 2500, margin_ms=100) == [(400, 1500)]
    assert pii_time_ranges(words, [(0, 4)], 2500, margin_ms=300) == [(0, 700)]  # clamped at the start
    assert pii_time_ranges(words, [], 2500) == []
    assert pii_time_ranges(words, None, 2500) == [(0, 2500)]  # the redactor failed: all of it
    assert pii_time_ranges(words, [(40, 50)], 2500) == [(0, 2500)]  # a span no word covers: all of it


def test_recording_roles_take_connects_participant_names() -> None:
    assert recorded_roles("None", "Attributes") == []
    assert recorded_roles("Agent,Customer", "Attributes") == ["AGENT", "CUSTOMER"]
    assert recorded_roles("CUSTOMER", "Tags") == ["CUSTOMER"]
    with pytest.raises(InvalidRequestException, match="Tags.livelens:recording"):
        recorded_roles("SUPERVISOR", "Tags")


class _Storage:
    """Enough of a storage for the recorder: one recording row."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def write(self) -> Any:
        return self

    read = write

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def insert_recording(self, recording_id: str, contact_id: str, data: dict[str, Any]) -> None:
        self.rows[recording_id] = dict(data)

    def get_recording(self, recording_id: str) -> dict[str, Any] | None:
        return self.rows.get(recording_id)

    def update_recording(self, recording_id: str, data: dict[str, Any]) -> None:
        self.rows[recording_id] = dict(data)


def _recorder(tmp_path: Path, recorded: list[str]) -> tuple[Recorder, RecordingStore, dict[str, Any], _Storage]:
    store, storage = RecordingStore(tmp_path / "recordings"), _Storage()
    record = new_record("i", "c", AudioFormat(8000, 2), ["AGENT", "CUSTOMER"], recorded, 0, True)
    store.start(storage, record)
    return Recorder(store, storage, record), store, record, storage


def test_recorder_writes_only_settled_audio_with_pii_zeroed(tmp_path: Path) -> None:
    recorder, store, record, storage = _recorder(tmp_path, ["AGENT", "CUSTOMER"])
    pcm = np.full((8000 * 3, 2), 1000, dtype="<i2")  # 3 s of stereo at 8 kHz
    recorder.add(pcm.tobytes())
    recorder.settle(500)  # less than a chunk: nothing yet
    assert store.path(record["RecordingId"]).read_bytes() == b""
    recorder.settle(1500)
    assert len(store.path(record["RecordingId"]).read_bytes()) == 12000 * 2 * 2
    recorder.silence(1, 2000, 2500)  # a customer PII range
    recorder.finish()
    written = np.frombuffer(store.path(record["RecordingId"]).read_bytes(), "<i2").reshape(-1, 2)
    assert len(written) == 24000
    assert not written[16000:20000, 1].any() and (written[16000:20000, 0] == 1000).all()
    assert (written[:16000] == 1000).all() and (written[20000:] == 1000).all()
    assert storage.rows[record["RecordingId"]]["Status"] == "COMPLETED"
    assert storage.rows[record["RecordingId"]]["DurationMillis"] == 3000
    wav = store.wav(storage, storage.rows[record["RecordingId"]])
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 24000 * 4


def test_a_participant_not_recorded_is_stored_silent(tmp_path: Path) -> None:
    recorder, store, record, _ = _recorder(tmp_path, ["CUSTOMER"])
    recorder.add(np.full((8000, 2), 700, dtype="<i2").tobytes())
    recorder.finish()
    written = np.frombuffer(store.path(record["RecordingId"]).read_bytes(), "<i2").reshape(-1, 2)
    assert not written[:, 0].any() and (written[:, 1] == 700).all()


def test_no_utterance_reaches_back_before_the_point_the_recording_may_write() -> None:
    """What makes "no unredacted audio on disk" hold: audio before ``held_from_ms`` is never part of an
    utterance cut later, so the recording may write it before anything is redacted."""
    pytest.importorskip("faster_whisper")
    from livelens.voice.vad import ChannelCutter
    from tests.speech import mono

    pcm = mono("My phone number is four one five, five five five, zero one nine nine.", 16000) \
        + mono("Thanks, that is all.", 16000)
    samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    cutter = ChannelCutter()
    marks: list[int] = []
    cut: list[tuple[int, Any]] = []
    for at in range(0, len(samples), 1600):  # 100 ms frames
        cut += [(len(marks), u) for u in cutter.feed(samples[at:at + 1600])]
        marks.append(cutter.held_from_ms())
    cut += [(len(marks), u) for u in cutter.flush()]
    assert len(cut) == 2
    assert marks == sorted(marks) and marks[-1] > 3000
    for fed, utterance in cut:
        assert all(mark <= utterance.audio_start_ms for mark in marks[:fed])
