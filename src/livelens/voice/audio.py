"""Audio as the recogniser takes it: 16-bit little-endian PCM in, float32 mono 16 kHz channels out."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATES = (8000, 16000)
MODEL_RATE = 16000
Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AudioFormat:
    sample_rate: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample frame (every channel's sample)."""
        return 2 * self.channels


def split_channels(pcm: bytes, fmt: AudioFormat) -> list[Samples]:
    """Interleaved 16-bit LE PCM → one float32 array per channel in [-1, 1), at 16 kHz."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    channels = [samples[index::fmt.channels] for index in range(fmt.channels)]
    return [to_model_rate(channel, fmt.sample_rate) for channel in channels]


def to_model_rate(samples: Samples, rate: int) -> Samples:
    """Resample to 16 kHz (8 kHz telephone audio is upsampled by linear interpolation: Whisper only
    sees the band the call had anyway)."""
    if rate == MODEL_RATE:
        return samples
    count = int(round(len(samples) * MODEL_RATE / rate))
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    positions = np.arange(count, dtype=np.float64) * rate / MODEL_RATE
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


class WavError(ValueError):
    """A file that is not 16-bit PCM WAV at 8 or 16 kHz with one or two channels."""


def read_wav(path: Path) -> tuple[AudioFormat, bytes]:
    """The format and the interleaved 16-bit PCM of a WAV file."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, rate, channels = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavError(f"{path}: not a PCM WAV file ({exc})") from None
    if width != 2 or rate not in SAMPLE_RATES or channels not in (1, 2):
        raise WavError(f"{path}: {8 * width}-bit, {rate} Hz, {channels} channel(s); livelens takes 16-bit PCM at "
                       "8000 or 16000 Hz with 1 or 2 channels (convert with: sox IN -r 16000 -b 16 OUT.wav)")
    return AudioFormat(rate, channels), pcm
