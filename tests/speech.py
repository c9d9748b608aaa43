"""Synthesised test speech: espeak-ng (Debian package) voices turns, sox resamples them.

:func:`dialogue` lays turns on one timeline, agent and customer on their own channel, the way a
telephony recorder does (left agent, right customer).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

VOICES = {"AGENT": "en-us+m3", "CUSTOMER": "en-us+f3"}


@dataclass(frozen=True)
class Line:
    role: str
    text: str


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} missing: apt-get install espeak-ng sox (.ci/run does)")


def speak(text: str, rate: int, voice: str = "en-us", words_per_minute: int = 150, dither: bool = True) -> np.ndarray:
    """``text`` spoken, as int16 samples at ``rate`` Hz. sox dithers (random) when it resamples; the
    benchmarks turn that off (``dither=False``: the same samples every run; with dither tiny.en's decode of
    the same sentences varied between runs by up to 7 words in 106). The tests keep it: undithered espeak-ng
    pauses are exact zeros, which tests/e2e/test_recordings.py would find everywhere on disk."""
    require_tools()
    spoken = subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
                            capture_output=True, check=True).stdout
    converted = subprocess.run(["sox", *([] if dither else ["-D"]), "-t", "wav", "-", "-r", str(rate), "-b", "16",
                                "-c", "1", "-t", "wav", "-"],
                               input=spoken, capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(converted)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def dialogue(lines: list[Line], rate: int, gap_s: float = 0.8, lead_s: float = 0.5
             ) -> tuple[bytes, list[tuple[str, int, int]]]:
    """Stereo interleaved PCM (channel 0 agent, 1 customer) and each line's (role, begin ms, end ms)."""
    pieces = [(line.role, speak(line.text, rate, VOICES[line.role])) for line in lines]
    total = int((lead_s + gap_s * len(pieces)) * rate) + sum(len(p) for _, p in pieces) + rate // 2
    channels = np.zeros((2, total), dtype=np.int16)
    at = int(lead_s * rate)
    spans = []
    for role, samples in pieces:
        channels[0 if role == "AGENT" else 1, at:at + len(samples)] = samples
        spans.append((role, at * 1000 // rate, (at + len(samples)) * 1000 // rate))
        at += len(samples) + int(gap_s * rate)
    return channels.T.astype("<i2").tobytes(), spans


def mono(text: str, rate: int, lead_s: float = 0.4, tail_s: float = 0.8) -> bytes:
    samples = speak(text, rate)
    padded = np.concatenate([np.zeros(int(lead_s * rate), np.int16), samples, np.zeros(int(tail_s * rate), np.int16)])
    return padded.astype("<i2").tobytes()


def write_wav(path: str, pcm: bytes, rate: int, channels: int) -> None:
    with wave.open(path, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
