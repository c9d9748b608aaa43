"""Whisper decoding with the encoder window trimmed to the utterance.

faster-whisper pads every piece of audio to Whisper's 30 s window (3000 mel frames) before the encoder,
so a 2 s utterance (or a 1 s partial) pays the encoder, the decoder's cross-attention and the word
alignment over 1500 positions of padding. CTranslate2's Whisper takes shorter mel inputs (the encoder's
output is then half as many positions as frames), so :class:`WindowedDecoder` drives the model itself,
with faster-whisper's feature extractor, tokenizer, prompt, temperature fallback and word alignment:
the mel features of each utterance are padded only to a :class:`WindowPolicy` window (the utterance
plus a margin, rounded up to a few bucket sizes, so the utterances of a batch share one shape), or to
the full 30 s with :data:`FULL`. Whisper was trained on 30 s windows: much shorter ones make it repeat
phrases and drop the start of utterances, hence the ``utterance`` window's minimum of 17.5 s (chosen on
bench/voice_dev.py's development set; BENCHMARKS.md, issue 17, third pass).

One decode of a batch (one utterance is a batch of one, decoded by the same code): one encoder pass,
one greedy ``generate`` over the batch; an utterance whose greedy text looks wrong (compressible beyond
2.4: a loop; an average log-probability below -1 that is not silence; or a repetition loop) is decoded
again alone with the temperature fallback (sampling at 0.2 … 1.0, as faster-whisper does), and once more
without the prompt if it still loops; then one ``align`` over the batch gives the word timestamps.

The features are faster-whisper's log-mel with one change, :class:`NoiseSubtraction`: each mel band's
stationary noise is subtracted from its power before the log. Telephone audio with noise lost most of its
accuracy to the decoder, not to the VAD's cuts nor to the no-speech and fallback gates (BENCHMARKS.md,
issue 17, fourth pass); the subtraction took 11-20 % of the word errors on the development set's noisy
telephone audio (on the test material 6 of 36 on real speech, and 3 more on synthetic speech).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Whisper's full window: 30 s of mel frames (100 a second, of 16 kHz audio).
FULL_FRAMES = 3000
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class WindowPolicy:
    """How many mel frames the encoder sees for an utterance of ``content`` frames: the utterance plus
    ``margin`` frames, rounded up to a multiple of ``step`` frames, at least ``minimum``, at most the full
    window. ``step=FULL_FRAMES`` is faster-whisper's behaviour (always 30 s)."""

    margin: int
    step: int
    minimum: int
    floor: bool = False  # pad with the log-mel of silence (OpenAI's Whisper) not zeros: measured, not kept

    def frames(self, content: int) -> int:
        if content < 0:
            raise ValueError(f"an utterance of {content} mel frames")
        if content > FULL_FRAMES:
            raise ValueError(f"an utterance of {content} mel frames is longer than Whisper's window ({FULL_FRAMES})")
        wanted = max(self.minimum, content + self.margin)
        return min(FULL_FRAMES, self.step * math.ceil(wanted / self.step))


#: The windows of the ``voice_window`` setting (chosen on bench/voice_dev.py's material; BENCHMARKS.md).
WINDOWS = {
    "utterance": WindowPolicy(margin=0, step=250, minimum=1750),
    "full": WindowPolicy(margin=0, step=FULL_FRAMES, minimum=FULL_FRAMES),
}
FULL = WINDOWS["full"]
DEFAULT_WINDOW = "utterance"


def padded(features: np.ndarray, frames: int, floor: bool = False) -> np.ndarray:
    """Mel features ``(n_mels, content)`` padded to ``frames`` with zeros (as faster-whisper pads to 30 s) or
    with ``floor`` the value silence has (the log-mel floor, 8 log10 units below the utterance's maximum);
    a window shorter than the features is an error, never a silent cut."""
    if features.shape[-1] > frames:
        raise ValueError(f"a window of {frames} mel frames is shorter than the utterance ({features.shape[-1]})")
    value = float(features.max()) - 2.0 if floor and features.size else 0.0
    return np.pad(features, ((0, 0), (0, frames - features.shape[-1])), constant_values=value)


@dataclass(frozen=True)
class NoiseSubtraction:
    """Noise taken out of the mel power spectrum before Whisper's log: each band's noise power is its
    ``percentile`` over the utterance's frames (the frames between words and in the VAD's padding hold
    noise only), ``over`` times it is subtracted, and at least ``floor`` of the band's power is kept.

    In the mel domain rather than per FFT bin: a mel band averages many bins, so the subtraction does not
    leave the "musical noise" of bin-wise spectral subtraction, which costs Whisper more than the noise it
    removes (spectral subtraction, noisereduce's spectral gating and RNNoise on the waveform all raised
    the word errors on the development set). Chosen on bench/voice_dev.py's development set: ``over`` 1-3,
    ``floor`` 0.05-0.2 and the 5th-20th percentile all gave about the same; on clean audio the subtraction
    changes nothing: only a band whose noise is within ``audible_db`` of the utterance's loudest mel value
    is touched (Whisper's log-mel shows 80 dB below the maximum). Clean speech's bands are quieter than
    that between words (espeak-ng's: 67 dB and more below), so its features stay faster-whisper's bit for
    bit; without that gate a change of a few thousandths in the quiet frames of a clean "four one five five
    five five" once made tiny.en hear a fifth "five". White noise 20 dB below the speech is 40-50 dB below
    the maximum in ~90 % of the bands."""

    over: float = 2.0
    floor: float = 0.1
    percentile: float = 10.0
    audible_db: float = 60.0

    def apply(self, mel_power: np.ndarray) -> np.ndarray:
        """``mel_power`` (n_mels, frames) with the noise of each band where it is audible subtracted."""
        if mel_power.shape[-1] == 0:
            return mel_power
        noise = np.percentile(mel_power, self.percentile, axis=-1, keepdims=True)
        noise[noise < mel_power.max() * 10 ** (-self.audible_db / 10)] = 0.0
        cleaned: np.ndarray = np.maximum(mel_power - self.over * noise, self.floor * mel_power)
        return cleaned


#: What the decoders use (``None``: faster-whisper's features unchanged).
NOISE_SUBTRACTION = NoiseSubtraction()


def log_mel(extractor: Any, samples: np.ndarray, noise: NoiseSubtraction | None) -> np.ndarray:
    """faster-whisper's log-mel features of ``samples`` (its ``FeatureExtractor.__call__``: 160 samples of
    padding, a Hann window, the power spectrum through the mel filters, log10, 8 units of dynamic range,
    scaled), with ``noise`` subtracted from the mel power first; ``(n_mels, frames)``."""
    waveform = np.pad(np.asarray(samples, dtype=np.float32), (0, 160))
    window = np.hanning(extractor.n_fft + 1)[:-1].astype(np.float32)
    stft = extractor.stft(waveform, extractor.n_fft, extractor.hop_length, window=window, return_complex=True)
    mel = extractor.mel_filters @ (np.abs(stft.astype(np.complex64)[..., :-1]) ** 2)
    if noise is not None:
        mel = noise.apply(mel)
    log_spec = np.log10(np.clip(mel, a_min=1e-10, a_max=None))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    features: np.ndarray = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return features


@dataclass(frozen=True)
class DecodedWord:
    """A word with its leading space, its times in seconds from the utterance's start, its probability."""

    word: str
    start: float
    end: float
    probability: float


@dataclass
class _Hypothesis:
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


COMPRESSION_LIMIT = 2.4
LOGPROB_FLOOR = -1.0
NO_SPEECH = 0.6


class WindowedDecoder:
    """Decodes utterances (16 kHz float samples, at most 30 s each) with a faster-whisper ``WhisperModel``'s
    CTranslate2 model, feature extractor and tokenizer."""

    def __init__(self, model: Any, policy: WindowPolicy, beam_size: int = 1,
                 temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                 noise: NoiseSubtraction | None = NOISE_SUBTRACTION) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model, self.policy = model, policy
        self.beam_size, self.temperatures, self.noise = beam_size, temperatures, noise
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        self.suppress = list(get_suppressed_tokens(self.tokenizer, [-1]) or ())

    def prompt_tokens(self, prompt: str | None) -> list[int]:
        """Whisper's decoder prompt: the initial prompt as previous text, the start of transcript, English,
        transcribe, no timestamps (the utterance is one segment)."""
        tokens: list[int] = []
        if prompt:
            previous = self.tokenizer.encode(" " + prompt.strip())[-(self.model.max_length // 2 - 1):]
            tokens = [self.tokenizer.sot_prev, *previous]
        return tokens + [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]

    def features(self, samples: np.ndarray) -> np.ndarray:
        """The utterance's log-mel features (noise subtracted), ``(n_mels, content frames)``."""
        mel = log_mel(self.model.feature_extractor, samples, self.noise)
        return mel[:, :-1]  # faster-whisper's content frames: the last frame is the padding's

    def decode(self, utterances: list[np.ndarray], prompt: str | None) -> list[list[DecodedWord]]:
        """The words of each utterance, decoded together (a batch of one is decoded by the same code)."""
        if not utterances:
            return []
        mels = [self.features(samples) for samples in utterances]
        frames = max(self.policy.frames(mel.shape[-1]) for mel in mels)
        encoded = self._encode(np.stack([padded(mel, frames, self.policy.floor) for mel in mels]))
        tokens = self.prompt_tokens(prompt)
        results = self._generate(encoded, [tokens] * len(mels), self.temperatures[0])
        single: np.ndarray | None = None
        for index, hypothesis in enumerate(results):
            if not self._needs_fallback(hypothesis) and not self._loops(hypothesis):
                continue
            if single is None:
                single = np.asarray(encoded)
            alone = self._storage(single[index:index + 1])
            if self._needs_fallback(hypothesis):
                hypothesis = self._fallback(alone, tokens, hypothesis)
            if prompt and self._loops(hypothesis):
                # The prompt sometimes sends tiny.en into a loop ("a little bit of a little bit of …").
                hypothesis = self._fallback(alone, self.prompt_tokens(None), None)
            results[index] = hypothesis
        kept = [[] if _silence(h) else [t for t in h.tokens if t < self.tokenizer.eot] for h in results]
        return self._words(encoded, kept, [mel.shape[-1] for mel in mels], [len(s) / SAMPLE_RATE for s in utterances])

    def _encode(self, features: np.ndarray) -> Any:
        return self.model.model.encode(self._storage(features), to_cpu=False)

    @staticmethod
    def _storage(array: np.ndarray) -> Any:
        import ctranslate2

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(array, dtype=np.float32))

    def _generate(self, encoded: Any, prompts: list[list[int]], temperature: float) -> list[_Hypothesis]:
        sampling: dict[str, Any] = ({"beam_size": self.beam_size} if temperature == 0 else
                                    {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": temperature})
        results = self.model.model.generate(
            encoded, prompts, max_length=self.model.max_length, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self.suppress, **sampling)
        from faster_whisper.transcribe import get_compression_ratio

        out = []
        for result in results:
            tokens = list(result.sequences_ids[0])
            out.append(_Hypothesis(tokens, result.scores[0] * len(tokens) / (len(tokens) + 1), result.no_speech_prob,
                                   get_compression_ratio(self.tokenizer.decode(tokens).strip())))
        return out

    def _loops(self, hypothesis: _Hypothesis) -> bool:
        return has_repetition_loop(self.tokenizer.decode(hypothesis.tokens).split())

    @staticmethod
    def _needs_fallback(hypothesis: _Hypothesis) -> bool:
        if hypothesis.compression_ratio > COMPRESSION_LIMIT:
            return True
        return hypothesis.avg_logprob < LOGPROB_FLOOR and not _silence(hypothesis)

    def _fallback(self, encoded: Any, prompt: list[int], first: _Hypothesis | None) -> _Hypothesis:
        """faster-whisper's temperature fallback for one utterance (``first``: its greedy decode, already
        made): sample at each higher temperature until a decode passes; if none does, the most probable of
        those not too compressible (or of all)."""
        tried = [first] if first is not None else []
        for temperature in self.temperatures[len(tried):]:
            hypothesis = self._generate(encoded, [prompt], temperature)[0]
            if not self._needs_fallback(hypothesis):
                return hypothesis
            tried.append(hypothesis)
        usable = [h for h in tried if h.compression_ratio <= COMPRESSION_LIMIT] or tried
        return max(usable, key=lambda h: h.avg_logprob)

    def _words(self, encoded: Any, tokens: list[list[int]], frames: list[int],
               durations: list[float]) -> list[list[DecodedWord]]:
        """Word timestamps by faster-whisper's cross-attention alignment over each utterance's own frames."""
        segments: list[list[dict[str, Any]]] = [[{"tokens": t, "seek": 0, "start": 0.0, "end": duration}]
                    for t, duration in zip(tokens, durations, strict=True)]
        if any(tokens):
            self.model.add_word_timestamps(segments, self.tokenizer, encoded, frames, "\"'“¿([{-",
                                           "\"'.。,，!！?？:：”)]}、", 0.0)
        out = []
        for segment, duration in zip(segments, durations, strict=True):
            words = segment[0].get("words") or []
            out.append([DecodedWord(w["word"], min(max(0.0, float(w["start"])), duration),
                                    min(max(0.0, float(w["end"])), duration), float(w["probability"])) for w in words])
        return out


def _silence(hypothesis: _Hypothesis) -> bool:
    """What faster-whisper skips as no speech."""
    return hypothesis.no_speech_prob > NO_SPEECH and hypothesis.avg_logprob < LOGPROB_FLOOR


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
