"""Where the word errors of 8 kHz + noise come from, on bench/voice_dev.py's development material only.

For each dev item in the 8 kHz band, clean and with white noise (bench/voice_dev.py's seed):

* **cuts**: the utterances the VAD cuts from the noisy audio vs those it cuts from the clean audio (the
  *oracle cuts*: same sample positions, since the noise is added sample by sample); the noisy audio is
  decoded through both, so the difference is what segmentation costs;
* **errors by kind**: substitutions, deletions and insertions of each decode against the reference;
* **the decoder's gates** per utterance: the greedy decode's average log-probability, no-speech
  probability and compression ratio; whether the temperature fallback ran, whether the no-speech skip
  dropped the utterance, how many words the hallucinated-tail filter dropped; and the same noisy
  utterance decoded greedily with every gate off (what the gates cost or save).

    python bench/voice_diag.py [--model tiny.en] [--noise-subtraction on|off]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.voice import words  # noqa: E402
from bench.voice_dev import band, dev_items, references  # noqa: E402


def edit_kinds(reference: str, hypothesis: str) -> dict[str, int]:
    """Substitutions, deletions and insertions of the minimum edit alignment (ties: substitution first)."""
    ref, hyp = words(reference), words(hypothesis)
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=int)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]), cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    kinds = {"sub": 0, "del": 0, "ins": 0}
    i, j = n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            kinds["sub"] += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            kinds["del"] += 1
            i -= 1
        else:
            kinds["ins"] += 1
            j -= 1
    kinds["errors"] = int(cost[n, m])
    kinds["words"] = n
    return kinds


def cut(channel: np.ndarray, heard: np.ndarray, settings: Any) -> list[tuple[int, int, int, int]]:
    """(begin ms, end ms, first sample, last sample) of the utterances the VAD cuts from ``heard``; the
    samples are positions in ``channel`` (same length), so another signal can be decoded through them."""
    from livelens.voice.vad import ChannelCutter

    cutter = ChannelCutter(settings)
    spans = []
    for utterance in cutter.feed(heard) + cutter.flush():
        first = utterance.audio_start_ms * 16
        spans.append((utterance.begin_ms, utterance.end_ms, first, first + len(utterance.samples)))
    return spans


def gated_decode(recognizer: Any, samples: np.ndarray) -> dict[str, Any]:
    """One utterance through the shipped path, and its greedy decode's gate values, and the greedy text
    with no gate applied (no fallback, no no-speech skip, no tail filter)."""
    from livelens.voice.decoder import _silence, padded

    decoder = recognizer.decoder
    shipped = recognizer.transcribe(samples).text
    mel = decoder.features(samples)
    encoded = decoder._encode(padded(mel, decoder.policy.frames(mel.shape[-1]))[None])
    greedy = decoder._generate(encoded, [decoder.prompt_tokens(recognizer._prompt)], 0.0)[0]
    raw = decoder.tokenizer.decode([t for t in greedy.tokens if t < decoder.tokenizer.eot]).strip()
    return {"shipped": shipped, "greedy_raw": raw, "avg_logprob": round(greedy.avg_logprob, 3),
            "no_speech_prob": round(greedy.no_speech_prob, 3), "compression": round(greedy.compression_ratio, 2),
            "fallback": decoder._needs_fallback(greedy) or decoder._loops(greedy), "skipped": _silence(greedy),
            "tail_dropped": len(raw.split()) - len(shipped.split()) if not _silence(greedy) else 0}


def main() -> None:
    from livelens.voice.audio import to_model_rate
    from livelens.voice.recognizer import DecodeOptions, WhisperRecognizer
    from livelens.voice.vad import VadSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--window", default="utterance")
    parser.add_argument("--noise-subtraction", default="on", choices=("on", "off"),
                        help="the decoder's mel-domain noise subtraction (off: as before the fourth pass)")
    parser.add_argument("--refs", default=str(Path(__file__).with_name("voice_dev_references.json")))
    parser.add_argument("--out", default=str(Path(__file__).with_name("voice_diag_results.json")))
    args = parser.parse_args()
    import ctranslate2

    ctranslate2.set_random_seed(17)
    options = DecodeOptions(noise_subtraction=args.noise_subtraction == "on")
    recognizer = WhisperRecognizer(cpu_threads=1, workers=1, model=args.model, options=options, window=args.window)
    settings = VadSettings()
    report: dict[str, Any] = {}
    totals: dict[str, dict[str, int]] = {}
    for kind, samples, reference, source in dev_items(references(Path(args.refs))):
        clean_pcm, _ = band(samples, source, "8k")
        noisy_pcm, _ = band(samples, source, "8k+noise")
        clean = to_model_rate(clean_pcm.astype(np.float32) / 32768.0, 8000)
        noisy = to_model_rate(noisy_pcm.astype(np.float32) / 32768.0, 8000)
        oracle = cut(clean, clean, settings)
        heard = cut(noisy, noisy, settings)
        runs = {"clean 8k, clean cuts": (clean, oracle), "noisy, oracle cuts": (noisy, oracle),
                "noisy, noisy cuts": (noisy, heard)}
        entry: dict[str, Any] = {"oracle_cuts": [c[:2] for c in oracle], "noisy_cuts": [c[:2] for c in heard]}
        for name, (signal, spans) in runs.items():
            decoded = [gated_decode(recognizer, signal[a:b]) for _, _, a, b in spans]
            text = " ".join(d["shipped"] for d in decoded)
            raw = " ".join(d["greedy_raw"] for d in decoded)
            kinds, raw_kinds = edit_kinds(reference, text), edit_kinds(reference, raw)
            entry[name] = {"kinds": kinds, "greedy_no_gates": raw_kinds, "utterances": decoded}
            for label, value in ((name, kinds), (name + " [greedy, no gates]", raw_kinds)):
                bucket = totals.setdefault(f"{kind}: {label}", {"sub": 0, "del": 0, "ins": 0, "errors": 0, "words": 0})
                for key in bucket:
                    bucket[key] += value[key]
            gates = sum(d["fallback"] for d in decoded), sum(d["skipped"] for d in decoded)
            print(f"{kind:6s} {Path(str(source)).name if source else '':22s} {name:22s} cuts {len(spans):2d} "
                  f"S/D/I {kinds['sub']:2d}/{kinds['del']:2d}/{kinds['ins']:2d} of {kinds['words']:3d}; "
                  f"no gates {raw_kinds['errors']:2d}; fallback {gates[0]} skipped {gates[1]}", flush=True)
        report[f"{kind} {source.name if source else ''}".strip()] = entry
    print()
    for label, bucket in totals.items():
        print(f"{label:55s} S {bucket['sub']:3d} D {bucket['del']:3d} I {bucket['ins']:3d} = {bucket['errors']:3d} "
              f"of {bucket['words']:3d} ({bucket['errors'] / bucket['words']:.3f})")
    Path(args.out).write_text(json.dumps({"totals": totals, "items": report}, indent=2))


if __name__ == "__main__":
    main()
