"""--follow: each segment printed once, as it arrives, until the analysis is over; Ctrl-C leaves cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from typing import Any

from tests.cli.conftest import EXAMPLES, LIVELENS, Run, client_env, v1_args, v2_args, wait_completed
from tests.e2e.conftest import Server, start_chat


def start_replay(server: Server, instance_id: str, file: str, speed: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([LIVELENS, "replay", str(EXAMPLES / file), "--instance-id", instance_id,
                                "--speed", speed, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=client_env(server))
    assert process.stdout is not None
    contact_id = process.stdout.readline().strip()
    assert contact_id, process.stderr.read() if process.stderr else ""
    return process, contact_id


def follow(server: Server, args: list[str]) -> tuple[list[tuple[float, str]], subprocess.CompletedProcess[str]]:
    process = subprocess.Popen([LIVELENS, *args, "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=client_env(server))
    assert process.stdout is not None and process.stderr is not None
    lines = [(time.monotonic(), line) for line in process.stdout]
    process.wait(timeout=90)
    return lines, subprocess.CompletedProcess(args, process.returncode, "", process.stderr.read())


def test_follow_chat_prints_each_segment_once_until_completed(server: Server, aws: Run, instance_id: str) -> None:
    # The delivery chat lasts 58 s; at speed 6 it takes about 10 s.
    replay, contact_id = start_replay(server, instance_id, "chat_delivery.json", "6")
    replay_finished: list[float] = []

    def wait_for_replay() -> None:
        replay.wait(timeout=90)
        replay_finished.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_replay, daemon=True)
    waiter.start()
    lines, result = follow(server, v2_args(instance_id, contact_id))
    waiter.join(timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = [json.loads(line) for _, line in lines]
    final = wait_completed(aws, v2_args(instance_id, contact_id))
    assert printed == final["Segments"]  # every segment, in order, none twice
    transcripts = [(t, s) for (t, _), s in zip(lines, printed, strict=True) if "Transcript" in s]
    assert len(transcripts) == 9
    # Turn by turn: the first turn was printed while the conversation was still going, not all at the end
    # (a bound on the order of events, not on how fast analysis is on a busy machine).
    assert replay_finished and transcripts[0][0] < replay_finished[0]
    assert "PostContactSummary" in printed[-1]


def test_follow_voice_with_query_and_text(server: Server, aws: Run, instance_id: str) -> None:
    replay, contact_id = start_replay(server, instance_id, "voice_cancellation.jsonl", "20")
    lines, result = follow(server, [*v1_args(instance_id, contact_id), "--output", "text", "--query",
                                    "Segments[].Transcript.Content"])
    replay.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    final = wait_completed(aws, v1_args(instance_id, contact_id))
    assert [line.rstrip("\n") for _, line in lines] == [
        s["Transcript"]["Content"] for s in final["Segments"] if "Transcript" in s]


def test_follow_ctrl_c_exits_cleanly(server: Server, connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="Hi there", ConnectionToken=chat.customer)
    process = subprocess.Popen([LIVELENS, *v2_args(instance_id, chat.contact_id), "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env(server))
    assert process.stdout is not None
    first = process.stdout.readline()
    assert json.loads(first)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in err and err == ""
    participant.disconnect_participant(ConnectionToken=chat.customer)
