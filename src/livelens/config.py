"""Server settings, declared once.

Every setting has a name, a default and a help text (``SETTINGS``). Values
come from, in increasing priority: the defaults, ``LIVELENS_<NAME>``
environment variables, then explicit overrides (the ``serve`` command's
options). A test checks that README.md documents every setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _voice_model(value: str) -> str:
    if value not in ("tiny.en", "base"):
        raise ValueError(f"{value!r} is not a speech model; choose tiny.en or base")
    return value


def _voice_window(value: str) -> str:
    if value not in ("utterance", "full"):
        raise ValueError(f"{value!r} is not an encoder window; choose utterance or full")
    return value


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


REDACTION_POLICIES = ("None", "RedactedAndOriginal", "RedactedOnly")
REDACTION_MASKS = ("PII", "ENTITY_TYPE")

SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Interface the server listens on."),
    Setting("port", 8765, "TCP port the server listens on (0 picks a free one).", int),
    Setting("db", "livelens.db", "SQLite database file (created if missing), or a PostgreSQL URL "
            "postgresql://user@host:port/dbname for several nodes and workers (docs/deploy.md)."),
    Setting(
        "credentials",
        "",
        "Credentials file with one 'ACCESS_KEY_ID SECRET_ACCESS_KEY' pair per line. "
        "Empty: use LIVELENS_CREDENTIALS, else generate a pair beside the database (in it, on PostgreSQL).",
    ),
    Setting("uploads_dir", "", "Folder for chat attachments (default: 'uploads' beside the database; "
            "on PostgreSQL they are kept in the database)."),
    Setting("recordings_dir", "", "Folder for call recordings (default: 'recordings' beside the database; "
            "on PostgreSQL they are kept in the database). docs/voice.md#recordings."),
    Setting("account_id", "123456789012", "AWS account id used in the ARNs livelens returns."),
    Setting(
        "default_redaction",
        "RedactedAndOriginal",
        "Redaction policy of new instances: None, RedactedAndOriginal or RedactedOnly.",
    ),
    Setting("default_language", "en-US", "Language of new instances' contacts."),
    Setting(
        "analysis",
        "redaction,sentiment,issues,summary",
        "Comma-separated analysers run on every turn of new instances.",
    ),
    Setting("redaction_mask", "PII", "How redacted spans read: PII ('[PII]') or ENTITY_TYPE ('[EMAIL]')."),
    Setting("summary_generator", "extractive", "Post-contact summary generator: extractive or openai."),
    Setting("summary_url", "", "Base URL of an OpenAI-compatible API for summary_generator=openai."),
    Setting("summary_model", "", "Model name sent to the OpenAI-compatible API."),
    Setting("summary_api_key", "", "Bearer key for the OpenAI-compatible API (optional)."),
    Setting("summary_timeout", 30.0, "Seconds to wait for the OpenAI-compatible API.", float),
    Setting("chat_duration_minutes", 1500, "Default lifetime of a chat contact's participant tokens.", int),
    Setting("max_clock_skew", 300, "Seconds a SigV4 X-Amz-Date may differ from the server clock.", int),
    Setting("max_body_bytes", 2 * 1024 * 1024, "Largest request body (attachment uploads: their announced size).", int),
    Setting("header_timeout", 10.0, "Seconds a connection may take to send a request's head.", float),
    Setting("idle_timeout", 30.0, "Seconds a request body may pause between chunks.", float),
    Setting("max_connections", 1000, "Open connections beyond which new requests get HTTP 503.", int),
    Setting("max_inflight", 256, "Requests in progress at once, in all (more: ThrottlingException).", int),
    Setting("max_inflight_per_client", 32, "Requests in progress at once per client address.", int),
    Setting("validate_responses", False, "Check every response against the service model (tests).", _bool),
    Setting("log_level", "info", "Log level: debug, info, warning or error."),
    Setting(
        "analysis_workers",
        "auto",
        "Analysis worker processes serve starts: auto (one per CPU core), a number, or 0 to analyse in the "
        "server process.",
    ),
    Setting("analysis_batch", 16, "Contacts an analysis worker claims and analyses together per round.", int),
    Setting(
        "analysis_lease_seconds",
        10.0,
        "How long a worker's claim on a contact lasts without a heartbeat; after a worker dies its contacts "
        "resume this long after its last heartbeat.",
        float,
    ),
    Setting(
        "analysis_poll_interval",
        1.0,
        "Seconds an idle worker waits for a wake-up before looking for pending items anyway.",
        float,
    ),
    Setting(
        "skip_unavailable_analysers",
        False,
        "Start even if an analyser's model cannot load: run without it and say so (default: refuse to start).",
        _bool,
    ),
    Setting(
        "chat_idle_timeout_minutes",
        30.0,
        "End a chat contact when no participant has sent anything for this long (0: never; "
        "Amazon Connect's participant timers take 2 to 480).",
        float,
    ),
    Setting("voice_silence_timeout_seconds", 300.0, "End a voice contact after this much silence (0: never).", float),
    Setting("extractor", "offline", "Information extractor of EXTRACT_INFORMATION rule actions: offline, or openai "
            "(the summary's summary_url, summary_model, summary_api_key, summary_timeout)."),
    Setting("throttle", "default", "Request throttling per access key and operation: default (generous), "
            "aws (Amazon Connect's documented quotas) or off."),
    Setting(
        "public_url",
        "",
        "Base URL clients reach the server at (e.g. https://livelens.example.com behind a proxy); used in the "
        "URLs livelens hands out (chat websocket, attachment uploads). Empty: from each request's Host.",
    ),
    Setting("stream_poll_interval", 0.01, "Seconds between checks of the instance event log's newest position by "
            "the open segment streams (/livelens/v1/.../stream) of a process; the log itself is read only when "
            "it moved. The most a new segment waits to be pushed.", float),
    Setting("stream_heartbeat_seconds", 15.0, "Seconds of silence after which a segment stream sends a ': ping' "
            "comment, so proxies keep idle streams open.", float),
    Setting("dashboard_session_hours", 8.0, "Hours a dashboard sign-in lasts (the session cookie's expiry).",
            float),
    Setting("dashboard_wall_interval", 0.5, "Seconds between the live wall's reads of the database (live "
            "contacts, their segment marks) while a dashboard watches an instance.", float),
    Setting("dashboard_recent_minutes", 30.0, "Minutes an ended contact stays on the live wall.", float),
    Setting("voice_decode_threads", 2, "Cores that decode speech of audio streams (/livelens/v1/.../audio): "
            "batches of utterances (with voice_batch=1 single utterances) decoded side by side, one core each "
            "(needs the voice extra).", int),
    Setting("voice_batch", 8, "Utterances of all audio streams decoded together in one batch (what is waiting "
            "when the decoder frees up, at most this many); 1: one by one.", int),
    Setting("voice_model", "tiny.en", "Speech model: tiny.en (the voice extra) or base (the voice-base extra, "
            "Whisper base).", _voice_model),
    Setting("voice_window", "utterance", "Encoder window of the speech model: utterance (the utterance's audio, at "
            "least 17.5 s: cheaper) or full (Whisper's 30 s window, as faster-whisper pads).", _voice_window),
    Setting("voice_partial_seconds", 1.0, "While speech goes on, re-decode the utterance heard so far every this many "
            "seconds of audio and push it as a partial (audio socket, segment stream); 0 turns partials off.", float),
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    db: str = "livelens.db"
    credentials: str = ""
    uploads_dir: str = ""
    recordings_dir: str = ""
    account_id: str = "123456789012"
    default_redaction: str = "RedactedAndOriginal"
    default_language: str = "en-US"
    analysis: str = "redaction,sentiment,issues,summary"
    redaction_mask: str = "PII"
    summary_generator: str = "extractive"
    summary_url: str = ""
    summary_model: str = ""
    summary_api_key: str = ""
    summary_timeout: float = 30.0
    chat_duration_minutes: int = 1500
    max_clock_skew: int = 300
    max_body_bytes: int = 2 * 1024 * 1024
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_connections: int = 1000
    max_inflight: int = 256
    max_inflight_per_client: int = 32
    validate_responses: bool = False
    log_level: str = "info"
    analysis_workers: str = "auto"
    analysis_batch: int = 16
    analysis_lease_seconds: float = 10.0
    analysis_poll_interval: float = 1.0
    skip_unavailable_analysers: bool = False
    chat_idle_timeout_minutes: float = 30.0
    voice_silence_timeout_seconds: float = 300.0
    extractor: str = "offline"
    throttle: str = "default"
    public_url: str = ""
    stream_poll_interval: float = 0.01
    stream_heartbeat_seconds: float = 15.0
    dashboard_session_hours: float = 8.0
    dashboard_wall_interval: float = 0.5
    dashboard_recent_minutes: float = 30.0
    voice_decode_threads: int = 2
    voice_batch: int = 8
    voice_model: str = "tiny.en"
    voice_window: str = "utterance"
    voice_partial_seconds: float = 1.0

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults ← ``LIVELENS_*`` environment ← ``overrides`` (``None`` values are skipped)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(f"LIVELENS_{setting.name.upper()}")
            if raw is not None:
                try:
                    values[setting.name] = setting.parse(raw)
                except ValueError as exc:
                    raise ValueError(f"LIVELENS_{setting.name.upper()}: {exc}") from exc
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        settings = replace(cls(), **values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.default_redaction not in REDACTION_POLICIES:
            raise ValueError(f"default_redaction must be one of {', '.join(REDACTION_POLICIES)}")
        if self.redaction_mask not in REDACTION_MASKS:
            raise ValueError(f"redaction_mask must be one of {', '.join(REDACTION_MASKS)}")
        if self.summary_generator not in ("extractive", "openai"):
            raise ValueError("summary_generator must be extractive or openai")
        if self.summary_generator == "openai" and not (self.summary_url and self.summary_model):
            raise ValueError("summary_generator=openai needs summary_url and summary_model")
        for name in ("max_body_bytes", "header_timeout", "idle_timeout", "max_connections", "max_inflight",
                     "max_inflight_per_client"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.extractor not in ("offline", "openai"):
            raise ValueError("extractor must be offline or openai")
        if self.extractor == "openai" and not (self.summary_url and self.summary_model):
            raise ValueError("extractor=openai needs summary_url and summary_model")
        if self.throttle not in ("default", "aws", "off"):
            raise ValueError("throttle must be default, aws or off")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.analysis_workers != "auto" and not (
            self.analysis_workers.isdigit() and int(self.analysis_workers) <= 256
        ):
            raise ValueError("analysis_workers must be auto or a number from 0 to 256")
        if not 1 <= self.analysis_batch <= 256:
            raise ValueError("analysis_batch must be between 1 and 256")
        if not 0.5 <= self.analysis_lease_seconds <= 3600:
            raise ValueError("analysis_lease_seconds must be between 0.5 and 3600")
        if not 0.01 <= self.analysis_poll_interval <= 60:
            raise ValueError("analysis_poll_interval must be between 0.01 and 60")
        if not 0.005 <= self.stream_poll_interval <= 60:
            raise ValueError("stream_poll_interval must be between 0.005 and 60")
        if not 1 <= self.stream_heartbeat_seconds <= 3600:
            raise ValueError("stream_heartbeat_seconds must be between 1 and 3600")
        if not 0.01 <= self.dashboard_session_hours <= 24 * 30:
            raise ValueError("dashboard_session_hours must be between 0.01 and 720")
        if not 0.05 <= self.dashboard_wall_interval <= 60:
            raise ValueError("dashboard_wall_interval must be between 0.05 and 60")
        if self.dashboard_recent_minutes < 0:
            raise ValueError("dashboard_recent_minutes must be 0 or more")
        if self.chat_idle_timeout_minutes < 0 or self.voice_silence_timeout_seconds < 0:
            raise ValueError("chat_idle_timeout_minutes and voice_silence_timeout_seconds must be 0 or more")

    @property
    def db_path(self) -> Path:
        return Path(self.db).expanduser()

    @property
    def db_display(self) -> str:
        """The database as messages name it (a PostgreSQL URL without its password)."""
        from livelens.startup import hide_password
        from livelens.storage import is_postgres_url

        return hide_password(self.db) if is_postgres_url(self.db) else str(self.db_path)

    @property
    def uploads_path(self) -> Path:
        if self.uploads_dir:
            return Path(self.uploads_dir).expanduser()
        return self.db_path.resolve().parent / "uploads"

    @property
    def recordings_path(self) -> Path:
        if self.recordings_dir:
            return Path(self.recordings_dir).expanduser()
        return self.db_path.resolve().parent / "recordings"

    @property
    def analysis_worker_count(self) -> int:
        """Worker processes to start: ``auto`` is one per CPU core this process may run on."""
        if self.analysis_workers == "auto":
            return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        return int(self.analysis_workers)

    def environment(self) -> dict[str, str]:
        """These settings as ``LIVELENS_*`` variables (what ``serve`` passes to its worker processes)."""
        env = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            env[f"LIVELENS_{setting.name.upper()}"] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return env

    @property
    def analysis_components(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.analysis.split(",") if name.strip())


assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)], "SETTINGS and Settings disagree"
assert all(s.default == getattr(Settings(), s.name) for s in SETTINGS), "SETTINGS defaults disagree"
