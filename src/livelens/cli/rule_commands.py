"""``livelens rules test`` (dry-run a rule's Function, explaining every match) and ``livelens rules convert``."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click


@click.group()
def rules() -> None:
    """Category rules: try a Function before you create the rule."""


def load_transcript(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Turns from a JSON file: a list of turns, ``{"Transcript": [...]}``, or a demo conversation."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--transcript") from None
    channel = None
    if isinstance(document, dict):
        channel = document.get("channel") or document.get("Channel")
        turns = document.get("Transcript") or document.get("turns")
    else:
        turns = document
    if not isinstance(turns, list):
        raise click.BadParameter("expected a JSON list of turns", param_hint="--transcript")
    voice = str(channel or "").lower() == "voice"
    out = []
    for turn in turns:
        if isinstance(turn, dict) and "text" in turn and "Content" not in turn:
            turn = {
                "ParticipantRole": turn.get("role"),
                "Content": turn["text"],
                "Sentiment": turn.get("sentiment"),
                **({"BeginOffsetMillis": turn.get("at"), "EndOffsetMillis": turn.get("end")} if voice else {}),
            }
        out.append(turn)
    return out, (str(channel).upper() if channel else None)


def _local(function: str, turns: list[dict[str, Any]], channel: str, attributes: dict[str, str]) -> dict[str, Any]:
    from livelens.contacts.rule_book import RuleBook
    from livelens.errors import InvalidRequestException
    from livelens.rules.dryrun import dry_run, turn_facts
    from livelens.rules.parser import SentimentChange, SentimentRun

    event_source = "OnRealTimeChatAnalysisAvailable" if channel == "CHAT" else "OnRealTimeCallAnalysisAvailable"
    try:
        parsed = RuleBook.compile_function(function, event_source)
    except InvalidRequestException as exc:
        raise click.ClickException(exc.message) from None
    sentiment = None
    if any(isinstance(leaf, (SentimentRun, SentimentChange)) for leaf in parsed.leaves):
        sentiment = _sentiment_analyser(channel)
    embed = None
    if parsed.semantic:
        from livelens.analysis.embeddings import load_embedder

        embed = load_embedder().embed
    try:
        facts = turn_facts(turns, sentiment)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--transcript") from None
    return dry_run(parsed, facts, attributes=attributes, embed=embed)


def _sentiment_analyser(channel: str) -> Any:
    """Turns without a Sentiment get one from livelens' own analyser."""
    from livelens.analysis import load_pipeline
    from livelens.analysis.types import Turn

    pipeline = load_pipeline(("sentiment",))

    def sentiment(role: str, text: str) -> str | None:
        turn = Turn(
            id="dry-run",
            contact_id="dry-run",
            channel=channel,  # type: ignore[arg-type]
            participant_id=role,
            participant_role=role,
            content=text,
        )
        return pipeline.analyze(turn).sentiment

    return sentiment


def _remote(endpoint_url: str, instance_id: str, payload: dict[str, Any], region: str) -> dict[str, Any]:
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise click.ClickException("no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    url = f"{endpoint_url.rstrip('/')}/livelens/v1/instances/{instance_id}/rules/test"
    body = json.dumps(payload).encode()
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "connect", region).add_auth(request)
    http = urllib.request.Request(url, data=body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(http, timeout=60) as response:  # noqa: S310 (the user's endpoint)
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("Message", detail)
        except ValueError:
            pass
        raise click.ClickException(f"{exc.code}: {detail}") from None


@rules.command("test")
@click.option("--function", "function", default=None, help="The rule's Function (see docs/rules.md).")
@click.option("--rule-id", default=None, help="Test a stored rule instead (needs --instance-id).")
@click.option(
    "--transcript",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file: a list of turns {ParticipantRole, Content, Sentiment?, BeginOffsetMillis?, "
    "EndOffsetMillis?}, or a demo conversation.",
)
@click.option(
    "--channel",
    type=click.Choice(["chat", "voice"], case_sensitive=False),
    default=None,
    help="The transcript's channel [default: from the file, else chat].",
)
@click.option("--attribute", "attributes", multiple=True, metavar="KEY=VALUE", help="A contact attribute.")
@click.option("--instance-id", default=None, help="Evaluate on the server (with --contact-id or --transcript).")
@click.option("--contact-id", default=None, help="A stored contact to evaluate against (needs --instance-id).")
@click.option(
    "--endpoint-url",
    envvar="LIVELENS_ENDPOINT",
    default="http://127.0.0.1:8765",
    show_default=True,
    help="The livelens server (remote mode).",
)
@click.option("--region", default="us-east-1", show_default=True, help="Region to sign requests for.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def test_rule(
    function: str | None,
    rule_id: str | None,
    transcript: Path | None,
    channel: str | None,
    attributes: tuple[str, ...],
    instance_id: str | None,
    contact_id: str | None,
    endpoint_url: str,
    region: str,
    as_json: bool,
) -> None:
    """Evaluate a Function against a transcript and explain each match: which condition, which turn, which words.

    Locally (no server) on a JSON turn list, or on the server against a stored
    contact with --instance-id/--contact-id.
    """
    from livelens.rules.dryrun import format_report

    if (function is None) == (rule_id is None):
        raise click.UsageError("give exactly one of --function and --rule-id")
    attrs = {}
    for pair in attributes:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--attribute")
        attrs[key] = value
    turns, file_channel = load_transcript(transcript) if transcript else ([], None)
    chosen = (channel or file_channel or "chat").upper()
    if instance_id:
        if not contact_id and transcript is None:
            raise click.UsageError("remote mode needs --contact-id or --transcript")
        payload: dict[str, Any] = {"Attributes": attrs, "Channel": chosen}
        payload.update({"Function": function} if function else {"RuleId": rule_id})
        payload.update({"ContactId": contact_id} if contact_id else {"Transcript": turns})
        report = _remote(endpoint_url, instance_id, payload, region)
    else:
        if rule_id or contact_id:
            raise click.UsageError("--rule-id and --contact-id need --instance-id (and a server)")
        if transcript is None:
            raise click.UsageError("give --transcript FILE (or --instance-id with --contact-id)")
        assert function is not None
        report = _local(function, turns, chosen, attrs)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else format_report(report))
    sys.exit(0 if report["Matched"] else 1)


@rules.command("convert")
@click.argument("function")
@click.option("--channel", type=click.Choice(["chat", "voice"], case_sensitive=False), default="chat",
              show_default=True, help="The rule's channel (RealTimeChat or RealTimeCall conditions).")
def convert(function: str, channel: str) -> None:
    """Translate a Function between AWS's JSON Rules Function language and livelens' readable language.

    FUNCTION is the text itself, or @FILE to read it from a file. JSON (AWS) input prints the
    readable form; readable input prints the JSON that CreateRule on AWS accepts. A condition
    without a form in the other language is named and the command exits with status 1.
    """
    from livelens.rules.aws_function import AwsFunctionError, looks_like_json, to_aws, to_readable
    from livelens.rules.parser import RuleSyntaxError, parse

    if function.startswith("@"):
        try:
            function = Path(function[1:]).read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {function[1:]}: {exc}", param_hint="FUNCTION") from None
    try:
        if looks_like_json(function):
            click.echo(to_readable(function, channel.upper()))
        else:
            click.echo(json.dumps(to_aws(parse(function), channel.upper()), indent=2, ensure_ascii=False))
    except (AwsFunctionError, RuleSyntaxError) as exc:
        raise click.ClickException(str(exc)) from None
