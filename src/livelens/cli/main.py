"""The ``livelens`` command line: ``serve``, ``demo`` and the analysis tools."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from livelens import __version__
from livelens.config import Settings


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP.
    # With proto 0 every answer on a kept-alive connection waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # accept (queue) connections from the moment "listening on" is printed
    sock.set_inheritable(True)
    return sock


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def fail(message: str) -> NoReturn:
    """Print ``livelens: error: MESSAGE`` on stderr and exit 1 (a start-up failure, one line)."""
    click.echo(f"livelens: error: {message}", err=True)
    raise SystemExit(1)


def prepare_server(settings: Settings) -> tuple[Any, socket.socket]:
    """Run the start-up checks in order (port, database, analysers) and build the runtime.

    Every failure is one line on stderr and exit status 1 (see :mod:`livelens.startup`).
    """
    from livelens.analysis import load_pipeline
    from livelens.app import analysis_config, build_runtime
    from livelens.startup import (
        StartupError,
        bind,
        check_analysers,
        check_database_url,
        open_database,
        refuse_or_warn,
    )
    from livelens.storage import open_storage
    from livelens.voice import configure as configure_voice
    from livelens.voice import unavailable_reason

    log = logging.getLogger("livelens")
    try:
        check_database_url(settings.db)
        sock = bind(settings.host, settings.port, _bind)
        storage = open_database(settings.db, open_storage)
        config = analysis_config(settings, settings.redaction_mask)
        report = check_analysers(settings, lambda components: load_pipeline(components, config))
        unavailable = refuse_or_warn(report, settings, log.warning)
        # the model's extra is checked too
        configure_voice(settings.voice_model, settings.voice_batch, settings.voice_window)
        voice_missing = unavailable_reason()
        if voice_missing is not None:
            log.warning("%s", voice_missing)
    except StartupError as exc:
        fail(str(exc))
    return build_runtime(settings, storage, unavailable), sock


def run_server(settings: Settings, on_ready: Any = None) -> None:
    """Check, build the app, print where it listens and how to sign in, and serve until interrupted."""
    import uvicorn

    from livelens.api.limits import guarded_h11
    from livelens.app import create_app
    from livelens.files import restrict_umask

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # presidio's debug lines quote the text it analyses (PII): never below ERROR, whatever log_level says.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    restrict_umask()  # every file this server creates is private to its user (livelens.files)
    runtime, sock = prepare_server(settings)
    app = create_app(settings, runtime)
    host, port = sock.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    access_key, secret_key = runtime.generated_credentials or next(iter(runtime.credentials.items()))
    if runtime.generated_credentials:
        where = "in the database" if "://" in settings.db_display else "beside the database, mode 0600"
        click.echo(f"Generated credentials (stored {where}):")
        click.echo(f"  aws_access_key_id     = {access_key}")
        click.echo(f"  aws_secret_access_key = {secret_key}")
    click.echo(f"livelens {__version__} listening on {url} (database {settings.db_display})", nl=True)
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning" if settings.log_level == "info" else settings.log_level,
                            lifespan="on", http=guarded_h11(settings.header_timeout, settings.max_connections),
                            timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024)
    class Server(uvicorn.Server):
        """uvicorn, ending the app's open segment streams as soon as a shutdown signal arrives
        (uvicorn waits for the responses in flight before it shuts down)."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            app.state.close_streams()

    server = Server(config)
    if on_ready is not None:
        threading.Thread(target=on_ready, args=(server, url, access_key, secret_key), daemon=True).start()
    server.run(sockets=[sock])


@click.group()
@click.version_option(__version__, prog_name="livelens")
def main() -> None:
    """livelens: real-time contact analysis that speaks the Amazon Connect Contact Lens wire protocol."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="TCP port (0 picks a free one) [default: 8765].")
@click.option("--db", default=None,
              help="SQLite database file or postgresql://user@host:port/dbname [default: livelens.db].")
@click.option("--credentials", default=None, type=click.Path(dir_okay=False),
              help="File with one 'ACCESS_KEY_ID SECRET_ACCESS_KEY' pair per line.")
@click.option("--analysis-workers", default=None,
              help="Analysis worker processes: auto (one per core), a number, or 0 (in-process) [default: auto].")
@click.option("--throttle", default=None, type=click.Choice(["default", "aws", "off"]),
              help="Request throttling per access key and operation [default: default].")
def serve(host: str | None, port: int | None, db: str | None, credentials: str | None,
          analysis_workers: str | None, throttle: str | None) -> None:
    """Serve connect, connect-contact-lens and connectparticipant on one port."""
    if credentials is not None and not Path(credentials).is_file():
        raise click.BadParameter(f"no such file: {credentials}", param_hint="--credentials")
    run_server(_settings(host=host, port=port, db=db, credentials=credentials, analysis_workers=analysis_workers,
                         throttle=throttle))


@main.command()
@click.option("--db", default=None,
              help="SQLite database file or postgresql://user@host:port/dbname [default: livelens.db].")
def worker(db: str | None) -> None:
    """Run one analysis worker on a database (serve starts its own; run more, elsewhere, with this)."""
    from livelens.worker.process import run_worker

    run_worker(_settings(db=db))


@main.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="TCP port [default: 8765].")
@click.option("--db", default=None, help="SQLite database file [default: livelens.db].")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Replay speed factor.")
@click.option("--configure/--no-configure", default=True, show_default=True,
              help="Write the AWS profile 'livelens' for this server (see `livelens configure`).")
def demo(host: str | None, port: int | None, db: str | None, speed: float, configure: bool) -> None:
    """Serve, create a demo instance and replay the demo conversations live."""
    run_server(_settings(host=host, port=port, db=db),
               on_ready=lambda *a: _play_demo(*a, speed=speed, configure=configure))


def _play_demo(server: Any, url: str, access_key: str, secret_key: str, *, speed: float, configure: bool) -> None:
    from livelens.cli.setup_commands import DEFAULT_PROFILE, command_path, profile_lines, write_profile
    from livelens.replay import Endpoint, ensure_instance, load_conversation, play

    while not server.started:
        time.sleep(0.05)
    endpoint = Endpoint(url, access_key, secret_key)
    instance_id = ensure_instance(endpoint, "livelens-demo")
    aws, livelens = command_path("aws"), command_path("livelens")
    if configure:
        for line in profile_lines(write_profile(DEFAULT_PROFILE, url, access_key, secret_key)):
            click.echo(line)
        connection = f"--profile {DEFAULT_PROFILE}"
        prefix = ""
    else:
        connection = f"--endpoint-url {url}"
        prefix = f"AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key} AWS_DEFAULT_REGION=us-east-1 "
    ensure_demo_rules(endpoint, instance_id)
    click.echo(f"\nSupervisor dashboard: {url}/?instance={instance_id}#/wall")
    click.echo(f"  Sign in with access key ID {access_key} and secret access key {secret_key}")
    conversations = sorted(
        (f for f in resources.files("livelens.demo").iterdir() if f.name.endswith(".json")), key=lambda f: f.name
    )
    for file in conversations:
        conversation = load_conversation(Path(str(file)))

        announced = threading.Event()

        def announce(contact_id: str, conversation: dict[str, Any] = conversation,
                     announced: threading.Event = announced) -> None:
            ids = f"--instance-id {instance_id} --contact-id {contact_id}"
            if conversation["channel"] == "voice":
                command = f"{aws} {connection} connect-contact-lens list-realtime-contact-analysis-segments {ids}"
            else:
                command = (f"{aws} {connection} connect list-realtime-contact-analysis-segments-v2 {ids} "
                           f"--output-type Redacted --segment-types Transcript Issues Event PostContactSummary")
            click.echo(f"\nReplaying '{conversation['title']}' ({conversation['channel']}) as contact {contact_id}.")
            click.echo("  Paste either line in another shell, to read its segments or to watch it live:")
            click.echo(f"  {prefix}{command}")
            click.echo(f"  {prefix}{livelens} watch {connection} {ids}")
            sys.stdout.flush()
            announced.set()

        threading.Thread(
            target=play, args=(endpoint, instance_id, conversation),
            kwargs={"speed": speed, "on_start": announce}, daemon=True,
        ).start()
        announced.wait(timeout=10)  # contacts are announced in the files' order, also on a busy machine
    _play_demo_call(endpoint, instance_id, f"{prefix}{aws} {connection}", speed)


def _play_demo_call(endpoint: Any, instance_id: str, aws: str, speed: float) -> None:
    """With the voice extra, one call replayed from audio (demo/call.wav) through the audio WebSocket."""
    from livelens.replay import play_audio
    from livelens.voice import unavailable_reason
    from livelens.voice.audio import read_wav

    if unavailable_reason() is not None:
        return
    fmt, pcm = read_wav(Path(str(resources.files("livelens.demo") / "call.wav")))

    def announce(contact_id: str) -> None:
        click.echo(f"\nStreaming a call's audio (demo/call.wav, transcribed offline) as contact {contact_id}.")
        click.echo(f"  {aws} connect-contact-lens list-realtime-contact-analysis-segments "
                   f"--instance-id {instance_id} --contact-id {contact_id}")
        sys.stdout.flush()

    def run() -> None:
        try:
            play_audio(endpoint, instance_id, fmt, pcm, speed=speed, on_start=announce)
        except Exception as exc:  # the demo goes on without its audio call
            click.echo(f"The demo call from audio failed: {exc}", err=True)

    threading.Thread(target=run, daemon=True).start()


#: Rules the demo instance gets, so the dashboard's wall shows alerts (Contact Lens rule functions).
DEMO_RULES = {
    "Refund or double charge": 'customer said "refund" or customer said "charged twice"',
    "Service outage": 'customer said "not been working" or agent said "outage"',
}


def ensure_demo_rules(endpoint: Any, instance_id: str) -> None:
    """Create the demo rules on the demo instance unless they exist (a rerun of the demo keeps them)."""
    connect = endpoint.client("connect")
    existing = {r["Name"] for r in connect.list_rules(InstanceId=instance_id, MaxResults=100)["RuleSummaryList"]}
    for name, function in DEMO_RULES.items():
        for channel, source in (("chat", "OnRealTimeChatAnalysisAvailable"),
                                ("voice", "OnRealTimeCallAnalysisAvailable")):
            if f"{name} {channel}" in existing:
                continue
            connect.create_rule(
                InstanceId=instance_id, Name=f"{name} {channel}", TriggerEventSource={"EventSourceName": source},
                Function=function, PublishStatus="PUBLISHED",
                Actions=[{"ActionType": "ASSIGN_CONTACT_CATEGORY", "AssignContactCategoryAction": {}}],
            )


from livelens.cli import aws_commands, completion, watch  # noqa: E402
from livelens.cli import replay as cli_replay  # noqa: E402
from livelens.cli.setup_commands import configure, doctor  # noqa: E402

for _command in [*aws_commands.COMMANDS, cli_replay.replay, watch.watch, completion.completion, configure, doctor]:
    main.add_command(_command)

from livelens.cli.rule_commands import rules as rules_group  # noqa: E402

main.add_command(rules_group)
from livelens.cli.eval import eval_command  # noqa: E402

main.add_command(eval_command)
from livelens.cli.access import access  # noqa: E402

main.add_command(access)
from livelens.cli.transcribe import transcribe  # noqa: E402

main.add_command(transcribe)
from livelens.cli.recording import recording  # noqa: E402

main.add_command(recording)


if __name__ == "__main__":
    main()
