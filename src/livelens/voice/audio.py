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
    """Interleaved 16-bit LE PCM (a whole recording) → one float32 array per channel in [-1, 1), at 16 kHz."""
    return ChannelSplitter(fmt).split(pcm)


def split_channels_with_vad(pcm: bytes, fmt: AudioFormat) -> list[tuple[Samples, Samples]]:
    """A whole recording's channels as :meth:`ChannelSplitter.split_with_vad` gives them."""
    return ChannelSplitter(fmt).split_with_vad(pcm)


class ChannelSplitter:
    """A stream's PCM, frame after frame → each channel's float32 samples at 16 kHz; 8 kHz channels are
    upsampled by a streaming :class:`Upsampler` each, so frames of any length join seamlessly."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self._upsamplers = [Upsampler() for _ in range(fmt.channels)] if fmt.sample_rate != MODEL_RATE else None

    def split(self, pcm: bytes) -> list[Samples]:
        """Each channel at 16 kHz, for the recogniser."""
        return [model for model, _ in self.split_with_vad(pcm)]

    def split_with_vad(self, pcm: bytes) -> list[tuple[Samples, Samples]]:
        """Each channel at 16 kHz twice: band-limited for the recogniser, and linearly interpolated for
        the VAD. Silero VAD hears speech onsets in 8 kHz audio later without the images linear
        interpolation leaves above 4 kHz ("th", "s": 0.6 s late on examples/call.wav's "Thank you"),
        and lowering its threshold instead cost WER on the development set (BENCHMARKS.md, issue 17)."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        channels = [samples[index::self.fmt.channels] for index in range(self.fmt.channels)]
        if self._upsamplers is None:
            return [(channel, channel) for channel in channels]
        return [(upsampler.feed(channel), to_model_rate(channel, self.fmt.sample_rate))
                for upsampler, channel in zip(self._upsamplers, channels)]


def to_model_rate(samples: Samples, rate: int) -> Samples:
    """Linear interpolation to 16 kHz (what the VAD hears of 8 kHz audio, see
    :meth:`ChannelSplitter.split_with_vad`)."""
    if rate == MODEL_RATE:
        return samples
    count = int(round(len(samples) * MODEL_RATE / rate))
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    positions = np.arange(count, dtype=np.float64) * rate / MODEL_RATE
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _lowpass(taps: int, cutoff: float) -> npt.NDArray[np.float64]:
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.0)
    return h / h.sum() * 2  # gain 2: half of the zero-stuffed samples are zeros


#: 64 taps at 16 kHz (32 per polyphase branch), Kaiser window: flat to 3.2 kHz, -3 dB near 3.8 kHz,
#: images beyond ~4.3 kHz at least 20 dB below what linear interpolation leaves.
_FILTER = _lowpass(64, 3800 / 16000)
_EVEN, _ODD = _FILTER[0::2], _FILTER[1::2]


class Upsampler:
    """8 kHz → 16 kHz, streaming, polyphase windowed-sinc. Whisper's log-mel features span 0-8 kHz;
    linear interpolation leaves attenuated mirror images of the 0-4 kHz band in 4-8 kHz, this filter
    removes them (on the development set, bench/voice_dev.py, the 8 kHz WER fell with it). Twice as many
    samples out as in, delayed by the filter's 2 ms."""

    def __init__(self) -> None:
        self._history = np.zeros(len(_EVEN) - 1, dtype=np.float64)

    def feed(self, samples: Samples) -> Samples:
        if len(samples) == 0:
            return np.zeros(0, dtype=np.float32)
        x = np.concatenate([self._history, samples.astype(np.float64)])
        self._history = x[-(len(_EVEN) - 1):]
        out = np.empty(2 * len(samples), dtype=np.float64)
        out[0::2] = np.convolve(x, _EVEN, mode="valid")
        out[1::2] = np.convolve(x, _ODD, mode="valid")
        return out.astype(np.float32)


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
