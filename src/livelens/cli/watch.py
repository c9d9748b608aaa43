"""``livelens watch``: a live terminal view of one contact, drawn with rich.

The view is built from the contact's segments only (V2 for chat, V1 for voice),
pushed over the segment stream as ``--follow`` reads it (polling where the server has no stream): the
transcript with each speaker and a per-turn sentiment colour, redacted spans marked, issues
underlined, categories as they fire, the sentiment trend and, at the end, the
post-contact summary. Segments without a Sentiment show no colour (the
analysis may not have run); nothing is invented.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from livelens.cli.clientconfig import client_options, connect_clients
from livelens.cli.errors import one_line_errors
from livelens.cli.push import V1_OPERATION, V2_OPERATION, follow_stream

SENTIMENT_STYLE = {"POSITIVE": "green", "NEGATIVE": "red", "NEUTRAL": "grey70", "MIXED": "yellow"}
SENTIMENT_SCORE = {"POSITIVE": 1, "NEUTRAL": 0, "MIXED": 0, "NEGATIVE": -1}
ROLE_STYLE = {"CUSTOMER": "bold cyan", "AGENT": "bold magenta", "SUPERVISOR": "bold blue",
              "CUSTOM_BOT": "bold yellow", "SYSTEM": "bold white"}
REDACTED_STYLE = "black on yellow"
ISSUE_STYLE = "underline"
# V1 has no redaction offsets: its redacted text carries placeholders such as [PII] or [EMAIL].
PLACEHOLDER = re.compile(r"\[(?:PII|[A-Z][A-Z_]{1,30})\]")
V2_TYPES = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"]


@dataclass
class Turn:
    id: str
    role: str
    name: str
    content: str
    sentiment: str | None = None
    redacted: list[tuple[int, int]] = field(default_factory=list)
    issues: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class ContactView:
    """What the screen shows, folded from the segments in log order."""

    contact_id: str
    channel: str = ""
    status: str = "IN_PROGRESS"
    turns: dict[str, Turn] = field(default_factory=dict)
    categories: list[tuple[str, str]] = field(default_factory=list)  # (category, where)
    events: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    summary: str | None = None
    summary_status: str | None = None
    summary_failure: str | None = None
    segments: int = 0

    def add(self, segment: dict[str, Any], page: dict[str, Any] | None = None) -> None:
        self.segments += 1
        if page and page.get("Status"):
            self.status = str(page["Status"])
        if "Transcript" in segment:
            self._transcript(segment["Transcript"])
        if "Categories" in segment:
            self._categories(segment["Categories"])
        if "Issues" in segment:
            for issue in segment["Issues"].get("IssuesDetected", []):
                for item in issue.get("TranscriptItems", []):
                    turn = self.turns.get(item.get("Id", ""))
                    offsets = item.get("CharacterOffsets")
                    if turn is not None and offsets:
                        turn.issues.append((offsets["BeginOffsetChar"], offsets["EndOffsetChar"]))
        if "Event" in segment:
            event = segment["Event"]
            kind = str(event.get("EventType", "")).rsplit(".", 1)[-1].replace("_", " ")
            who = event.get("DisplayName") or event.get("ParticipantRole") or ""
            self.events.append(f"{who} {kind}".strip())
        if "Attachments" in segment:
            for attachment in segment["Attachments"].get("Attachments", []):
                self.attachments.append(str(attachment.get("AttachmentName", "attachment")))
        if "PostContactSummary" in segment:
            summary = segment["PostContactSummary"]
            self.summary = summary.get("Content")
            self.summary_status = summary.get("Status")
            self.summary_failure = summary.get("FailureCode")

    def _transcript(self, body: dict[str, Any]) -> None:
        content = str(body.get("Content", ""))
        turn = Turn(
            id=str(body.get("Id", len(self.turns))),
            role=str(body.get("ParticipantRole", "")),
            name=str(body.get("DisplayName") or body.get("ParticipantId") or ""),
            content=content,
            sentiment=body.get("Sentiment"),
        )
        redaction = body.get("Redaction")
        if redaction is not None:
            turn.redacted = [(o["BeginOffsetChar"], o["EndOffsetChar"]) for o in redaction.get("CharacterOffsets", [])]
        elif not self.channel or self.channel == "VOICE":
            turn.redacted = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(content)]
        for issue in body.get("IssuesDetected", []):  # V1
            offsets = issue.get("CharacterOffsets")
            if offsets:
                turn.issues.append((offsets["BeginOffsetChar"], offsets["EndOffsetChar"]))
        self.turns[turn.id] = turn

    def _categories(self, body: dict[str, Any]) -> None:
        details = body.get("MatchedDetails", {}) or {}
        names = list(body.get("MatchedCategories", [])) or list(details)
        for name in names:
            where = ""
            points = (details.get(name) or {}).get("PointsOfInterest", [])
            if points:
                point = points[0]
                if "BeginOffsetMillis" in point:
                    where = f"at {point['BeginOffsetMillis'] / 1000:.1f}s"
                elif point.get("TranscriptItems"):
                    item_id = point["TranscriptItems"][0].get("Id")
                    index = list(self.turns).index(item_id) + 1 if item_id in self.turns else None
                    where = f"turn {index}" if index else ""
            self.categories.append((name, where))

    def trend(self) -> list[tuple[str, str]]:
        """(role, sentiment) of each analysed turn, in order."""
        return [(t.role, t.sentiment) for t in self.turns.values() if t.sentiment]


def _styled_content(turn: Turn) -> Any:
    from rich.text import Text

    text = Text(turn.content, style=SENTIMENT_STYLE.get(turn.sentiment or "", ""))
    length = len(turn.content)
    for begin, end in turn.redacted:
        text.stylize(REDACTED_STYLE, max(0, begin), min(length, end))
    for begin, end in turn.issues:
        text.stylize(ISSUE_STYLE, max(0, begin), min(length, end))
    return text


def _trend_line(view: ContactView, role: str) -> Any:
    from rich.text import Text

    line = Text(f"{role.title():<9}", style=ROLE_STYLE.get(role, "bold"))
    score = 0
    marks = {1: "▲", 0: "■", -1: "▼"}
    shown = False
    for turn_role, sentiment in view.trend():
        if turn_role != role:
            continue
        shown = True
        value = SENTIMENT_SCORE.get(sentiment, 0)
        score += value
        line.append(marks[value], style=SENTIMENT_STYLE.get(sentiment, ""))
    if not shown:
        line.append("no sentiment yet", style="dim")
    else:
        line.append(f"  score {score:+d}", style="bold")
    return line


def render(view: ContactView, max_turns: int | None = None) -> Any:
    """The whole screen for ``view`` as one rich renderable."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    status_style = {"COMPLETED": "bold green", "FAILED": "bold red"}.get(view.status, "bold yellow")
    header = Text.assemble(("livelens watch ", "bold"), (view.contact_id, "bold"), "  ",
                           (view.channel or "?", "cyan"), "  ", (view.status, status_style),
                           f"  {len(view.turns)} turns, {view.segments} segments")
    transcript = Table.grid(padding=(0, 1))
    transcript.add_column(justify="right", no_wrap=True)
    transcript.add_column(no_wrap=True)
    transcript.add_column(ratio=1)
    turns = list(view.turns.values())
    hidden = 0
    if max_turns is not None and len(turns) > max_turns:
        hidden = len(turns) - max_turns
        turns = turns[-max_turns:]
    for number, turn in enumerate(turns, start=hidden + 1):
        who = Text(turn.role or "?", style=ROLE_STYLE.get(turn.role, "bold"))
        if turn.name and turn.name != turn.role:
            who.append(f" {turn.name[:20]}", style="dim")
        dot = Text("●", style=SENTIMENT_STYLE[turn.sentiment]) if turn.sentiment in SENTIMENT_STYLE else Text("·")
        transcript.add_row(Text(f"{number}", style="dim"), Text.assemble(dot, " ", who), _styled_content(turn))
    title = "Transcript" + (f" (last {len(turns)} of {len(view.turns)})" if hidden else "")
    legend = Text.assemble(("● positive", "green"), "  ", ("● neutral", "grey70"), "  ", ("● negative", "red"),
                           "  ", ("redacted", REDACTED_STYLE), "  ", ("issue", ISSUE_STYLE))
    parts: list[Any] = [header, Panel(transcript if turns else Text("waiting for the first turn…", style="dim"),
                                      title=title, subtitle=legend, title_align="left")]
    side = Table.grid(padding=(0, 2))
    side.add_column()
    side.add_column()
    categories = Text()
    for name, where in view.categories:
        categories.append("◆ ", style="bold yellow")
        categories.append(name, style="bold")
        categories.append(f" {where}\n" if where else "\n", style="dim")
    if not view.categories:
        categories.append("none yet", style="dim")
    trend = Group(*[_trend_line(view, role) for role in ("CUSTOMER", "AGENT")])
    side.add_row(Panel(categories, title="Categories", title_align="left"),
                 Panel(trend, title="Sentiment trend", title_align="left"))
    parts.append(side)
    if view.summary_status:
        if view.summary_status == "COMPLETED":
            body = Text(view.summary or "")
        else:
            body = Text(f"{view.summary_status}: {view.summary_failure or 'no summary'}", style="red")
        parts.append(Panel(body, title="Post-contact summary", title_align="left", border_style="green"))
    return Group(*parts)


def _channel(connect: Any, instance_id: str, contact_id: str) -> str:
    return str(connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]["Channel"])


@click.command()
@click.option("--instance-id", required=True, help="The identifier of the Amazon Connect instance.")
@click.option("--contact-id", required=True, help="The identifier of the contact.")
@click.option("--output-type", type=click.Choice(["Redacted", "Raw"]), default=None,
              help="Chat only: which text to show [default: Redacted where the contact has it, else Raw].")
@click.option("--once", is_flag=True, help="Draw what is there now and exit (no live refresh).")
@client_options
def watch(instance_id: str, contact_id: str, output_type: str | None, once: bool, endpoint_url: str | None,
          profile: str | None, region: str | None, no_verify_ssl: bool, debug: bool) -> None:
    """A live terminal view of one contact, until its analysis is COMPLETED or FAILED (Ctrl-C leaves)."""
    from rich.console import Console
    from rich.live import Live

    from livelens.cli import segments

    console = Console()
    with one_line_errors(debug):
        session, url = connect_clients(profile, region, endpoint_url, no_verify_ssl, debug)
        verify = False if no_verify_ssl else None
        connect = session.create_client("connect", endpoint_url=url, verify=verify)
        channel = _channel(connect, instance_id, contact_id)
        view = ContactView(contact_id, channel=channel)
        client, operation = connect, V2_OPERATION
        if channel == "VOICE":
            client = lens = session.create_client("connect-contact-lens", endpoint_url=url, verify=verify)
            operation = V1_OPERATION
            call = lens.list_realtime_contact_analysis_segments
            params: dict[str, Any] = {"InstanceId": instance_id, "ContactId": contact_id}
        else:
            call = connect.list_realtime_contact_analysis_segments_v2
            params = {"InstanceId": instance_id, "ContactId": contact_id, "SegmentTypes": V2_TYPES,
                      "OutputType": output_type or "Redacted"}
            if output_type is None:
                try:
                    call(**params, MaxResults=1)
                except connect.exceptions.OutputTypeNotFoundException:
                    params["OutputType"] = "Raw"

        def max_turns() -> int:
            return max(3, console.size.height - 14)

        if once or not console.is_terminal:
            final = segments.collect(call, params, ["Channel", "Status", "Segments", "NextToken"])
            for segment in final["Segments"]:
                view.add(segment, final)
            if "Status" not in final and "NextToken" not in final:
                view.status = "COMPLETED"
            console.print(render(view))
            return
        with Live(render(view, max_turns()), console=console, auto_refresh=False, screen=False) as live:

            def emit(segment: dict[str, Any], page: dict[str, Any]) -> None:
                view.add(segment, page)
                live.update(render(view, max_turns()), refresh=True)

            def poll(params: dict[str, Any], starting_token: str | None) -> Any:
                return segments.follow(call, params, emit, starting_token=starting_token)

            try:  # pushed over the segment stream; polling where the server has none (cli/push.py)
                last = follow_stream(client, operation, params, emit, starting_token=None, verify=verify,
                                     poll=poll, parser_factory=session.get_component("response_parser_factory"))
            except KeyboardInterrupt:
                live.stop()
                sys.exit(0)
            view.status = str((last or {}).get("Status") or "COMPLETED")
            live.update(render(view, max_turns()), refresh=True)
