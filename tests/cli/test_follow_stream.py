"""--follow reads the segment stream: the same bytes as polling, and polling where there is no stream."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from livelens.cli.push import follow_stream
from tests.cli.conftest import LIVELENS, client_env, v1_args, v2_args
from tests.cli.test_follow import start_replay
from tests.e2e.conftest import Server, list_v2_all, start_chat


def _follow(server: Server, args: list[str], **env: str) -> str:
    result = subprocess.run([LIVELENS, *args, "--follow"], capture_output=True, text=True, timeout=120,
                            env=client_env(server, **env))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def completed_chat(server: Server, instance_id: str) -> str:
    replay, contact_id = start_replay(server, instance_id, "chat_delivery.json", "30")
    assert _follow(server, v2_args(instance_id, contact_id))  # followed live, to the end, through the stream
    replay.wait(timeout=60)
    return contact_id


@pytest.mark.parametrize("output", ["json", "text", "table", "yaml"])
def test_streamed_follow_prints_what_polling_prints(server: Server, instance_id: str, completed_chat: str,
                                                    output: str) -> None:
    args = [*v2_args(instance_id, completed_chat), "--output", output]
    streamed = _follow(server, args)
    assert streamed and streamed == _follow(server, args, LIVELENS_FOLLOW="poll")


def test_streamed_v1_follow_with_a_query_prints_what_polling_prints(server: Server, instance_id: str) -> None:
    replay, contact_id = start_replay(server, instance_id, "voice_cancellation.jsonl", "40")
    args = [*v1_args(instance_id, contact_id), "--output", "text", "--query", "Segments[].Transcript.Content"]
    live = _follow(server, args)
    replay.wait(timeout=60)
    assert live and live == _follow(server, args) == _follow(server, args, LIVELENS_FOLLOW="poll")


def test_follow_uses_the_stream_and_polls_only_where_there_is_none(
    server: Server, connect: Any, participant: Any, instance_id: str
) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="Hello there", ConnectionToken=chat.customer)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    params = {"InstanceId": instance_id, "ContactId": chat.contact_id, "OutputType": "Raw"}
    polled: list[Any] = []
    emitted: list[dict[str, Any]] = []
    follow_stream(connect, "ListRealtimeContactAnalysisSegmentsV2", params, lambda s, p: emitted.append(s),
                  starting_token=None, verify=None, poll=lambda p, t: polled.append(p))
    assert not polled  # the stream served it, to the end
    assert emitted == list_v2_all(connect, instance_id, chat.contact_id, "Raw")[0]
    # A server without the stream answers 404 (here: a path prefix nothing lives under): polling instead.
    elsewhere = server.client("connect", endpoint_url=server.url + "/no-stream-here")
    follow_stream(elsewhere, "ListRealtimeContactAnalysisSegmentsV2", params, lambda s, p: emitted.append(s),
                  starting_token=None, verify=None, poll=lambda p, t: polled.append(p))
    assert polled == [params]
    # A ListFilter cannot be streamed: polling.
    filtered = {**params, "ListFilter": {"Categories": {"MatchType": "MATCH_ANY", "Categories": ["x"]}}}
    follow_stream(connect, "ListRealtimeContactAnalysisSegmentsV2", filtered, lambda s, p: None,
                  starting_token=None, verify=None, poll=lambda p, t: polled.append(p))
    assert polled[-1] == filtered
