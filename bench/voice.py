"""Voice benchmarks (needs the voice and bench extras, espeak-ng and sox):

* WER of the audio path (Silero VAD cuts, Whisper decodes, as the audio WebSocket does) on real
  recordings nobody here made (moonshine-voice's beckett.wav and two_cities.wav, whose texts are known)
  and on espeak-ng-synthesised support sentences; at 16 kHz, 8 kHz, and 8 kHz with white noise (SNR
  20 dB); each model of ``--models`` side by side in one run;
* real-time factor of one stream: decode CPU seconds per second of audio (``time.process_time``, one
  decoding thread: survives a shared machine) and wall seconds per second of audio;
* N calls streamed at real speed into one `livelens serve` per decoding mode of ``--modes`` (``batch8``:
  utterances of all streams batched, ``batch1``: one by one): end of utterance → transcript stored (the
  socket's answer) and → analysed segment visible in ListRealtimeContactAnalysisSegments, p50/p99;
  speech start → first partial p50; the server's CPU seconds per second of call audio (from /proc).

    python bench/voice.py [--models tiny.en,base] [--windows utterance,full] [--calls 1,4,8] [--modes batch8,batch1]
                          [--out ...]

``--windows`` compares the encoder windows of the ``voice_window`` setting side by side in every part.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import speak  # noqa: E402

BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was "
    "the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything before "
    "us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other way, "
    "in short, the period was so far like the present period, that some of its noisiest authorities insisted on "
    "its being received, for good or for evil, in the superlative degree of comparison only."
)
SUPPORT = [
    "Thank you for calling, how can I help you today?",
    "My internet keeps dropping every evening and I am really frustrated.",
    "I am sorry to hear that, let me check your line.",
    "I was charged twice for my last bill and I would like a refund.",
    "I have issued the refund and you will see it in three to five days.",
    "Can you tell me when the technician will arrive?",
    "The technician will visit tomorrow morning between eight and noon.",
    "Great, thank you so much for your help.",
]
CALL = ROOT / "examples" / "call.wav"


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1], len(ref)


def moonshine_assets() -> Path:
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install 'livelens[bench]' (moonshine-voice ships the real recordings)")
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


def load(path: Path, rate: int) -> np.ndarray:
    """A recording as int16 mono at ``rate`` (sox resamples)."""
    raw = subprocess.run(["sox", str(path), "-r", str(rate), "-b", "16", "-c", "1", "-t", "raw", "-e", "signed",
                          "-L", "-D", "-", "vol", "0.9"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2")


def telephone(samples16k: np.ndarray, source: Path | None, snr_db: float = 20.0) -> np.ndarray:
    """8 kHz with white noise at ``snr_db`` (deterministic)."""
    if source is not None:
        low = load(source, 8000).astype(np.float64)
    else:
        low = samples16k[::2].astype(np.float64)  # synthetic speech is already band-limited by espeak
    power = np.mean(low[np.abs(low) > 50] ** 2)
    noise = np.random.default_rng(7).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(low))
    return np.clip(low + noise, -32768, 32767).astype("<i2")


def transcribe(samples: np.ndarray, rate: int, model: str, window: str) -> tuple[str, float, float, float]:
    """(text, decode CPU seconds, decode wall seconds, audio seconds) through the VAD and recogniser of the
    audio WebSocket (one utterance at a time, one core)."""
    from livelens.voice.audio import AudioFormat, split_channels
    from livelens.voice.recognizer import WhisperRecognizer
    from livelens.voice.vad import ChannelCutter

    recognizer = (_recognizers.get((model, window))
                  or _recognizers.setdefault((model, window), WhisperRecognizer(1, 1, model, window=window)))
    channel = split_channels(samples.astype("<i2").tobytes(), AudioFormat(rate, 1))[0]
    cutter = ChannelCutter()
    texts = []
    cpu, wall = time.process_time(), time.perf_counter()
    for utterance in cutter.feed(channel) + cutter.flush():
        texts.append(recognizer.transcribe(utterance.samples).text)
    return " ".join(texts), time.process_time() - cpu, time.perf_counter() - wall, len(samples) / rate


_recognizers: dict[tuple[str, str], Any] = {}


def wer_table(models: list[str], windows: list[str]) -> dict[str, Any]:
    assets = moonshine_assets()
    silence = np.zeros(8000, dtype=np.int16)
    support16 = np.concatenate([np.concatenate([speak(text, 16000, dither=False), silence]) for text in SUPPORT])
    sets = {
        "real: moonshine-voice beckett + two_cities": [
            (assets / "beckett.wav", BECKETT), (assets / "two_cities.wav", TWO_CITIES)],
        "espeak-ng support sentences": [(None, " ".join(SUPPORT))],
    }
    results: dict[str, Any] = {}
    for name, items in sets.items():
        for band in ("16 kHz", "8 kHz", "8 kHz + noise (SNR 20 dB)"):
            for model, window in [(m, w) for m in models for w in windows]:
                edits = total = 0
                cpu = wall = audio = 0.0
                hypotheses = []
                for source, reference in items:
                    samples = load(source, 16000) if source is not None else support16
                    rate = 16000
                    if band == "8 kHz":
                        samples, rate = (load(source, 8000) if source is not None else samples[::2]), 8000
                    elif band.startswith("8"):
                        samples, rate = telephone(samples, source), 8000
                    text, cpu_s, wall_s, length = transcribe(samples, rate, model, window)
                    e, n = wer(reference, text)
                    edits, total, audio = edits + e, total + n, audio + length
                    cpu, wall = cpu + cpu_s, wall + wall_s
                    hypotheses.append(text)
                results[f"{model} {window}: {name}, {band}"] = {
                    "wer": round(edits / total, 3), "words": total, "cpu_rtf": round(cpu / audio, 3),
                    "wall_rtf": round(wall / audio, 3), "audio_s": round(audio, 1), "hypotheses": hypotheses}
                print(f"{model:8s} {window:9s} {name:45s} {band:26s} WER {edits / total:.3f} ({total} words)  "
                      f"CPU-RTF {cpu / audio:.3f}  wall RTF {wall / audio:.3f}", flush=True)
    return results


def decode_cost(models: list[str], windows: list[str], batches: list[int]) -> dict[str, Any]:
    """CPU seconds to decode the same utterances one by one and in batches of each size (process CPU
    time, all threads: what a shared machine does not distort much). The utterances: examples/call.wav's
    and the espeak support sentences', cut by the VAD as the socket cuts them, 8 kHz upsampled."""
    from livelens.voice.audio import read_wav, split_channels
    from livelens.voice.recognizer import WhisperRecognizer
    from livelens.voice.vad import ChannelCutter

    fmt, pcm = read_wav(CALL)
    espeak = (np.concatenate([np.concatenate([speak(text, 16000, dither=False), np.zeros(8000, np.int16)])
                              for text in SUPPORT]).astype(np.float32) / 32768)
    utterances = []
    for channel in split_channels(pcm, fmt) + [espeak]:
        cutter = ChannelCutter()
        utterances += [u.samples for u in cutter.feed(channel) + cutter.flush()]
    speech_s = sum(len(u) for u in utterances) / 16000
    results: dict[str, Any] = {"utterances": len(utterances), "speech_s": round(speech_s, 1)}
    for model, window in [(m, w) for m in models for w in windows]:
        single = WhisperRecognizer(cpu_threads=1, workers=1, model=model, window=window)
        single.transcribe(utterances[0])
        started = time.process_time()
        for samples in utterances:
            single.transcribe(samples)
        one_by_one = time.process_time() - started
        row = {"one_by_one_cpu_s_per_speech_s": round(one_by_one / speech_s, 3)}
        batched = single  # one core either way: batching is compared, not threading
        for size in batches:
            started = time.process_time()
            for first in range(0, len(utterances), size):
                batched.transcribe_batch(utterances[first:first + size])
            cpu = time.process_time() - started
            row[f"batch{size}_cpu_s_per_speech_s"] = round(cpu / speech_s, 3)
            row[f"batch{size}_vs_one_by_one"] = round(one_by_one / cpu, 2)
        results[f"{model} {window}"] = row
        print(f"{model} {window}: decode CPU s per speech second {row} ({len(utterances)} utterances, "
              f"{speech_s:.0f} s)", flush=True)
    return results


def tree_cpu_seconds(root: int) -> tuple[float, float]:
    """User + system CPU seconds of process ``root`` (the server: HTTP, VAD, decoding) and of its live
    descendants (the analysis workers), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return times.get(root, 0.0), sum(times.get(pid, 0.0) for pid in tree - {root})


def concurrent_calls(counts: list[int], mode: str, model: str, partial_seconds: float,
                     redaction: str, window: str) -> dict[str, Any]:
    import boto3

    from livelens.voice.audio import read_wav
    from livelens.voice.client import presigned_audio_url, stream_pcm

    key, secret = "LLIABENCHVOICE000001", "bench-voice-secret"
    directory = Path(tempfile.mkdtemp(prefix="livelens-voice-bench-"))
    (directory / "credentials").write_text(f"{key} {secret}\n")
    batch = int(mode.removeprefix("batch"))
    env = {**os.environ, "LIVELENS_VOICE_BATCH": str(batch), "LIVELENS_VOICE_MODEL": model,
           "LIVELENS_VOICE_PARTIAL_SECONDS": str(partial_seconds), "LIVELENS_VOICE_WINDOW": window}
    server = subprocess.Popen([str(Path(sys.executable).parent / "livelens"), "serve", "--port", "0", "--db",
                               str(directory / "l.db"), "--credentials", str(directory / "credentials")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert server.stdout is not None
    url = ""
    for line in server.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            url = found.group(1)
            break
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # type: ignore[union-attr]
    results: dict[str, Any] = {}
    try:
        options = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": key,
                   "aws_secret_access_key": secret}
        connect, lens = boto3.client("connect", **options), boto3.client("connect-contact-lens", **options)
        instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias="voice-bench",
                                           InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"]
        time.sleep(8)  # the model warms up in the server
        idle_before = tree_cpu_seconds(server.pid)
        time.sleep(10)
        idle_after = tree_cpu_seconds(server.pid)
        results["idle_cpu_per_second"] = {"server": round((idle_after[0] - idle_before[0]) / 10, 3),
                                          "analysis_workers": round((idle_after[1] - idle_before[1]) / 10, 3)}
        print(f"{mode} {model} {window}: idle CPU s per second: {results['idle_cpu_per_second']}", flush=True)
        fmt, pcm = read_wav(CALL)
        for count in counts:
            stored: list[float] = []
            analysed: list[float] = []
            pending: dict[str, tuple[str, float]] = {}  # segment id -> (contact, end-of-utterance wall time)
            first_partials: dict[str, float] = {}  # utterance -> speech start → first partial, s
            lock = threading.Lock()
            done = threading.Event()

            # The threads below end within this iteration; the defaults bind this round's state to them.
            def call(lock: threading.Lock = lock, stored: list[float] = stored,
                     pending: dict[str, tuple[str, float]] = pending,
                     first_partials: dict[str, float] = first_partials) -> None:
                # partials are sent only for contacts that are not redacted (docs/voice.md)
                contact = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND",
                                                 Attributes={"livelens:redaction": redaction})["ContactId"]
                params = {"sample-rate": "8000", "number-of-channels": "2", "start-offset-millis": "0"}
                signed = presigned_audio_url(url, instance, contact, params, key, secret)
                started = time.time()

                def on_event(event: dict[str, Any]) -> None:
                    if "Transcript" not in event:
                        return
                    result = event["Transcript"]["Results"][0]
                    if result["IsPartial"]:
                        with lock:
                            if result["ResultId"] not in first_partials:
                                first_partials[result["ResultId"]] = time.time() - (started + result["StartTime"])
                        return
                    end = started + result["EndTime"]
                    with lock:
                        stored.append(time.time() - end)
                        pending[result["ResultId"]] = (contact, end)

                stream_pcm(signed, fmt, pcm, speed=1.0, on_event=on_event)

            def poll(lock: threading.Lock = lock, done: threading.Event = done, analysed: list[float] = analysed,
                     pending: dict[str, tuple[str, float]] = pending) -> None:
                while not (done.is_set() and not pending):
                    with lock:
                        contacts = {c for c, _ in pending.values()}
                    for contact in contacts:
                        page = lens.list_realtime_contact_analysis_segments(InstanceId=instance, ContactId=contact,
                                                                            MaxResults=100)
                        now = time.time()
                        for segment in page["Segments"]:
                            transcript = segment.get("Transcript")
                            if transcript and "Sentiment" in transcript:
                                with lock:
                                    found = pending.pop(transcript["Id"], None)
                                if found is not None:
                                    analysed.append(now - found[1])
                    time.sleep(0.1)

            poller = threading.Thread(target=poll, daemon=True)
            cpu_before, wall_before = tree_cpu_seconds(server.pid), time.time()
            poller.start()
            threads = [threading.Thread(target=call, daemon=True) for _ in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            done.set()
            poller.join(timeout=60)
            cpu_after = tree_cpu_seconds(server.pid)
            cpu, workers_cpu = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
            call_seconds = count * len(pcm) / fmt.frame_bytes / fmt.sample_rate
            results[str(count)] = {
                "server_cpu_s": round(cpu, 1), "analysis_workers_cpu_s": round(workers_cpu, 1),
                "wall_s": round(time.time() - wall_before, 1),
                "server_cpu_per_call_second": round(cpu / call_seconds, 3),
                "workers_cpu_per_call_second": round(workers_cpu / call_seconds, 3),
                "utterances": len(stored),
                "stored_p50_s": round(float(np.percentile(stored, 50)), 2) if stored else None,
                "stored_p99_s": round(float(np.percentile(stored, 99)), 2) if stored else None,
                "analysed_p50_s": round(float(np.percentile(analysed, 50)), 2) if analysed else None,
                "analysed_p99_s": round(float(np.percentile(analysed, 99)), 2) if analysed else None,
                "first_partial_p50_s": (round(float(np.percentile(list(first_partials.values()), 50)), 2)
                                        if first_partials else None),
                "partials": len(first_partials),
            }
            print(f"{mode} {model} {window}: {count:3d} concurrent calls: CPU s per call second: server "
                  f"{cpu / call_seconds:.3f}, analysis workers {workers_cpu / call_seconds:.3f}; "
                  f"end of utterance → stored p50/p99 "
                  f"{results[str(count)]['stored_p50_s']}/{results[str(count)]['stored_p99_s']} s, → analysed "
                  f"p50/p99 {results[str(count)]['analysed_p50_s']}/{results[str(count)]['analysed_p99_s']} s "
                  f"({len(stored)} utterances); speech start → first partial p50 "
                  f"{results[str(count)]['first_partial_p50_s']} s ({len(first_partials)} utterances with one)",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", default="1,4,8")
    parser.add_argument("--models", default="tiny.en,base", help="speech models compared in the WER table")
    parser.add_argument("--modes", default="batch8,batch1", help="decoding modes of the concurrent calls")
    parser.add_argument("--windows", default="utterance", help="encoder windows (voice_window) compared")
    parser.add_argument("--call-model", default="tiny.en", help="speech model of the concurrent calls")
    parser.add_argument("--partial-seconds", type=float, default=1.0, help="voice_partial_seconds of the server")
    parser.add_argument("--redaction", default="None", help="the calls' redaction (None: partials are sent)")
    parser.add_argument("--skip-wer", action="store_true")
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--batches", default="4,8", help="batch sizes of the decode-cost comparison")
    parser.add_argument("--out", default=str(Path(__file__).with_name("voice_results.json")))
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average_at_start": list(os.getloadavg())}
    if not args.skip_wer:
        results["wer"] = wer_table(args.models.split(","), args.windows.split(","))
        Path(args.out).write_text(json.dumps(results, indent=2))
    if not args.skip_cost:
        results["decode_cost"] = decode_cost(args.models.split(","), args.windows.split(","),
                                             [int(n) for n in args.batches.split(",")])
        Path(args.out).write_text(json.dumps(results, indent=2))
    if not args.skip_calls:
        results["concurrent"] = {
            f"{mode} {args.call_model} {window}": concurrent_calls(
                [int(n) for n in args.calls.split(",") if n], mode, args.call_model, args.partial_seconds,
                args.redaction, window)
            for window in args.windows.split(",") for mode in args.modes.split(",")}
    results["load_average_at_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
