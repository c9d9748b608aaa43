"""The composition root: ``create_app(settings)`` wires storage → contacts → api."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from livelens.analysis.extraction import Extractor, LlmExtractor, OfflineExtractor
from livelens.api.app import WireEndpoint
from livelens.api.auth import SigV4Verifier, generate_credentials, load_credentials, load_policies
from livelens.api.authz import Authorizer, Policy
from livelens.api.context import Services
from livelens.api.instance_stream import PATH as INSTANCE_STREAM_PATH
from livelens.api.instance_stream import InstanceStream
from livelens.api.limits import InflightLimiter
from livelens.api.recordings import GET_PATH as RECORDING_PATH
from livelens.api.recordings import LIST_PATH as RECORDINGS_PATH
from livelens.api.recordings import RecordingEndpoint
from livelens.api.routing import load_service_models
from livelens.api.serialize import error_body
from livelens.api.stream import PATH as STREAM_PATH
from livelens.api.stream import SegmentStream
from livelens.api.throttle import Throttle
from livelens.config import Settings
from livelens.contacts.analysis_worker import Analyser, Pipeline
from livelens.contacts.extraction import ExtractionBook
from livelens.contacts.lifecycle import InactivityTimeouts, end_inactive_contacts
from livelens.contacts.models import Contact
from livelens.contacts.next_token import NextTokenCodec
from livelens.contacts.rule_book import RuleBook
from livelens.contacts.rule_runner import RuleRunner
from livelens.contacts.search import ContactSearch
from livelens.contacts.segment_log import SegmentLog
from livelens.contacts.service import ContactCenter, InstanceDefaults
from livelens.contacts.stream_webhooks import pump as pump_stream_events
from livelens.contacts.tags import TagBook
from livelens.contacts.tokens import TokenIssuer
from livelens.dashboard.routes import Dashboard
from livelens.dashboard.session import SessionSigner
from livelens.dashboard.wall import Wall
from livelens.health import HEALTH_PATH, METRICS_PATH, Observatory
from livelens.ingest.chat import ChatIngest, Uploads
from livelens.ingest.sessions import SocketSessions
from livelens.ingest.voice import VoiceIngest
from livelens.ingest.wakeups import ItemWakeups
from livelens.ingest.websocket import PATH as WEBSOCKET_PATH
from livelens.ingest.websocket import ParticipantWebsocket
from livelens.rules.alerts import Deliverer
from livelens.storage import Storage, is_postgres_url, open_storage
from livelens.storage.base import StorageConflict, StorageUnavailable
from livelens.voice import configure as configure_voice
from livelens.voice import unavailable_reason
from livelens.voice.partials import PartialHub
from livelens.voice.recording import RecordingStore
from livelens.voice.stream import PATH as AUDIO_PATH
from livelens.voice.stream import AudioStream
from livelens.voice.transcribe import PATH as TRANSCRIBE_PATH
from livelens.voice.transcribe import TranscribeStream
from livelens.worker.loop import Worker
from livelens.worker.notify import DatagramNotifier, EventWaker, Notifier, Notifiers, wake_directory
from livelens.worker.supervisor import Supervisor

log = logging.getLogger("livelens")


@dataclass
class Runtime:
    """Everything ``create_app`` built, for the CLI and tests."""

    settings: Settings
    storage: Storage
    services: Services
    worker: Worker | None  # the in-process worker (--analysis-workers 0), else None
    credentials: dict[str, str]
    generated_credentials: tuple[str, str] | None
    deliverer: Deliverer | None = None
    supervisor: Supervisor | None = None  # the worker processes (--analysis-workers N > 0)
    notifier: Notifier | None = None
    policies: dict[str, Policy] = field(default_factory=dict)
    unavailable: frozenset[str] = frozenset()  # analysers left out (skip_unavailable_analysers)
    wakeups: ItemWakeups = field(default_factory=ItemWakeups)  # wakes this node's participant websockets


def server_key(storage: Storage) -> bytes:
    """The secret behind NextTokens and participant tokens, made once per database."""
    with storage.write() as tx:
        key = tx.get_meta("server_key")
        if key is None:
            key = secrets.token_hex(32)
            tx.set_meta("server_key", key)
    return bytes.fromhex(key)


def shared_credentials(settings: Settings, storage: Storage) -> tuple[dict[str, str], tuple[str, str] | None,
                                                                        dict[str, Policy]]:
    """Credentials of a node on PostgreSQL: the declared ones (``--credentials``, ``LIVELENS_CREDENTIALS``),
    else the pair generated once per database and kept in it, so that every node accepts the same keys;
    the pair generated now (if this node made it) and the policies declared."""
    no_file = Path(os.devnull) / "livelens-credentials"  # never a file: nothing is kept beside a URL
    if settings.credentials or os.environ.get("LIVELENS_CREDENTIALS", "").strip():
        credentials, _ = load_credentials(settings.credentials, os.environ, no_file)
        return credentials, None, load_policies(settings.credentials, os.environ, no_file)
    generated = None
    with storage.write() as tx:
        pair = tx.get_meta("generated_credentials")
        if pair is None:
            generated = generate_credentials()
            pair = " ".join(generated)
            tx.set_meta("generated_credentials", pair)
    access_key, secret = pair.split()
    return {access_key: secret}, generated, {}


def extractor_for(settings: Settings) -> Extractor:
    """The EXTRACT_INFORMATION extractor (models load on first use, shared with the pipeline's)."""
    if settings.extractor == "openai":
        return LlmExtractor(settings.summary_url, settings.summary_model, settings.summary_api_key or None,
                            settings.summary_timeout)
    return OfflineExtractor()


def analysis_config(settings: Settings, mask: str) -> dict[str, dict[str, Any]]:
    """The analysers' config from the settings (``mask``: the instance's redaction mask)."""
    summary = {
        "generator": settings.summary_generator,
        **({"url": settings.summary_url, "model": settings.summary_model, "timeout": settings.summary_timeout}
           if settings.summary_generator == "openai" else {}),
        **({"api_key": settings.summary_api_key} if settings.summary_api_key else {}),
    }
    return {"redaction": {"mask": mask}, "summary": summary}


def pipeline_factory(settings: Settings, unavailable: frozenset[str] = frozenset()) -> Callable[[Contact], Pipeline]:
    """Per contact, the analysis pipeline its instance chose (models load once per process).

    ``unavailable``: analysers that could not load and that the server runs without
    (``skip_unavailable_analysers``); they are left out of every pipeline.
    """
    from livelens.analysis import load_pipeline

    @functools.lru_cache(maxsize=64)
    def build(components: tuple[str, ...], mask: str) -> Pipeline:
        return load_pipeline(components, analysis_config(settings, mask))

    def pipeline_for(contact: Contact) -> Pipeline:
        skip = unavailable | {"summary"}
        return build(tuple(name for name in contact.analysis if name not in skip), contact.redaction_mask)

    return pipeline_for


def contact_center(settings: Settings, storage: Storage, pipeline_for: Callable[[Contact], Pipeline]) -> ContactCenter:
    key = server_key(storage)
    return ContactCenter(
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


def embedder() -> Any:
    from livelens.analysis.embeddings import load_embedder

    return load_embedder().embed  # loaded once per process, on the first semantic rule


def warm_up(settings: Settings, unavailable: frozenset[str] = frozenset()) -> None:
    """Load the default pipeline's models (before the first turn arrives)."""
    from livelens.analysis import load_pipeline

    load_pipeline(tuple(n for n in settings.analysis_components if n not in unavailable | {"summary"}),
                  analysis_config(settings, settings.redaction_mask))


def build_worker(settings: Settings, storage: Storage, center: ContactCenter, waker: Any,
                 on_alert: Callable[[], None] = lambda: None, unavailable: frozenset[str] = frozenset()) -> Worker:
    """An analysis worker over ``storage`` (in the server, or in a ``livelens worker`` process)."""
    rules = RuleRunner(center, embedder, on_alert=on_alert, extractor=extractor_for(settings),
                       extractor_is_local=settings.extractor == "offline")
    analyser = Analyser(pipeline_factory(settings, unavailable), rules)
    return Worker(
        storage, analyser, rules, waker,
        lease_seconds=settings.analysis_lease_seconds,
        batch=settings.analysis_batch,
        poll_interval=settings.analysis_poll_interval,
    )


def free_dead_workers_claims(storage: Storage) -> int:
    """End the claims of workers of this host whose process is gone (serve or a worker was killed);
    the number of contacts freed. Workers elsewhere are left to their lease expiry."""
    host = socket.gethostname()
    freed = 0
    with storage.write() as tx:
        for worker in tx.list_workers(alive_since=0):
            if worker["host"] != host:
                continue
            try:
                os.kill(int(worker["pid"]), 0)
                continue  # alive (or the pid was reused: then the lease expiry covers it)
            except ProcessLookupError:
                freed += tx.expire_claims(f"{host}:{worker['pid']}:")
            except PermissionError:
                continue
    return freed


def build_runtime(settings: Settings, storage: Storage | None = None,
                  unavailable: frozenset[str] = frozenset()) -> Runtime:
    """Wire everything; ``storage`` and ``unavailable`` come from the start-up checks (``livelens.startup``)."""
    storage = storage or open_storage(settings.db)
    free_dead_workers_claims(storage)
    if is_postgres_url(settings.db):
        credentials, generated, policies = shared_credentials(settings, storage)
    else:
        generated_path = Path(settings.db).expanduser().resolve().parent / "livelens-credentials"
        credentials, generated = load_credentials(settings.credentials, os.environ, generated_path)
        policies = load_policies(settings.credentials, os.environ, generated_path)
    pipeline_for = pipeline_factory(settings, unavailable)
    center = contact_center(settings, storage, pipeline_for)
    deliverer = Deliverer(storage, pump=functools.partial(pump_stream_events, storage, center.account_id))
    # Worker processes on this machine (ours, or `livelens worker` run by hand) wake on a datagram;
    # on PostgreSQL every worker on any machine wakes on NOTIFY (livelens.worker.pg_notify).
    notifiers: list[Notifier] = [DatagramNotifier(wake_directory(settings.db))]
    if is_postgres_url(settings.db):
        from livelens.worker.pg_notify import PostgresNotifier

        notifiers.append(PostgresNotifier(storage.pool))  # type: ignore[attr-defined]
    worker = supervisor = None
    if settings.analysis_worker_count == 0:
        waker = EventWaker()
        notifiers.append(waker)
        worker = build_worker(settings, storage, center, waker, on_alert=deliverer.notify, unavailable=unavailable)
    else:
        def free_claims(pid: int) -> None:
            with storage.write() as tx:
                tx.expire_claims(f"{socket.gethostname()}:{pid}:")

        supervisor = Supervisor(settings, settings.analysis_worker_count, on_exit=free_claims)
    wakeups = ItemWakeups()
    notifiers.append(wakeups)
    notifier = Notifiers(notifiers)
    center.on_item = notifier.notify
    services = Services(
        center=center,
        segments=SegmentLog(center),
        chat=ChatIngest(center, Uploads(settings.uploads_path, in_database=is_postgres_url(settings.db))),
        voice=VoiceIngest(center),
        rules=RuleBook(center, embedder),
        tags=TagBook(center, center._instance_settings),
        extraction=ExtractionBook(center),
        search=ContactSearch(center),
    )
    return Runtime(settings, storage, services, worker, credentials, generated, deliverer, supervisor, notifier,
                   policies, unavailable, wakeups)


def inactivity_timeouts(settings: Settings) -> InactivityTimeouts:
    return InactivityTimeouts(
        chat_idle=timedelta(minutes=settings.chat_idle_timeout_minutes),
        voice_silence=timedelta(seconds=settings.voice_silence_timeout_seconds),
    )


async def end_inactive_contacts_forever(runtime: Runtime) -> None:
    """End idle, silent and expired contacts (contacts/lifecycle.py), every ``sweep_seconds``."""
    timeouts = inactivity_timeouts(runtime.settings)
    while True:
        await asyncio.sleep(timeouts.sweep_seconds)
        try:
            await asyncio.to_thread(end_inactive_contacts, runtime.services.center, timeouts, datetime.now(UTC))
        except Exception as exc:  # a busy database: try again at the next sweep
            log.warning("ending inactive contacts failed (%s); retrying", exc)


async def storage_unavailable(connection: HTTPConnection, exc: Exception) -> Response | None:
    """A database that cannot be reached (or a conflict it aborted) on the routes beside the wire endpoint
    (streams, recordings, sockets) gets what the wire endpoint gives (api/app.py): one log line and a
    retryable AWS-shaped 500, not Starlette's bare 500 and a traceback. A socket is closed (1011)."""
    conflict = isinstance(exc, StorageConflict)
    log.warning("%s %s not served: %s (%s)", connection.scope.get("method", "WEBSOCKET"), connection.url.path,
                "conflicted with a concurrent request" if conflict else "database unavailable", exc)
    if isinstance(connection, WebSocket):
        await connection.close(code=1011)
        return None
    request_id = str(uuid.uuid4())
    reason = "The request conflicted with a concurrent change" if conflict else "The database is unavailable"
    message = f"{reason}; nothing was changed, retry (request id {request_id})."
    body = error_body("InternalServiceException", message)
    return Response(body, 500, media_type="application/json",
                    headers={"x-amzn-ErrorType": "InternalServiceException", "x-amzn-RequestId": request_id})


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    runtime = runtime or build_runtime(settings)
    verifier = SigV4Verifier(runtime.credentials, settings.max_clock_skew)
    authorizer = Authorizer(runtime.storage, runtime.policies, account_id=settings.account_id)
    endpoint = WireEndpoint(
        runtime.services,
        load_service_models(),
        verifier,
        validate_responses=settings.validate_responses,
        max_body_bytes=settings.max_body_bytes,
        idle_timeout=settings.idle_timeout,
        limiter=InflightLimiter(settings.max_inflight, settings.max_inflight_per_client),
        authorizer=authorizer,
        throttle=Throttle(settings.throttle),
        public_url=settings.public_url,
    )
    partials = PartialHub()
    stream = SegmentStream(runtime.services.segments, verifier, authorizer,
                           poll_interval=settings.stream_poll_interval,
                           heartbeat_seconds=settings.stream_heartbeat_seconds,
                           base_url=endpoint.base_url, partials=partials)
    instance_stream = InstanceStream(stream)
    supervisor = runtime.supervisor
    observatory = Observatory(
        runtime.storage,
        verifier,
        workers_alive_seconds=3 * max(0.2, min(settings.analysis_lease_seconds / 3, 5.0)) + 1,
        configured_workers=settings.analysis_worker_count,
        restarts=(lambda: supervisor.restarts) if supervisor is not None else (lambda: 0),
    )

    wall = Wall(runtime.services.segments, settings.dashboard_wall_interval, settings.dashboard_recent_minutes,
                settings.stream_heartbeat_seconds)
    services = runtime.services
    assert services.search is not None and services.rules is not None
    dashboard = Dashboard(
        segments=services.segments, search=services.search, rules=services.rules,
        credentials=lambda: runtime.credentials, authorizer=authorizer,
        signer=SessionSigner(server_key(runtime.storage), int(settings.dashboard_session_hours * 3600)),
        stream=stream, wall=wall, secure_cookies=settings.public_url.startswith("https://"),
    )

    sessions = SocketSessions()
    runtime.services.center.on_revoke = sessions.revoke
    # Speech is decoded in its own threads, not in the event loop nor the analysis workers: audio stays in
    # memory (never queued through the database) and CTranslate2 releases the GIL while it decodes.
    configure_voice(settings.voice_model, settings.voice_batch, settings.voice_window)
    # Batched, the pool's threads mostly wait for their batch: enough of them to fill one while another decodes.
    pool = settings.voice_decode_threads if settings.voice_batch <= 1 else 2 * settings.voice_batch
    decoder = ThreadPoolExecutor(max(1, pool), thread_name_prefix="livelens-voice")
    recordings = RecordingStore(settings.recordings_path, in_database=is_postgres_url(settings.db))
    audio = AudioStream(runtime.services.voice, verifier, authorizer, decoder=decoder,
                        decode_threads=max(1, settings.voice_decode_threads), base_url=endpoint.base_url,
                        partials=partials, partial_seconds=settings.voice_partial_seconds, recordings=recordings)
    recording_endpoint = RecordingEndpoint(runtime.services.center, recordings, verifier, authorizer,
                                           endpoint.base_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if runtime.worker is not None:
            worker = runtime.worker

            def work() -> None:
                try:
                    warm_up(settings, runtime.unavailable)  # load the models before the first turn arrives
                except Exception:
                    log.exception("loading the analysis models failed")
                worker.run(stop)

            thread = threading.Thread(target=work, name="livelens-analysis-worker", daemon=True)
            thread.start()
        if runtime.supervisor is not None:
            runtime.supervisor.start()
        if unavailable_reason() is None:  # load the speech model before the first call's audio arrives
            from livelens.voice.recognizer import load_recognizer

            decoder.submit(load_recognizer, max(1, settings.voice_decode_threads))
        alerts = (asyncio.create_task(runtime.deliverer.run(), name="livelens-alert-delivery")
                  if runtime.deliverer is not None else None)
        sweeper = asyncio.create_task(end_inactive_contacts_forever(runtime), name="livelens-contact-timeouts")
        listener = None
        if is_postgres_url(settings.db):  # items accepted by other nodes wake this node's websockets too
            from livelens.worker.pg_notify import ItemListener

            listener = ItemListener(settings.db, runtime.wakeups.notify)
            listener.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            stop.set()
            if runtime.worker is not None:
                runtime.worker.waker.close()
            for running in (alerts, sweeper):
                if running is not None:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            if runtime.supervisor is not None:
                await asyncio.to_thread(runtime.supervisor.stop)
            if thread is not None:
                await asyncio.to_thread(thread.join, 30)
            decoder.shutdown(wait=False, cancel_futures=True)
            runtime.storage.close()

    app = Starlette(
        routes=[
            WebSocketRoute(WEBSOCKET_PATH,
                           ParticipantWebsocket(runtime.services.center, sessions, runtime.wakeups).handle),
            Route(HEALTH_PATH, observatory.health, methods=["GET"]),
            Route(METRICS_PATH, observatory.metrics, methods=["GET"]),
            Route(STREAM_PATH, stream.handle, methods=["GET"]),
            Route(INSTANCE_STREAM_PATH, instance_stream.handle, methods=["GET"]),
            WebSocketRoute(AUDIO_PATH, audio.handle),
            WebSocketRoute(TRANSCRIBE_PATH, TranscribeStream(audio).handle),
            Route(RECORDINGS_PATH, recording_endpoint.list, methods=["GET"]),
            Route(RECORDING_PATH, recording_endpoint.get, methods=["GET"]),
        ],
        lifespan=lifespan,
        # one handler for both kinds of connection (Starlette calls it with the Request or the WebSocket)
        exception_handlers={StorageUnavailable: cast(ExceptionHandler, storage_unavailable)},
    )
    # Every path, whatever it contains, goes to the wire endpoint (a catch-all
    # route's pattern would not match paths with a newline in them).
    async def default(scope: Any, receive: Any, send: Any) -> None:
        # The dashboard: GET / and /dashboard/... (AWS wire requests never use those).
        if scope["type"] == "http" and dashboard.handles(scope["path"]) and (
                scope["path"] != "/" or scope["method"] in ("GET", "HEAD")):
            await dashboard(scope, receive, send)
        else:
            await endpoint.asgi(scope, receive, send)

    app.router.default = default
    app.state.runtime = runtime
    def close_streams() -> None:
        stream.close()
        instance_stream.close()
        wall.close()

    app.state.close_streams = close_streams  # called when a shutdown signal arrives (cli/main.py)
    return app
