"""Cutting a channel's audio into utterances as it arrives: Silero VAD (shipped with faster-whisper),
run 32 ms window by window with its recurrent state kept per channel.

An utterance starts at the first speech window and ends after ``min_silence_ms`` of non-speech (or at
``max_utterance_ms``); it is handed out with ``pad_ms`` of audio either side and its offsets in
milliseconds from the start of the channel's audio.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from livelens.voice.audio import MODEL_RATE, Samples

WINDOW = 512  # samples at 16 kHz: 32 ms, what Silero VAD takes
CONTEXT = 64
WINDOW_MS = WINDOW * 1000 // MODEL_RATE


@dataclass(frozen=True)
class Utterance:
    """Speech from ``begin_ms`` to ``end_ms``; ``samples`` (with padding) start at ``audio_start_ms``."""

    begin_ms: int
    end_ms: int
    samples: Samples
    audio_start_ms: int


@dataclass(frozen=True)
class VadSettings:
    threshold: float = 0.5
    min_silence_ms: int = 500
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_ms: int = 20000


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(os.path.join(get_assets_path(), "silero_vad_v6.onnx"),
                                        providers=["CPUExecutionProvider"], sess_options=options)


class ChannelCutter:
    """One channel's streaming VAD and utterance cutter (not thread-safe: one feeder at a time)."""

    def __init__(self, settings: VadSettings = VadSettings()) -> None:
        self.settings = settings
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet a whole window
        self._audio: list[Samples] = []  # every window since the start of the current utterance's padding
        self._position = 0  # windows seen
        self._speech_start: int | None = None  # window index
        self._last_speech = 0
        self._keep_windows = max(1, settings.pad_ms // WINDOW_MS)

    def _probability(self, window: Samples) -> float:
        batch = np.concatenate([self._context, window])[None, :]
        output, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT:]
        return float(np.asarray(output).reshape(-1)[0])

    def feed(self, samples: Samples) -> list[Utterance]:
        """Add 16 kHz samples; the utterances that ended within them."""
        done: list[Utterance] = []
        self._pending = np.concatenate([self._pending, samples])
        whole = len(self._pending) // WINDOW
        windows, self._pending = self._pending[:whole * WINDOW], self._pending[whole * WINDOW:]
        s = self.settings
        for index in range(whole):
            window = windows[index * WINDOW:(index + 1) * WINDOW]
            speech = self._probability(window) >= s.threshold
            self._audio.append(window)
            if self._speech_start is None:
                if speech:
                    self._speech_start = self._position
                    self._last_speech = self._position
                else:
                    del self._audio[:-self._keep_windows]  # keep only the leading padding
            else:
                if speech:
                    self._last_speech = self._position
                silent_ms = (self._position - self._last_speech) * WINDOW_MS
                long_ms = (self._position - self._speech_start) * WINDOW_MS
                if silent_ms >= s.min_silence_ms or long_ms >= s.max_utterance_ms:
                    utterance = self._cut()
                    if utterance is not None:
                        done.append(utterance)
            self._position += 1
        return done

    def in_progress(self) -> Utterance | None:
        """The utterance being spoken, so far (for a partial transcript), or ``None`` in silence."""
        if self._speech_start is None or not self._audio:
            return None
        first = self._position - len(self._audio)  # window index of self._audio[0]
        start = max(first, self._speech_start - self._keep_windows)
        samples = np.concatenate(self._audio[start - first:])
        return Utterance(self._speech_start * WINDOW_MS, self._position * WINDOW_MS, samples, start * WINDOW_MS)

    def flush(self) -> list[Utterance]:
        """The end of the audio: the utterance in progress, if any."""
        if self._speech_start is None:
            return []
        utterance = self._cut()
        return [utterance] if utterance is not None else []

    def _cut(self) -> Utterance | None:
        assert self._speech_start is not None
        s = self.settings
        first = self._position - len(self._audio) + 1  # window index of self._audio[0]
        start = max(first, self._speech_start - self._keep_windows)
        stop = min(self._position, self._last_speech + self._keep_windows)
        speech_ms = (self._last_speech - self._speech_start + 1) * WINDOW_MS
        begin_ms, end_ms = self._speech_start * WINDOW_MS, (self._last_speech + 1) * WINDOW_MS
        samples = np.concatenate(self._audio[start - first:stop - first + 1])
        self._audio = self._audio[-self._keep_windows:] if self._audio else []
        self._speech_start = None
        if speech_ms < s.min_speech_ms:
            return None
        return Utterance(begin_ms, end_ms, samples, start * WINDOW_MS)
