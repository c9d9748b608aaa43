"""Category rules end to end: the connect rules API with boto3 and the aws CLI, live contacts, webhooks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from livelens.rules.alerts import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from tests.e2e.conftest import (
    Server,
    assert_client_error,
    list_v1_all,
    list_v2_all,
    signed_request,
    start_chat,
    start_server,
    unique,
    utterances_path,
    wait_for,
)

CHAT = {"EventSourceName": "OnRealTimeChatAnalysisAvailable"}
VOICE = {"EventSourceName": "OnRealTimeCallAnalysisAvailable"}
CATEGORY = [{"ActionType": "ASSIGN_CONTACT_CATEGORY", "AssignContactCategoryAction": {}}]
ALERT = [{"ActionType": "GENERATE_EVENTBRIDGE_EVENT", "EventBridgeAction": {"Name": "alert"}}]
SECRET = "e2e-webhook-secret-0123456789"


class Receiver:
    """A webhook receiver on a local port: records every POST and answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.status
                receiver.requests.append(
                    {
                        "time": time.monotonic(),
                        "headers": dict(self.headers),
                        "body": body,
                        "event": json.loads(body),
                        "status": status,
                    }
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def delivered(self, rule_name: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if r["status"] == 200 and (rule_name is None or r["event"]["detail"]["ruleName"] == rule_name)
        ]

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def new_instance(connect: Any) -> str:
    return str(
        connect.create_instance(
            IdentityManagementType="CONNECT_MANAGED",
            InstanceAlias=f"rules-{unique()}",
            InboundCallsEnabled=True,
            OutboundCallsEnabled=True,
        )["Id"]
    )


def create_rule(
    connect: Any,
    instance_id: str,
    name: str,
    function: str,
    *,
    trigger: dict[str, str] = CHAT,
    actions: list[dict[str, Any]] = CATEGORY,
    status: str = "PUBLISHED",
) -> str:
    return str(
        connect.create_rule(
            InstanceId=instance_id,
            Name=name,
            TriggerEventSource=trigger,
            Function=function,
            Actions=actions,
            PublishStatus=status,
        )["RuleId"]
    )


def set_webhook(server: Server, instance_id: str, url: str) -> None:
    answer = signed_request(
        server, "PUT", f"/livelens/v1/instances/{instance_id}/webhooks", {"Webhooks": [{"Url": url, "Secret": SECRET}]}
    )
    assert answer.status_code == 200, answer.text


def categories(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """Every matched category's details, by name (each appears once in the log)."""
    found: dict[str, Any] = {}
    for segment in segments:
        for name, details in segment.get("Categories", {}).get("MatchedDetails", {}).items():
            assert name not in found, f"{name} matched twice"
            found[name] = details
    return found


def say(participant: Any, token: str, text: str) -> None:
    participant.send_message(ConnectionToken=token, ContentType="text/plain", Content=text)


# --- the API -------------------------------------------------------------------


def test_rules_api_create_list_describe_update_delete(connect: Any, instance_id: str) -> None:
    instance = new_instance(connect)
    ids = [create_rule(connect, instance, f"rule-{i}", f'customer said "word{i}"') for i in range(3)]
    draft = create_rule(connect, instance, "draft", 'agent never said "goodbye"', status="DRAFT")
    rule = connect.describe_rule(InstanceId=instance, RuleId=ids[0])["Rule"]
    assert rule["Name"] == "rule-0" and rule["Function"] == 'customer said "word0"'
    assert rule["TriggerEventSource"] == CHAT and rule["PublishStatus"] == "PUBLISHED"
    assert rule["RuleArn"].endswith(f"/rule/{ids[0]}") and rule["LastUpdatedBy"].startswith("arn:aws:iam::")

    seen, kwargs = [], {"InstanceId": instance, "MaxResults": 2}
    while True:
        page = connect.list_rules(**kwargs)
        seen += [r["RuleId"] for r in page["RuleSummaryList"]]
        assert len(page["RuleSummaryList"]) <= 2
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == [*ids, draft]
    drafts = connect.list_rules(InstanceId=instance, PublishStatus="DRAFT")["RuleSummaryList"]
    assert [r["RuleId"] for r in drafts] == [draft]
    assert drafts[0]["ActionSummaries"] == [{"ActionType": "ASSIGN_CONTACT_CATEGORY"}]

    connect.update_rule(
        InstanceId=instance,
        RuleId=ids[1],
        Name="renamed",
        Function='agent said "hello"',
        Actions=CATEGORY,
        PublishStatus="DRAFT",
    )
    updated = connect.describe_rule(InstanceId=instance, RuleId=ids[1])["Rule"]
    assert (updated["Name"], updated["Function"], updated["PublishStatus"]) == (
        "renamed",
        'agent said "hello"',
        "DRAFT",
    )

    connect.delete_rule(InstanceId=instance, RuleId=ids[2])
    with pytest.raises(ClientError) as caught:
        connect.describe_rule(InstanceId=instance, RuleId=ids[2])
    assert_client_error(caught, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as caught:  # rules belong to their instance
        connect.describe_rule(InstanceId=instance_id, RuleId=ids[0])
    assert_client_error(caught, "ResourceNotFoundException", 404)


def test_rules_api_errors(connect: Any, instance_id: str) -> None:
    create_rule(connect, instance_id, f"taken-{unique()}", 'customer said "x"')
    with pytest.raises(ClientError) as caught:
        create_rule(connect, instance_id, "bad-function", 'customer said "refund" in frist 60 seconds')
    assert_client_error(caught, "InvalidRequestException", 400, mentions="at position 26")
    assert "'first' or 'last'" in caught.value.response["Error"]["Message"]

    name = f"dup-{unique()}"
    create_rule(connect, instance_id, name, 'customer said "x"')
    with pytest.raises(ClientError) as caught:
        create_rule(connect, instance_id, name, 'customer said "y"')
    assert_client_error(caught, "ResourceConflictException", 409, mentions=name)
    other = create_rule(connect, instance_id, f"other-{unique()}", 'customer said "y"')
    with pytest.raises(ClientError) as caught:
        connect.update_rule(
            InstanceId=instance_id,
            RuleId=other,
            Name=name,
            Function='customer said "y"',
            Actions=CATEGORY,
            PublishStatus="PUBLISHED",
        )
    assert_client_error(caught, "ResourceConflictException", 409)

    cases: list[tuple[str, dict[str, str], list[dict[str, Any]], str]] = [
        ('customer said "x" in first 10 seconds', CHAT, CATEGORY, "windows in seconds apply to voice"),
        (
            'customer said "x"',
            {"EventSourceName": "OnPostCallAnalysisAvailable"},
            CATEGORY,
            "OnPostCallAnalysisAvailable",
        ),
        ('customer said "x"', CHAT, [{"ActionType": "GENERATE_EVENTBRIDGE_EVENT"}], "EventBridgeAction is required"),
        (
            'customer said "x"',
            CHAT,
            [{"ActionType": "CREATE_CASE", "CreateCaseAction": {"Fields": [], "TemplateId": "t"}}],
            "CREATE_CASE",
        ),
    ]
    for function, trigger, actions, mentions in cases:
        with pytest.raises(ClientError) as caught:
            create_rule(connect, instance_id, f"bad-{unique()}", function, trigger=trigger, actions=actions)
        assert_client_error(caught, "InvalidRequestException", 400, mentions=mentions)
    with pytest.raises(ClientError) as caught:
        create_rule(connect, "no-such-instance", "x", 'customer said "x"')
    assert_client_error(caught, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as caught:
        connect.delete_rule(InstanceId=instance_id, RuleId="no-such-rule")
    assert_client_error(caught, "ResourceNotFoundException", 404)


# --- firing on live contacts ------------------------------------------------------


def test_chat_rules_fire_once_with_points_of_interest_draft_and_deleted_never(
    server: Server, connect: Any, participant: Any
) -> None:
    instance = new_instance(connect)
    create_rule(connect, instance, "refund", 'customer said any("refund", "money back")')
    create_rule(connect, instance, "refund-draft", 'customer said "refund"', status="DRAFT")
    create_rule(connect, instance, "voice-only", 'customer said "refund"', trigger=VOICE)
    create_rule(connect, instance, "no-goodbye", 'agent never said "goodbye"')
    deleted = create_rule(connect, instance, "manager", 'customer said "manager"')

    chat = start_chat(connect, participant, instance)
    say(participant, chat.customer, "Hello, I was refunded the wrong amount.")
    say(participant, chat.agent, "Let me check that for you.")
    connect.delete_rule(InstanceId=instance, RuleId=deleted)  # mid-contact: stops firing from now on
    say(participant, chat.customer, "I want a refund again and a manager!")
    connect.stop_contact(InstanceId=instance, ContactId=chat.contact_id)

    def done() -> list[dict[str, Any]] | None:
        segments, page = list_v2_all(connect, instance, chat.contact_id)
        return segments if page["Status"] == "COMPLETED" and not page.get("NextToken") else None

    segments = wait_for(done, timeout=60)
    found = categories(segments)
    assert sorted(found) == ["no-goodbye", "refund"]
    transcript = [s["Transcript"] for s in segments if "Transcript" in s]
    first_customer = transcript[0]
    (point,) = found["refund"]["PointsOfInterest"]
    (item,) = point["TranscriptItems"]
    assert item["Id"] == first_customer["Id"]
    offsets = item["CharacterOffsets"]
    assert first_customer["Content"][offsets["BeginOffsetChar"] : offsets["EndOffsetChar"]] == "refunded"
    # The Categories segment comes with the segments of the turn that triggered it, before the next turn's.
    kinds = [next(iter(s)) for s in segments]
    first_turn = kinds.index("Transcript")
    assert first_turn < kinds.index("Categories") < kinds.index("Transcript", first_turn + 1)
    # "not said" is decided at contact end: its segment comes after the last turn, with no points.
    assert found["no-goodbye"]["PointsOfInterest"] == []
    redacted, _ = list_v2_all(connect, instance, chat.contact_id, output_type="Redacted")
    assert sorted(categories(redacted)) == ["no-goodbye", "refund"]


def test_redacted_only_contact_matches_on_redacted_text_and_alerts_carry_no_pii(
    server: Server, connect: Any, participant: Any, receiver: Receiver
) -> None:
    instance = new_instance(connect)
    set_webhook(server, instance, receiver.url)
    create_rule(
        connect,
        instance,
        "whole-turn",
        'customer means "I want my money back" threshold 0.05',
        actions=CATEGORY + ALERT,
    )
    chat = start_chat(connect, participant, instance, **{"livelens:redaction": "RedactedOnly"})
    say(participant, chat.customer, "My email is jane.doe@example.com and I want a refund.")
    (alert,) = wait_for(lambda: receiver.delivered("whole-turn"), timeout=30)
    (match,) = alert["event"]["detail"]["livelens"]["matches"]
    assert "jane.doe@example.com" not in alert["body"].decode()
    assert "[" in match["text"] and match["characterOffsets"]["beginOffsetChar"] == 0
    segments, _ = list_v2_all(connect, instance, chat.contact_id, output_type="Redacted")
    assert "whole-turn" in categories(segments)
    with pytest.raises(ClientError) as caught:
        list_v2_all(connect, instance, chat.contact_id, output_type="Raw")
    assert_client_error(caught, "OutputTypeNotFoundException", 404)


def test_done_when_aws_cli_rules_fire_on_a_live_call_and_alert_within_a_second(
    server: Server, connect: Any, contact_lens: Any, receiver: Receiver
) -> None:
    """The issue's "Done when": rules made with `aws connect create-rule`, a live call, segments and webhooks."""
    instance = new_instance(connect)
    set_webhook(server, instance, receiver.url)
    actions = json.dumps(CATEGORY + ALERT)
    for name, function in [
        ("cancel-early", 'customer said "cancel" in first 60 seconds'),
        ("negative-streak", "customer sentiment NEGATIVE for 3 turns"),
    ]:
        created = server.aws(
            "connect",
            "create-rule",
            "--instance-id",
            instance,
            "--name",
            name,
            "--trigger-event-source",
            "EventSourceName=OnRealTimeCallAnalysisAvailable",
            "--function",
            function,
            "--actions",
            actions,
            "--publish-status",
            "PUBLISHED",
        )
        assert json.loads(created.stdout)["RuleId"]
    contact_id = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    path = utterances_path(instance, contact_id)
    lines = [
        ("AGENT", "Thank you for calling, how can I help you today?", "none"),
        ("CUSTOMER", "This is terrible, your service has been awful all week.", "none"),
        ("CUSTOMER", "I am furious, nothing works and I hate this.", "none"),
        ("CUSTOMER", "I want to cancel my contract, this is the worst service ever.", "both"),
        ("AGENT", "I'm sorry to hear that, let me help.", "none"),
    ]
    sent_at: dict[str, float] = {}
    for n, (role, text, _) in enumerate(lines):
        answer = signed_request(
            server,
            "POST",
            path,
            {
                "ParticipantId": role.lower(),
                "ParticipantRole": role,
                "Content": text,
                "BeginOffsetMillis": n * 6000,
                "EndOffsetMillis": n * 6000 + 5000,
            },
        )
        assert answer.status_code == 200, answer.text
        sent_at[answer.json()["Id"]] = time.monotonic()
        time.sleep(0.3)
    alerts = wait_for(lambda: (len(receiver.delivered()) >= 2) and receiver.delivered(), timeout=30)

    segments = wait_for(
        lambda: (found := categories(list_v1_all(contact_lens, instance, contact_id)[0])) and len(found) == 2 and found,
        timeout=30,
    )
    assert segments["cancel-early"]["PointsOfInterest"] == [{"BeginOffsetMillis": 18000, "EndOffsetMillis": 23000}]
    assert segments["negative-streak"]["PointsOfInterest"] == [
        {"BeginOffsetMillis": 6000, "EndOffsetMillis": 11000},
        {"BeginOffsetMillis": 12000, "EndOffsetMillis": 17000},
        {"BeginOffsetMillis": 18000, "EndOffsetMillis": 23000},
    ]
    by_rule = {a["event"]["detail"]["ruleName"]: a for a in alerts}
    assert sorted(by_rule) == ["cancel-early", "negative-streak"]
    for name, alert in by_rule.items():
        event = alert["event"]
        assert event["detail-type"] == "Contact Lens Realtime Rules Matched" and event["source"] == "aws.connect"
        assert event["detail"]["contactArn"].endswith(contact_id)
        assert verify(SECRET, alert["headers"][SIGNATURE_HEADER], alert["body"])
        assert alert["headers"][EVENT_ID_HEADER] == event["id"]
        matches = event["detail"]["livelens"]["matches"]
        trigger = matches[-1]["transcriptItemId"]
        latency = alert["time"] - sent_at[trigger]
        assert latency < 1.0, f"{name}: alert {latency:.2f} s after the turn that triggered it"
    cancel = by_rule["cancel-early"]["event"]["detail"]["livelens"]["matches"][0]
    assert cancel["text"] == "cancel" and cancel["beginOffsetMillis"] == 18000 and cancel["sentiment"] == "NEGATIVE"
    time.sleep(1.5)
    assert len(receiver.delivered()) == 2  # exactly one alert per match


def test_dry_run_api_and_cli(server: Server, connect: Any, participant: Any, tmp_path: Path) -> None:
    instance = new_instance(connect)
    chat = start_chat(connect, participant, instance)
    say(participant, chat.customer, "I was charged twice, please refund me.")
    wait_for(lambda: any("Transcript" in s for s in list_v2_all(connect, instance, chat.contact_id)[0]))
    answer = signed_request(
        server,
        "POST",
        f"/livelens/v1/instances/{instance}/rules/test",
        {"Function": 'customer said "refund" and agent never said "sorry"', "ContactId": chat.contact_id},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["Matched"] and report["AtContactEnd"]
    assert [c["Holds"] for c in report["Conditions"]] == [True, False]
    assert report["Explanation"][0]["text"] == "refund" and report["Explanation"][0]["turn"] == 1
    bad = signed_request(
        server,
        "POST",
        f"/livelens/v1/instances/{instance}/rules/test",
        {"Function": 'customer said "x" or', "ContactId": chat.contact_id},
    )
    assert bad.status_code == 400 and "position 20" in bad.json()["Message"]

    transcript = tmp_path / "turns.json"
    transcript.write_text(
        json.dumps(
            [
                {
                    "ParticipantRole": "CUSTOMER",
                    "Content": "I'd like to cancel.",
                    "BeginOffsetMillis": 1000,
                    "EndOffsetMillis": 3000,
                    "Sentiment": "NEGATIVE",
                },
            ]
        )
    )
    livelens = str(Path(sys.executable).parent / "livelens")
    local = subprocess.run(
        [
            livelens,
            "rules",
            "test",
            "--function",
            'customer said "cancel" in first 60 seconds',
            "--transcript",
            str(transcript),
            "--channel",
            "voice",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert local.returncode == 0, local.stderr
    assert "MATCHED on turn 1" in local.stdout and "'cancel'" in local.stdout
    env = {
        "AWS_ACCESS_KEY_ID": "LLIATESTACCESSKEY001",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key-for-livelens-e2e-000001",
        "PATH": "/usr/bin:/bin",
    }
    remote = subprocess.run(
        [
            livelens,
            "rules",
            "test",
            "--function",
            'customer said "refund"',
            "--instance-id",
            instance,
            "--contact-id",
            chat.contact_id,
            "--endpoint-url",
            server.url,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["Turn"] == 1


def test_an_undelivered_alert_survives_a_restart_mid_retry(tmp_path: Path, receiver: Receiver) -> None:
    receiver.status = 500
    server = start_server(tmp_path / "restart")
    try:
        connect, participant = server.client("connect"), server.client("connectparticipant")
        instance = new_instance(connect)
        set_webhook(server, instance, receiver.url)
        create_rule(connect, instance, "refund-alert", 'customer said "refund"', actions=ALERT)
        chat = start_chat(connect, participant, instance)
        say(participant, chat.customer, "I need a refund.")
        wait_for(lambda: receiver.requests, timeout=30)  # the first attempt failed (500)
    finally:
        server.stop()
    failed = list(receiver.requests)
    receiver.status = 200
    server = start_server(tmp_path / "restart")
    try:
        (delivered,) = wait_for(lambda: receiver.delivered(), timeout=30)
        time.sleep(2.5)  # long enough for another retry, had the outbox kept it pending
        assert len(receiver.delivered()) == 1
        assert {r["event"]["id"] for r in receiver.requests} == {delivered["event"]["id"]}
        assert int(delivered["headers"]["X-Livelens-Delivery-Attempt"]) == len(failed) + 1
        listed = signed_request(server, "GET", f"/livelens/v1/instances/{instance}/alerts").json()["Alerts"]
        assert [(a["Status"], a["Attempts"]) for a in listed] == [("DELIVERED", len(failed) + 1)]
    finally:
        server.stop()
    assert "Traceback" not in "".join(server.output)


def test_notifications_and_tasks_are_recorded(server: Server, connect: Any, participant: Any) -> None:
    instance = new_instance(connect)
    actions = [
        {
            "ActionType": "SEND_NOTIFICATION",
            "SendNotificationAction": {
                "DeliveryMethod": "EMAIL",
                "Subject": "Escalation",
                "Content": "Customer asked for a manager",
                "ContentType": "PLAIN_TEXT",
                "Recipient": {"UserIds": ["supervisor-1"]},
            },
        },
        {"ActionType": "CREATE_TASK", "TaskAction": {"Name": "Call back", "ContactFlowId": "flow-1"}},
        {"ActionType": "GENERATE_EVENTBRIDGE_EVENT", "EventBridgeAction": {"Name": "no-hook"}},
    ]
    create_rule(connect, instance, "escalate", 'customer said "manager"', actions=actions)
    chat = start_chat(connect, participant, instance)
    say(participant, chat.customer, "Get me a manager now.")

    def recorded() -> list[dict[str, Any]]:
        answer = signed_request(server, "GET", f"/livelens/v1/instances/{instance}/actions")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["Actions"])

    found = wait_for(lambda: len(recorded()) == 3 and recorded(), timeout=30)
    by_type = {a["ActionType"]: a for a in found}
    assert by_type["SEND_NOTIFICATION"]["SendNotificationAction"]["Subject"] == "Escalation"
    assert by_type["SEND_NOTIFICATION"]["Matches"][0]["text"] == "manager"
    assert by_type["CREATE_TASK"]["TaskAction"]["Name"] == "Call back"
    assert by_type["GENERATE_EVENTBRIDGE_EVENT"]["Status"] == "NO_WEBHOOK_CONFIGURED"
    assert all(a["ContactId"] == chat.contact_id and a["RuleName"] == "escalate" for a in found)
