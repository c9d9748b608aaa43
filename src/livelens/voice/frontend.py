"""Spectral subtraction of stationary noise, numpy only: measured on the development set
(bench/voice_dev.py ``denoise``), not used by the audio path (see BENCHMARKS.md, issue 17)."""

from __future__ import annotations

import numpy as np

from livelens.voice.audio import Samples

def denoise(samples: Samples, frame: int = 512, hop: int = 128, over: float = 1.5, floor: float = 0.1) -> Samples:
    """Spectral subtraction: each frequency's noise magnitude is its 10th percentile over the utterance's
    frames (speech is not present in every frame at every frequency); ``over`` times it is subtracted,
    keeping at least ``floor`` of the original magnitude."""
    if len(samples) < 4 * frame:
        return samples
    window = np.hanning(frame)
    count = 1 + (len(samples) - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    spectrum = np.fft.rfft(samples[index] * window, axis=1)
    magnitude = np.abs(spectrum)
    noise = np.percentile(magnitude, 10, axis=0)
    cleaned = np.maximum(magnitude - over * noise, floor * magnitude)
    frames = np.fft.irfft(spectrum * (cleaned / np.maximum(magnitude, 1e-12)), n=frame, axis=1) * window
    out = np.zeros(len(samples), dtype=np.float64)
    norm = np.zeros(len(samples), dtype=np.float64)
    np.add.at(out, index, frames)
    np.add.at(norm, index, np.broadcast_to(window ** 2, index.shape))
    tail = hop * (count - 1) + frame
    out[:tail] /= np.maximum(norm[:tail], 1e-3)
    out[tail:] = samples[tail:]
    return out.astype(np.float32)
