"""A contact's segments folded into the live wall's card (pure: no I/O).

The wall shows, per contact: its channel and participants, the last turn,
the customer's sentiment and its trend, the latest issue, the categories
matched and the alerts (each rule that fired, with the words it matched).
:class:`Card` takes the segments one at a time, in log order, exactly as
the list operations return them (V2 for CHAT, V1 for VOICE), so the wall
shows only what those operations would show the same caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SENTIMENT_SCORE = {"POSITIVE": 1.0, "NEUTRAL": 0.0, "MIXED": 0.0, "NEGATIVE": -1.0}
#: Turns remembered per contact to quote the words an alert matched (points of interest name recent turns).
REMEMBERED_TURNS = 50
TREND_WINDOW = 3


def trend(scores: list[float]) -> str:
    """``up``, ``down`` or ``flat``: the customer's latest sentiment against the mean of the few before it."""
    if len(scores) < 2:
        return "flat"
    before = scores[-1 - TREND_WINDOW:-1]
    delta = scores[-1] - sum(before) / len(before)
    return "up" if delta > 0.25 else "down" if delta < -0.25 else "flat"


@dataclass
class Alert:
    rule: str
    matched: list[str] = field(default_factory=list)


@dataclass
class Card:
    contact_id: str
    channel: str
    initiation: str
    participants: list[str] = field(default_factory=list)
    disconnect: str | None = None
    status: str = "IN_PROGRESS"
    ended: bool = False
    turns: int = 0
    last_turn: dict[str, str] | None = None
    sentiments: list[float] = field(default_factory=list)  # the customer's, in order
    sentiment: str | None = None
    issue: str | None = None
    categories: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    summary: str | None = None
    _texts: dict[str, str] = field(default_factory=dict, repr=False)
    _voice_turns: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    def apply(self, segment: dict[str, Any]) -> None:
        """Fold one segment (``{"<SegmentType>": {...}}``) into the card."""
        for kind, body in segment.items():
            if kind == "Transcript":
                self._transcript(body)
            elif kind == "Issues":
                for issue in body.get("IssuesDetected") or []:
                    for item in issue.get("TranscriptItems") or []:
                        if item.get("Content"):
                            self.issue = item["Content"]
            elif kind == "Categories":
                self._categories(body)
            elif kind == "PostContactSummary":
                if body.get("Content"):
                    self.summary = body["Content"]

    def _transcript(self, body: dict[str, Any]) -> None:
        content = body.get("Content") or ""
        role = body.get("ParticipantRole") or ""
        self.turns += 1
        time = (body.get("Time") or {}).get("AbsoluteTime") or ""
        self.last_turn = {"Role": role, "Content": content, "Time": time}
        name = body.get("DisplayName") or role.title()
        label = f"{name} ({role})" if name and name.upper() != role else role
        if label and label not in self.participants:
            self.participants.append(label)
        if body.get("Id"):
            self._texts[body["Id"]] = content
            if len(self._texts) > REMEMBERED_TURNS:
                del self._texts[next(iter(self._texts))]
        if "BeginOffsetMillis" in body:
            self._voice_turns.append((int(body["BeginOffsetMillis"]), int(body["EndOffsetMillis"]), content))
            del self._voice_turns[:-REMEMBERED_TURNS]
        for issue in body.get("IssuesDetected") or []:  # V1: offsets into this turn's text
            offsets = issue.get("CharacterOffsets") or {}
            text = content[offsets.get("BeginOffsetChar", 0):offsets.get("EndOffsetChar", 0)]
            if text.strip():
                self.issue = text
        sentiment = body.get("Sentiment")
        if role == "CUSTOMER" and sentiment in SENTIMENT_SCORE:
            self.sentiment = sentiment
            self.sentiments.append(SENTIMENT_SCORE[sentiment])

    def _categories(self, body: dict[str, Any]) -> None:
        for name in body.get("MatchedCategories") or []:
            if name not in self.categories:
                self.categories.append(name)
        for name, details in (body.get("MatchedDetails") or {}).items():
            if name not in self.categories:
                self.categories.append(name)
            alert = next((a for a in self.alerts if a.rule == name), None)
            if alert is None:
                alert = Alert(name)
                self.alerts.append(alert)
            for point in details.get("PointsOfInterest") or []:
                text = self._matched_text(point)
                if text and text not in alert.matched:
                    alert.matched.append(text)

    def _matched_text(self, point: dict[str, Any]) -> str | None:
        for item in point.get("TranscriptItems") or []:  # V2: an item id and offsets in its text
            content = self._texts.get(item.get("Id", ""))
            if content is None:
                continue
            offsets = item.get("CharacterOffsets")
            if offsets is None:
                return content
            return content[offsets["BeginOffsetChar"]:offsets["EndOffsetChar"]]
        if "BeginOffsetMillis" in point:  # V1: a time span; quote the turns it covers
            begin, end = int(point["BeginOffsetMillis"]), int(point["EndOffsetMillis"])
            texts = [text for b, e, text in self._voice_turns if b < end and e > begin]
            return " … ".join(texts) or None
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "ContactId": self.contact_id,
            "Channel": self.channel,
            "InitiationTimestamp": self.initiation,
            "DisconnectTimestamp": self.disconnect,
            "Status": self.status,
            "Ended": self.ended,
            "Participants": self.participants,
            "Turns": self.turns,
            "LastTurn": self.last_turn,
            "Sentiment": self.sentiment,
            "SentimentScores": self.sentiments[-20:],
            "Trend": trend(self.sentiments),
            "Issue": self.issue,
            "Categories": self.categories,
            "Alerts": [{"Rule": a.rule, "Matched": a.matched[:10]} for a in self.alerts],
            "Summary": self.summary,
        }
