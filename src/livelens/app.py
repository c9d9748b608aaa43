"""The composition root: ``create_app(settings)`` wires storage → contacts → api."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from livelens.api.app import WireEndpoint
from livelens.api.auth import SigV4Verifier, load_credentials
from livelens.api.context import Services
from livelens.api.routing import load_service_models
from livelens.config import Settings
from livelens.contacts.analysis_worker import AnalysisWorker, Pipeline
from livelens.contacts.models import Contact
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.rules import RuleBook, RuleRunner
from livelens.contacts.segment_log import SegmentLog
from livelens.contacts.service import ContactCenter, InstanceDefaults
from livelens.contacts.tokens import TokenIssuer
from livelens.ingest.chat import ChatIngest, Uploads
from livelens.ingest.voice import VoiceIngest
from livelens.ingest.websocket import PATH as WEBSOCKET_PATH
from livelens.ingest.websocket import ParticipantWebsocket
from livelens.rules.alerts import Deliverer
from livelens.storage import Storage, open_storage

log = logging.getLogger("livelens")


@dataclass
class Runtime:
    """Everything ``create_app`` built, for the CLI and tests."""

    settings: Settings
    storage: Storage
    services: Services
    worker: AnalysisWorker
    credentials: dict[str, str]
    generated_credentials: tuple[str, str] | None
    deliverer: Deliverer | None = None


def server_key(storage: Storage) -> bytes:
    """The secret behind NextTokens and participant tokens, made once per database."""
    with storage.write() as tx:
        key = tx.get_meta("server_key")
        if key is None:
            key = secrets.token_hex(32)
            tx.set_meta("server_key", key)
    return bytes.fromhex(key)


def pipeline_factory(settings: Settings) -> Callable[[Contact], Pipeline]:
    """Per contact, the analysis pipeline its instance chose (models load once per process)."""
    from livelens.analysis import load_pipeline

    summary = {
        "generator": settings.summary_generator,
        **({"url": settings.summary_url, "model": settings.summary_model, "timeout": settings.summary_timeout}
           if settings.summary_generator == "openai" else {}),
        **({"api_key": settings.summary_api_key} if settings.summary_api_key else {}),
    }

    @functools.lru_cache(maxsize=64)
    def build(components: tuple[str, ...], mask: str) -> Pipeline:
        config: dict[str, dict[str, Any]] = {"redaction": {"mask": mask}, "summary": summary}
        return load_pipeline(components, config)

    def pipeline_for(contact: Contact) -> Pipeline:
        return build(tuple(name for name in contact.analysis if name != "summary"), contact.redaction_mask)

    return pipeline_for


def build_runtime(settings: Settings) -> Runtime:
    storage = open_storage(settings.db)
    key = server_key(storage)
    credentials, generated = load_credentials(
        settings.credentials, os.environ, Path(settings.db).expanduser().resolve().parent / "livelens-credentials"
    )
    pipeline_for = pipeline_factory(settings)
    center = ContactCenter(
        storage,
        account_id=settings.account_id,
        defaults=InstanceDefaults(
            redaction_policy=settings.default_redaction,
            language=settings.default_language,
            analysis=settings.analysis_components,
            redaction_mask=settings.redaction_mask,
            chat_duration_minutes=settings.chat_duration_minutes,
        ),
        tokens=TokenIssuer(key),
        next_tokens=NextTokenCodec(key),
        redactor=lambda contact, turn: pipeline_for(contact).redact(turn),
    )
    def warm_up() -> None:
        from livelens.analysis import load_pipeline

        load_pipeline(tuple(n for n in settings.analysis_components if n != "summary"))

    def embedder() -> Any:
        from livelens.analysis.embeddings import load_embedder

        return load_embedder().embed  # loaded once per process, on the first semantic rule

    deliverer = Deliverer(storage)
    rules = RuleRunner(center, embedder, on_alert=deliverer.notify)
    worker = AnalysisWorker(center, pipeline_for, warm_up, rules=rules)
    center.on_item = worker.notify
    services = Services(
        center=center,
        segments=SegmentLog(center),
        chat=ChatIngest(center, Uploads(settings.uploads_path)),
        voice=VoiceIngest(center),
        rules=RuleBook(center, embedder),
    )
    return Runtime(settings, storage, services, worker, credentials, generated, deliverer)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    runtime = runtime or build_runtime(settings)
    endpoint = WireEndpoint(
        runtime.services,
        load_service_models(),
        SigV4Verifier(runtime.credentials, settings.max_clock_skew),
        validate_responses=settings.validate_responses,
        public_url=settings.public_url,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(runtime.worker.run(), name="livelens-analysis-worker")
        alerts = (asyncio.create_task(runtime.deliverer.run(), name="livelens-alert-delivery")
                  if runtime.deliverer is not None else None)
        try:
            yield
        finally:
            for running in (task, alerts):
                if running is not None:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            runtime.storage.close()

    app = Starlette(
        routes=[WebSocketRoute(WEBSOCKET_PATH, ParticipantWebsocket(runtime.services.center).handle)],
        lifespan=lifespan,
    )
    # Every path, whatever it contains, goes to the wire endpoint (a catch-all
    # route's pattern would not match paths with a newline in them).
    app.router.default = endpoint.asgi
    app.state.runtime = runtime
    return app
