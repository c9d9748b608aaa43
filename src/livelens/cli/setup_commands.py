"""``livelens configure`` (an AWS profile for the local server) and ``livelens doctor`` (check the install)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from livelens import __version__
from livelens.config import Settings

DEFAULT_PROFILE = "livelens"


# -- the AWS profile --------------------------------------------------------------------------------------------
def aws_config_file() -> Path:
    """Where the aws CLI and boto3 read profiles: ``AWS_CONFIG_FILE``, else ``~/.aws/config``."""
    return Path(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def aws_credentials_file() -> Path:
    """Where they read keys: ``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``."""
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


def server_url(settings: Settings) -> str:
    """The URL clients on this machine use for a server started with ``settings``."""
    host = settings.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def server_credentials(settings: Settings) -> tuple[str, str]:
    """The key pair the server accepts (the first one), generating the stored pair as ``serve`` would."""
    from livelens.api.auth import load_credentials

    generated_path = settings.db_path.expanduser().resolve().parent / "livelens-credentials"
    pairs, _ = load_credentials(settings.credentials, os.environ, generated_path)
    return next(iter(pairs.items()))


@dataclass(frozen=True)
class WrittenProfile:
    name: str
    endpoint_url: str
    region: str
    config_file: Path
    credentials_file: Path


def write_profile(name: str, endpoint_url: str, access_key: str, secret_key: str,
                  region: str = "us-east-1") -> WrittenProfile:
    """Write ``[profile NAME]`` (endpoint_url, region) and its keys, as ``aws configure set`` does.

    awscli's own writer updates the one section in place and keeps the rest of
    both files (comments included); the credentials file is kept at mode 0600.
    """
    from awscli.customizations.configure.writer import ConfigFileWriter

    config_file, credentials_file = aws_config_file(), aws_credentials_file()
    writer = ConfigFileWriter()
    section = "default" if name == "default" else f"profile {name}"
    writer.update_config({"__section__": section, "endpoint_url": endpoint_url, "region": region}, str(config_file))
    writer.update_config({"__section__": name, "aws_access_key_id": access_key,
                          "aws_secret_access_key": secret_key}, str(credentials_file))
    os.chmod(credentials_file, 0o600)
    return WrittenProfile(name, endpoint_url, region, config_file, credentials_file)


def profile_lines(written: WrittenProfile) -> list[str]:
    return [
        f"Wrote [{'default' if written.name == 'default' else 'profile ' + written.name}] "
        f"(endpoint_url = {written.endpoint_url}, region = {written.region}) to {written.config_file}",
        f"Wrote the keys of [{written.name}] to {written.credentials_file}",
    ]


@click.command()
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, help="Name of the AWS profile to write.")
@click.option("--endpoint-url", default=None, metavar="URL",
              help="The server's URL [default: http://HOST:PORT from --host/--port or LIVELENS_HOST/PORT].")
@click.option("--region", default="us-east-1", show_default=True, help="Region the profile signs for.")
@click.option("--host", default=None, help="The server's --host [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="The server's --port [default: 8765].")
@click.option("--db", default=None, help="The server's --db; its stored credentials are used [default: livelens.db].")
@click.option("--credentials", default=None, type=click.Path(dir_okay=False, exists=True),
              help="The server's --credentials file [default: as `serve` finds them].")
def configure(profile: str, endpoint_url: str | None, region: str, host: str | None, port: int | None,
              db: str | None, credentials: str | None) -> None:
    """Write an AWS profile for the livelens server, so no exports are needed.

    Writes [profile livelens] with endpoint_url and region to the aws config file ($AWS_CONFIG_FILE, else
    ~/.aws/config) and the server's keys to the credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
    ~/.aws/credentials). Then `aws --profile livelens connect ...` and
    boto3.Session(profile_name="livelens") reach livelens, never AWS. The keys are the server's: from
    --credentials, LIVELENS_CREDENTIALS, or the pair stored beside the database (generated now if the
    server never ran, and used by it when it starts).
    """
    from livelens.cli.main import _settings

    settings = _settings(host=host, port=port, db=db, credentials=credentials)
    if endpoint_url is None and settings.port == 0:
        raise click.UsageError("the server's port is 0 (picked at start); give --endpoint-url http://HOST:PORT")
    access_key, secret_key = server_credentials(settings)
    written = write_profile(profile, endpoint_url or server_url(settings), access_key, secret_key, region)
    for line in profile_lines(written):
        click.echo(line)
    flag = "" if profile == "default" else f" --profile {profile}"
    click.echo(f"Try: aws{flag} connect list-instances")


# -- doctor -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    ok: bool | None  # None: a warning
    what: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "warn"}[self.ok]
        return f"  {mark}  {self.what}" + (f"\n        → {self.fix}" if self.fix else "")


def check_models(settings: Settings) -> list[Check]:
    from livelens.analysis import load_pipeline
    from livelens.app import analysis_config
    from livelens.startup import check_analysers

    config = analysis_config(settings, settings.redaction_mask)
    report = check_analysers(settings, lambda components: load_pipeline(components, config))
    checks = [Check(True, f"analyser {name} loads ({seconds:.1f} s)") for name, seconds in report.loaded.items()]
    checks += [Check(False, f"analyser {name} cannot load: {reason}",
                     "reinstall: pip install --force-reinstall livelens (or run without it: "
                     "LIVELENS_SKIP_UNAVAILABLE_ANALYSERS=1)") for name, reason in report.failed.items()]
    return checks


def check_voice(settings: Settings) -> Check:
    """Speech-to-text for audio calls: a warning (not a failure) without the voice extra."""
    from livelens.voice import EXTRA_HINT, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        return Check(None, reason, f"for audio calls: {EXTRA_HINT}")
    started = time.perf_counter()
    try:
        from livelens.voice.recognizer import load_recognizer

        load_recognizer(settings.voice_decode_threads)
    except Exception as exc:
        return Check(False, f"voice: the speech recogniser cannot load: {exc}",
                     "reinstall: pip install --force-reinstall 'livelens[voice]'")
    return Check(True, f"voice: speech-to-text loads ({time.perf_counter() - started:.1f} s)")


def check_database(settings: Settings) -> Check:
    from livelens.startup import StartupError, hide_password, probe_database, sqlite_path
    from livelens.storage import is_postgres_url

    if is_postgres_url(settings.db):
        import psycopg

        try:
            with psycopg.connect(settings.db, connect_timeout=5) as conn:
                version = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            return Check(False, f"database {hide_password(settings.db)}: {' '.join(str(exc).split())}",
                         "check the URL, that PostgreSQL runs and that the database exists")
        release = version[0] if version else "?"
        return Check(True, f"database {hide_password(settings.db)} answers (PostgreSQL {release})")
    try:
        path = sqlite_path(settings.db)
        probe_database(path)
    except StartupError as exc:
        return Check(False, f"database: {exc}", "fix the path or its permissions, or pass --db PATH")
    if not path.exists():
        return Check(True, f"database {path} does not exist yet; `serve` creates it (the folder is writable)")
    return Check(True, f"database {path} is a writable SQLite file")


def check_port(settings: Settings) -> Check:
    if settings.port == 0:
        return Check(True, "port 0: the server picks a free one at start")
    from livelens.cli.main import _bind
    from livelens.startup import StartupError, bind

    try:
        bind(settings.host, settings.port, _bind).close()
    except StartupError as exc:
        if "already in use" not in str(exc):
            return Check(False, str(exc))
        who = _who_answers(server_url(settings))
        return Check(None, f"port {settings.port} on {settings.host} is in use{who}",
                     "fine if that is your livelens; else stop it or choose --port N")
    return Check(True, f"port {settings.port} on {settings.host} is free")


def _who_answers(url: str) -> str:
    """`` (a livelens server answers)`` when a SigV4-less request gets livelens' rest-json error."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url + "/instance", timeout=2)
    except urllib.error.HTTPError as exc:
        if exc.headers.get("x-amzn-ErrorType"):
            return " (a livelens server answers there)"
    except (OSError, ValueError):
        return ""
    return ""


def check_credentials(settings: Settings) -> list[Check]:
    from livelens.api.auth import parse_credentials

    generated = settings.db_path.expanduser().resolve().parent / "livelens-credentials"
    checks: list[Check] = []
    pair: tuple[str, str] | None = None
    try:
        if settings.credentials:
            pairs = parse_credentials(Path(settings.credentials).expanduser().read_text(), settings.credentials)
            checks.append(Check(True, f"credentials: {len(pairs)} pair(s) in {settings.credentials}"))
        elif os.environ.get("LIVELENS_CREDENTIALS", "").strip():
            from livelens.api.auth import load_credentials

            pairs, _ = load_credentials("", os.environ, generated)
            checks.append(Check(True, f"credentials: {len(pairs)} pair(s) from LIVELENS_CREDENTIALS"))
        elif generated.exists():
            pairs = parse_credentials(generated.read_text(), str(generated))
            checks.append(Check(True, f"credentials: the pair stored in {generated}"))
        else:
            return [Check(None, f"credentials: none yet; `serve` generates a pair in {generated}",
                          "`livelens configure` generates it now and writes the AWS profile")]
        pair = next(iter(pairs.items()))
    except (OSError, ValueError) as exc:
        return [Check(False, f"credentials: {exc}", "fix the file (one 'ACCESS_KEY_ID SECRET' pair per line)")]
    checks.append(check_profile(settings, pair))
    return checks


def check_profile(settings: Settings, pair: tuple[str, str]) -> Check:
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    session = botocore.session.Session(profile=DEFAULT_PROFILE)
    try:
        scoped = session.get_scoped_config()
        credentials = session.get_credentials()
    except ProfileNotFound:
        return Check(None, f"aws profile '{DEFAULT_PROFILE}' is not in {aws_config_file()}",
                     "run `livelens configure` to use `aws --profile livelens` without exports")
    url = server_url(settings)
    problems = []
    if scoped.get("endpoint_url") != url:
        problems.append(f"its endpoint_url is {scoped.get('endpoint_url')!r}, the server's is {url}")
    if credentials is None or credentials.access_key != pair[0]:
        problems.append("its keys are not the server's")
    if problems:
        return Check(None, f"aws profile '{DEFAULT_PROFILE}': {'; '.join(problems)}", "run `livelens configure` again")
    return Check(True, f"aws profile '{DEFAULT_PROFILE}' points at {url} with the server's keys")


@click.command()
@click.option("--host", default=None, help="Interface the server would listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port the server would use [default: 8765].")
@click.option("--db", default=None, help="SQLite database file [default: livelens.db].")
@click.option("--credentials", default=None, help="The server's --credentials file.")
def doctor(host: str | None, port: int | None, db: str | None, credentials: str | None) -> None:
    """Check the install: models load, database writable, port free, credentials and AWS profile.

    Prints one line per check and what to fix; exits 1 if any check failed.
    """
    from livelens.cli.main import _settings

    settings = _settings(host=host, port=port, db=db, credentials=credentials)
    click.echo(f"livelens {__version__} (Python {sys.version.split()[0]}, {sys.prefix})")
    started = time.perf_counter()
    checks: list[Check] = [*check_models(settings), check_voice(settings), check_database(settings),
                           check_port(settings),
                           *check_credentials(settings)]
    for check in checks:
        click.echo(check.line())
    failed = sum(1 for c in checks if c.ok is False)
    click.echo(f"{len(checks) - failed} of {len(checks)} checks passed in {time.perf_counter() - started:.1f} s"
               + ("" if not failed else f"; {failed} failed"))
    if failed:
        raise SystemExit(1)


def command_path(name: str) -> str:
    """How to type ``name`` (a console script beside this Python) in a new shell: bare if on PATH."""
    import shutil

    beside = Path(sys.executable).parent / name
    if not beside.exists() or shutil.which(name) == str(beside):
        return name
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)

