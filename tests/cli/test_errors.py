"""Errors a person can act on: one line, an exit status, no traceback (unless --debug)."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import Run, v1_args, v2_args


def one_line(result, status: int, *mentions: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in mentions:
        assert text in result.stderr, result.stderr


def test_unreachable_endpoint(livelens: Run, instance_id: str) -> None:
    result = livelens(*v1_args(instance_id, "c"), "--endpoint-url", "http://127.0.0.1:9")
    one_line(result, 255, "Could not connect to the endpoint URL", "livelens serve")
    result = livelens("watch", "--instance-id", instance_id, "--contact-id", "c", env={"LIVELENS_ENDPOINT":
                                                                                      "http://127.0.0.1:9"})
    one_line(result, 255, "Could not connect to the endpoint URL")


def test_bad_credentials(livelens: Run, instance_id: str, voice_contact: str) -> None:
    one_line(livelens(*v1_args(instance_id, voice_contact), env={"AWS_SECRET_ACCESS_KEY": "wrong"}), 254,
             "(InvalidSignatureException)")
    one_line(livelens(*v1_args(instance_id, voice_contact), env={"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000"}), 254,
             "(UnrecognizedClientException)")
    one_line(livelens(*v1_args(instance_id, voice_contact), env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}),
             253, "Unable to locate credentials")
    one_line(livelens(*v1_args(instance_id, voice_contact), "--profile", "nobody"), 253, "nobody")


def test_unknown_contact(livelens: Run, aws: Run, instance_id: str) -> None:
    mine = livelens(*v2_args(instance_id, "no-such-contact"))
    one_line(mine, 254, "(ResourceNotFoundException)")
    theirs = aws(*v2_args(instance_id, "no-such-contact"))
    # The aws CLI's own message, on one line (botocore versions differ on the retry note).
    def note(text: str) -> str:
        return re.sub(r" \(reached max retries: \d+\)", "", text.strip())

    assert note(theirs.stderr) == note(mine.stderr)
    one_line(livelens("watch", "--instance-id", instance_id, "--contact-id", "no-such-contact"), 254,
             "(ResourceNotFoundException)")


def test_wrong_channel(livelens: Run, instance_id: str, chat_contact: str) -> None:
    one_line(livelens(*v1_args(instance_id, chat_contact)), 254, "(InvalidRequestException)", "V2")


@pytest.mark.parametrize(("extra", "mention"), [
    (["--bogus"], "unknown options: --bogus"),
    (["--output", "xml"], "invalid choice: 'xml'"),
    (["--max-results", "0"], "MaxResults"),
    (["--max-results", "many"], "invalid parameter value"),
    (["--cli-input-json", "{not json"], "Invalid JSON"),
])
def test_bad_options(livelens: Run, instance_id: str, voice_contact: str, extra: list[str], mention: str) -> None:
    one_line(livelens(*v1_args(instance_id, voice_contact), *extra), 252, mention)


def test_missing_arguments_and_operation(livelens: Run) -> None:
    one_line(livelens("connect-contact-lens", "list-realtime-contact-analysis-segments"), 252,
             "the following arguments are required: --instance-id, --contact-id")
    one_line(livelens("connect-contact-lens", "list-segments"), 252, "invalid choice: 'list-segments'")


def test_debug_shows_the_traceback(livelens: Run, instance_id: str) -> None:
    result = livelens(*v1_args(instance_id, "c"), "--endpoint-url", "http://127.0.0.1:9", "--debug")
    assert result.returncode == 255
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("livelens: error: Could not connect")
