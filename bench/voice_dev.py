"""Tuning the speech path on a development set that is not the material bench/voice.py reports.

Dev set: espeak-ng support sentences with other texts and other voices than bench/voice.py's (en-gb-x-rp,
en-us+f3, en-029, en-us-nyc), and moonshine-voice's two other recordings (``endgame_nagg_nell.wav``,
``clone-test.wav``), whose texts are not published: their reference is the base model's beam-5 decode of
the clean 16 kHz recording without the VAD (so their WER measures what the
telephone band and noise cost, not absolute accuracy). Bands as in bench/voice.py: 16 kHz, 8 kHz, and 8 kHz
with white noise at 20 dB SNR (other seed).

    python bench/voice_dev.py --configs tiny,base,base-fir,... [--out bench/voice_dev_results.json]

Each config is ``model[-option...]``: ``fir`` (windowed-sinc upsampling of 8 kHz audio instead of linear
interpolation), ``denoise`` (spectral subtraction), ``beam5``, ``noprompt``, ``greedyonly`` (no
temperature fallback), ``nonoise`` (faster-whisper's features without the decoder's mel-domain noise
subtraction, as before the fourth pass), ``melsub<over>_<floor>[_<percentile>]`` (that subtraction with
other parameters), ``nr`` / ``nrns`` / ``rnn`` (noisereduce's stationary / non-stationary spectral gating,
RNNoise, on each utterance's waveform; ``pip install noisereduce pyrnnoise``, in no extra: not kept),
``img<gain>`` (8 kHz audio upsampled with its mirror images at ``gain``), ``vad04`` (VAD threshold 0.4
instead of 0.5), ``full`` (the encoder's full 30 s window, ``voice_window=full``),
``w<margin>.<step>.<minimum>`` (an encoder window of the utterance plus ``margin`` mel frames rounded up to
``step``, at least ``minimum``: 100 frames a second); without either, the ``utterance`` window as shipped;
``lowmel`` (8 kHz audio: the mel bands above 3.8 kHz set to the log-mel floor in the decoder's features, the
VAD unchanged).

A ``short`` kind (eight one-to-three-word espeak turns) shows what short windows do to short utterances.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.voice import load, moonshine_assets, wer  # noqa: E402
from tests.speech import speak  # noqa: E402

DEV_SENTENCES = [
    ("en-gb-x-rp", "Good afternoon, you are through to the billing team, my name is Oliver."),
    ("en-us+f3", "Hi, I moved house last week and my router still shows a red light."),
    ("en-gb-x-rp", "I can see an outage in your area, engineers are working on it right now."),
    ("en-us+f3", "That is the third time this month, I want to cancel my contract."),
    ("en-029", "I understand, before you go may I offer you a discount on your plan?"),
    ("en-us-nyc", "My account number is seven two four nine and the postcode is one zero zero one."),
    ("en-029", "Your payment of forty dollars was received on Monday morning."),
    ("en-us-nyc", "Please send the confirmation to my email address, thanks a lot."),
]
# Short turns (where a trimmed encoder window is shortest), other voices and texts than bench/voice.py's.
DEV_SHORT = [
    ("en-us+f3", "Yes."), ("en-gb-x-rp", "No, thank you."), ("en-029", "Okay, sure."), ("en-us-nyc", "Hello?"),
    ("en-us+f3", "That's right."), ("en-gb-x-rp", "One moment please."), ("en-029", "Bye now."),
    ("en-us-nyc", "Seven."),
]
# The two recordings whose texts are not published; references in bench/voice_dev_references.json.
REAL_DEV = ("clone-test.wav", "endgame_nagg_nell.wav")


def _lowpass(taps: int, cutoff: float) -> np.ndarray:
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.0)
    return h / h.sum() * 2  # gain 2: half of the zero-stuffed samples are zeros


_FILTER = _lowpass(64, 3800 / 16000)


class Upsampler:
    """8 kHz → 16 kHz by a 64-tap Kaiser-windowed sinc (polyphase, streaming): the ``fir`` option. Flat to
    3.2 kHz, no images of the 0-4 kHz band above ~4.3 kHz (linear interpolation leaves attenuated ones)."""

    def __init__(self) -> None:
        self._history = np.zeros(len(_FILTER) // 2 - 1)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        x = np.concatenate([self._history, samples.astype(np.float64)])
        self._history = x[-(len(_FILTER) // 2 - 1):]
        out = np.empty(2 * len(samples))
        out[0::2] = np.convolve(x, _FILTER[0::2], mode="valid")
        out[1::2] = np.convolve(x, _FILTER[1::2], mode="valid")
        return out.astype(np.float32)


def denoise(samples: np.ndarray, frame: int = 512, hop: int = 128, over: float = 1.5,
            floor: float = 0.1) -> np.ndarray:
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


def reduce_noise(samples: np.ndarray, how: str) -> np.ndarray:
    """The noise-reduction front ends tried in the fourth pass (``nr``: noisereduce's stationary spectral
    gating; ``nrns``: its non-stationary gating; ``rnn``: RNNoise through pyrnnoise, at 48 kHz), on one
    utterance's 16 kHz samples."""
    if how in ("nr", "nrns"):
        import noisereduce

        return noisereduce.reduce_noise(y=samples, sr=16000, stationary=how == "nr").astype(np.float32)
    from pyrnnoise import rnnoise

    state = rnnoise.create()
    try:
        up = np.interp(np.arange(3 * len(samples)) / 3, np.arange(len(samples)), samples) * 32767
        frames = [up[i:i + rnnoise.FRAME_SIZE] for i in range(0, len(up), rnnoise.FRAME_SIZE)]
        out = np.concatenate([rnnoise.process_mono_frame(state, f.astype(np.int16))[0] for f in frames])
    finally:
        rnnoise.destroy(state)
    lag = rnnoise.FRAME_SIZE  # RNNoise delays its output by one 10 ms frame
    out = np.concatenate([out[lag:], np.zeros(lag)])
    return (out[::3] / 32768.0).astype(np.float32)


def with_images(samples16: np.ndarray, gain: float) -> np.ndarray:
    """The ``img<gain>`` option: 8 kHz audio (recovered from the linearly upsampled utterance, whose even
    samples are the 8 kHz ones) upsampled with the mirror image of its 0-4 kHz band in 4-8 kHz at ``gain``
    (0: band-limited, 1: zero-stuffing's full images; linear interpolation's are attenuated by its sinc²
    response: ~-4 dB near 4 kHz, falling to nothing at 8 kHz)."""
    low = samples16[0::2].astype(np.float64)
    smooth = Upsampler().feed(low).astype(np.float64)
    stuffed = np.zeros(2 * len(low))
    stuffed[0::2] = 2 * low
    delay = len(_FILTER) // 2 - 1  # the FIR's group delay, in 16 kHz samples
    smooth = np.concatenate([smooth[delay:], np.zeros(delay)])
    return (smooth + gain * (stuffed - smooth)).astype(np.float32)


def mel_subtraction(decoder: Any, over: float, floor: float, percentile: float = 10.0) -> Any:
    """The ``melsub<over>_<floor>[_<percentile>]`` option: the decoder's mel-domain noise subtraction
    (``voice.decoder.NoiseSubtraction``) with other parameters."""
    from livelens.voice.decoder import NoiseSubtraction, log_mel

    noise = NoiseSubtraction(over, floor, percentile)
    return lambda samples: log_mel(decoder.model.feature_extractor, samples, noise)[:, :-1]


def low_band_only(decoder: Any, cutoff_hz: float = 3800.0) -> Any:
    """The ``lowmel`` option: the decoder's features with the mel bands centred above ``cutoff_hz`` set to
    the log-mel floor (what silence gives), so Whisper sees nothing where 8 kHz audio has no content
    (linear upsampling leaves images of the 0-4 kHz band, and of its noise, up there). In the features only:
    the VAD still hears the audio as it is."""
    plain = decoder.features
    filters = decoder.model.feature_extractor.mel_filters  # (n_mels, n_fft // 2 + 1)
    centres = np.argmax(filters, axis=1) * 16000 / (2 * (filters.shape[1] - 1))
    top = int(np.argmax(centres > cutoff_hz))

    def features(samples: np.ndarray) -> np.ndarray:
        mel = plain(samples).copy()
        mel[top:, :] = mel.max() - 2.0
        return mel

    return features


def references(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def dev_items(refs: dict[str, str]) -> list[tuple[str, np.ndarray, str, Path | None]]:
    silence = np.zeros(8000, dtype=np.int16)
    espeak = np.concatenate([np.concatenate([speak(text, 16000, voice, dither=False), silence])
                             for voice, text in DEV_SENTENCES])
    short = np.concatenate([np.concatenate([speak(text, 16000, voice, dither=False), silence])
                            for voice, text in DEV_SHORT])
    items: list[tuple[str, np.ndarray, str, Path | None]] = [
        ("espeak", espeak, " ".join(text for _, text in DEV_SENTENCES), None),
        ("short", short, " ".join(text for _, text in DEV_SHORT), None)]
    assets = moonshine_assets()
    for name in REAL_DEV:
        if name in refs:
            items.append(("real", load(assets / name, 16000), refs[name], assets / name))
    return items


def band(samples: np.ndarray, source: Path | None, which: str) -> tuple[np.ndarray, int]:
    if which == "16k":
        return samples, 16000
    low = load(source, 8000) if source is not None else samples[::2]
    if which == "8k":
        return low, 8000
    low = low.astype(np.float64)
    power = np.mean(low[np.abs(low) > 50] ** 2)
    noise = np.random.default_rng(11).normal(0, np.sqrt(power / 10 ** (20 / 10)), len(low))
    return np.clip(low + noise, -32768, 32767).astype("<i2"), 8000


def run(config: str, items: list[tuple[str, np.ndarray, str, Path | None]],
        bands: tuple[str, ...] = ("16k", "8k", "8k+noise")) -> dict[str, Any]:
    import ctranslate2

    from livelens.voice.audio import to_model_rate
    from livelens.voice.decoder import WindowPolicy
    from livelens.voice.recognizer import DecodeOptions, WhisperRecognizer
    from livelens.voice.vad import ChannelCutter, VadSettings

    ctranslate2.set_random_seed(17)  # the temperature fallback samples: the same draws for every config
    model, *flags = config.split("-")
    model = {"tiny": "tiny.en"}.get(model, model)
    options = DecodeOptions(beam_size=5 if "beam5" in flags else 1, prompt="noprompt" not in flags,
                            temperatures=(0.0,) if "greedyonly" in flags else DecodeOptions().temperatures,
                            noise_subtraction="nonoise" not in flags)
    window: str | WindowPolicy = "full" if "full" in flags else "utterance"
    for flag in flags:
        if flag.startswith("w") and flag[1:2].isdigit():  # w<margin>.<step>.<minimum>, mel frames
            margin, step, minimum = (int(n) for n in flag[1:].split("."))
            window = WindowPolicy(margin, step, minimum, floor="floor" in flags)
    if "full" in flags and "floor" in flags:
        window = WindowPolicy(0, 3000, 3000, floor=True)
    recognizer = WhisperRecognizer(cpu_threads=1, workers=1, model=model, options=options, window=window)
    out: dict[str, Any] = {}
    plain_features = recognizer.decoder.features
    for which in bands:
        narrow = "lowmel" in flags and which != "16k"
        recognizer.decoder.features = low_band_only(recognizer.decoder) if narrow else plain_features
        for flag in flags:
            if flag.startswith("melsub"):
                over, floor, *percentile = (float(v) for v in flag[6:].split("_"))
                recognizer.decoder.features = mel_subtraction(recognizer.decoder, over, floor, *percentile)
        for kind in ("espeak", "short", "real"):
            edits = total = 0
            cpu = audio = 0.0
            texts = []
            for item_kind, samples, reference, source in items:
                if item_kind != kind:
                    continue
                pcm, rate = band(samples, source, which)
                floats = pcm.astype(np.float32) / 32768.0
                channel = to_model_rate(floats, rate)
                if rate != 16000 and "fir" in flags:
                    channel = Upsampler().feed(floats)
                cutter = ChannelCutter(VadSettings(threshold=0.4) if "vad04" in flags else VadSettings())
                started = time.process_time()
                hypothesis = []
                for utterance in cutter.feed(channel) + cutter.flush():
                    samples16 = utterance.samples
                    if "denoise" in flags:
                        samples16 = denoise(samples16)
                    images = [float(f[3:]) for f in flags if f.startswith("img")]
                    if images and rate != 16000:
                        samples16 = with_images(samples16, images[0])
                    for how in ("nr", "nrns", "rnn"):
                        if how in flags:
                            samples16 = reduce_noise(samples16, how)
                    hypothesis.append(recognizer.transcribe(samples16).text)
                cpu += time.process_time() - started
                audio += len(pcm) / rate
                text = " ".join(hypothesis)
                e, n = wer(reference, text)
                edits, total = edits + e, total + n
                texts.append(text)
            if total:
                out[f"{kind} {which}"] = {"wer": round(edits / total, 3), "words": total,
                                          "cpu_rtf": round(cpu / audio, 3), "texts": texts}
                print(f"{config:28s} {kind:6s} {which:9s} WER {edits / total:.3f} ({total} words) "
                      f"CPU-RTF {cpu / audio:.3f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", default="tiny,base")
    parser.add_argument("--refs", default=str(Path(__file__).with_name("voice_dev_references.json")))
    parser.add_argument("--bands", default="16k,8k,8k+noise")
    parser.add_argument("--out", default=str(Path(__file__).with_name("voice_dev_results.json")))
    args = parser.parse_args()
    items = dev_items(references(Path(args.refs)))
    results = {config: run(config, items, tuple(args.bands.split(","))) for config in args.configs.split(",")}
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
