from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from livelens.analysis import AnalysedTurn, Pipeline, Turn, load_pipeline
from livelens.analysis.summary import extractive_summary, third_person

CONVERSATION = [
    ("CUSTOMER", "Hi. I'm calling because I was charged twice for my order."),
    ("AGENT", "I'm sorry about that. Can I have your order number?"),
    ("CUSTOMER", "Sure, it's 12345 and my email is maria@example.com."),
    ("AGENT", "Thanks. I have issued a refund for the duplicate charge. You will receive it within 5 business days."),
    ("CUSTOMER", "Perfect, thank you so much!"),
]


@pytest.fixture(scope="module")
def analysed(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> list[AnalysedTurn]:
    out = []
    for role, text in CONVERSATION:
        turn = make_turn(text, role=role)
        out.append(AnalysedTurn(turn, pipeline.analyze(turn)))
    return out


def test_extractive_summary_has_reason_action_outcome_follow_up(
    pipeline: Pipeline, analysed: list[AnalysedTurn]
) -> None:
    summary = pipeline.summarize(analysed, max_chars=1762)
    assert summary.status == "COMPLETED" and summary.failure_code is None
    content = summary.content or ""
    assert "charged twice" in content
    assert "The agent has issued a refund" in content
    assert "accepted the resolution" in content
    assert "within 5 business days" in content
    assert "maria@example.com" not in content


def test_extractive_summary_structure_in_the_third_person(pipeline: Pipeline, analysed: list[AnalysedTurn]) -> None:
    content = pipeline.summarize(analysed, max_chars=1762).content or ""
    # Reason, action, outcome, follow-up, in that order; every sentence names its party.
    parts = ("charged twice", "The agent has issued a refund", "accepted the resolution", "within 5 business days")
    customer, agent, outcome, follow_up = (content.index(p) for p in parts)
    assert customer < agent < outcome < follow_up
    assert all(s.startswith(("The customer", "The agent")) for s in re.split(r"(?<=\.) ", content))
    assert "the customer was charged twice for their order" in content
    assert "The customer will receive it within 5 business days" in content
    assert not re.search(r"\b(?:I|my|you|your)\b", content)


@pytest.mark.parametrize(
    ("sentence", "role", "retold"),
    [
        (
            "I'm calling because my card was declined.",
            "CUSTOMER",
            "the customer is calling because their card was declined.",
        ),
        ("I want to cancel my order.", "CUSTOMER", "the customer wants to cancel their order."),
        ("I ' Ve been having trouble with you.", "CUSTOMER", "the customer has been having trouble with the agent."),
        ("I have reset your password.", "AGENT", "the agent has reset the customer's password."),
        ("You'll get an email from me.", "AGENT", "the customer will get an email from the agent."),
        # An adverb between the subject and its verb; "would like"; "you" as a subject and as an object.
        ("I really want to learn something.", "CUSTOMER", "the customer really wants to learn something."),
        ("I'd like to buy a new phone.", "CUSTOMER", "the customer wants to buy a new phone."),
        ("If you don't mind, I'll help you get it.", "AGENT",
         "If the customer doesn't mind, the agent will help the customer get it."),
    ],
)
def test_third_person(sentence: str, role: str, retold: str) -> None:
    speaker, listener = ("the customer", "the agent") if role == "CUSTOMER" else ("the agent", "the customer")
    assert third_person(sentence, speaker, listener) == retold


def test_word_budget_bounds_the_selected_sentences(make_turn: Callable[..., Turn], pipeline: Pipeline) -> None:
    long_agent = " ".join(
        f"We have updated record number {i} and the change will show on the account shortly." for i in range(8)
    )
    turns = [
        make_turn("Hi, I need help because my internet keeps dropping every evening.", role="CUSTOMER"),
        make_turn(long_agent, role="AGENT"),
        make_turn("Okay, thanks.", role="CUSTOMER"),
    ]
    analysed = [AnalysedTurn(t, pipeline.analyze(t)) for t in turns]
    short = extractive_summary(analysed, 1762, word_budget=20)
    longer = extractive_summary(analysed, 1762, word_budget=200)
    assert short.startswith("The customer") and "The agent" in short
    assert len(short.split()) < len(longer.split())
    # The first agent sentence is always kept, however small the budget.
    assert "record number 0" in extractive_summary(analysed, 1762, word_budget=1)


def test_retelling_drops_fillers_attributes_and_keeps_the_decision(
    make_turn: Callable[..., Turn], pipeline: Pipeline
) -> None:
    turns = [
        make_turn("May I help you, sir?", role="AGENT"),
        make_turn("Yes. I'm looking for a nice gift for my mother.", role="CUSTOMER"),
        make_turn("Well, perhaps she would like a necklace or a silk scarf from the new range.", role="AGENT"),
        make_turn("Maybe you are right. I'll take the scarf.", role="CUSTOMER"),
    ]
    content = extractive_summary([AnalysedTurn(t, pipeline.analyze(t)) for t in turns], 1762)
    assert "Well" not in content
    assert "The agent says perhaps she would like a necklace" in content
    assert content.rstrip().endswith("The customer will take the scarf.")


@pytest.mark.parametrize("max_chars", [1270, 120, 40, 5])
def test_summary_respects_max_chars(pipeline: Pipeline, analysed: list[AnalysedTurn], max_chars: int) -> None:
    summary = pipeline.summarize(analysed, max_chars=max_chars)
    assert summary.status == "COMPLETED"
    assert summary.content and len(summary.content) <= max_chars


def test_insufficient_content_without_both_parties(pipeline: Pipeline, analysed: list[AnalysedTurn]) -> None:
    customer_only = [t for t in analysed if t.turn.participant_role == "CUSTOMER"]
    agent_only = [t for t in analysed if t.turn.participant_role == "AGENT"]
    for turns in ([], customer_only, agent_only):
        summary = pipeline.summarize(turns, max_chars=1762)
        assert (summary.status, summary.failure_code) == ("FAILED", "INSUFFICIENT_CONVERSATION_CONTENT")


def test_unsupported_language(pipeline: Pipeline, analysed: list[AnalysedTurn]) -> None:
    summary = pipeline.summarize(analysed, max_chars=1762, language="de-DE")
    assert (summary.status, summary.failure_code) == ("FAILED", "INVALID_ANALYSIS_CONFIGURATION")
    assert pipeline.summarize(analysed, max_chars=1762, language="en-GB").status == "COMPLETED"


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/chat/completions according to the class attribute ``mode``."""

    mode = "ok"
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        mode = FakeOpenAI.mode
        if mode == "timeout":
            time.sleep(1.5)
        status, payload = {
            "ok": (
                200,
                {
                    "choices": [
                        {
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": "Customer was double charged; agent refunded. " * 10,
                            },
                        }
                    ]
                },
            ),
            "timeout": (200, {"choices": []}),
            "429": (429, {"error": {"message": "Rate limit", "code": "rate_limit_exceeded"}}),
            "filter": (200, {"choices": [{"finish_reason": "content_filter", "message": {"content": ""}}]}),
            "filter400": (400, {"error": {"message": "filtered", "code": "content_filter"}}),
            "500": (500, {"error": {"message": "boom"}}),
            "garbage": (200, {"nothing": True}),
        }[mode]
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("ok", "COMPLETED", None),
        ("429", "FAILED", "QUOTA_EXCEEDED"),
        ("filter", "FAILED", "FAILED_SAFETY_GUIDELINES"),
        ("filter400", "FAILED", "FAILED_SAFETY_GUIDELINES"),
        ("500", "FAILED", "INTERNAL_ERROR"),
        ("timeout", "FAILED", "INTERNAL_ERROR"),
        ("garbage", "FAILED", "INTERNAL_ERROR"),
    ],
)
def test_openai_compatible_generator(
    fake_server: str, analysed: list[AnalysedTurn], mode: str, status: str, code: str | None
) -> None:
    FakeOpenAI.mode = mode
    FakeOpenAI.requests.clear()
    p = load_pipeline(
        ("sentiment",),
        {"summary": {"generator": "openai", "url": fake_server, "model": "tiny", "api_key": "k", "timeout": 0.5}},
    )
    summary = p.summarize(analysed, max_chars=100)
    assert (summary.status, summary.failure_code) == (status, code)
    request = FakeOpenAI.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "tiny"
    assert request["auth"] == "Bearer k"
    transcript = request["body"]["messages"][-1]["content"]
    assert "maria@example.com" not in transcript and "Customer: Hi." in transcript
    if status == "COMPLETED":
        assert summary.content and len(summary.content) <= 100


def test_unreachable_endpoint_is_an_internal_error(analysed: list[AnalysedTurn]) -> None:
    p = load_pipeline(
        ("sentiment",), {"summary": {"generator": "openai", "url": "http://127.0.0.1:9", "model": "m", "timeout": 1}}
    )
    summary = p.summarize(analysed, max_chars=100)
    assert (summary.status, summary.failure_code) == ("FAILED", "INTERNAL_ERROR")


def test_reason_is_quoted_from_the_redacted_text(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    turns = []
    for role, text in [
        ("CUSTOMER", "Hello. I'm Maria Garcia and I need to change the email on my account."),
        ("AGENT", "Sure. I have updated the email on your account."),
    ]:
        turn = make_turn(text, role=role)
        turns.append(AnalysedTurn(turn, pipeline.analyze(turn)))
    content = pipeline.summarize(turns, max_chars=500).content or ""
    assert "Maria Garcia" not in content
    assert "[PII]" in content and "change the email" in content
