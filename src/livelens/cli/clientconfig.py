"""Where livelens' client commands send requests, and as whom.

Credentials, region and profiles resolve exactly as the aws CLI resolves them,
through a botocore session (environment, ``~/.aws/config`` and
``~/.aws/credentials``, ``--profile``). Two livelens conveniences sit on top:

* the endpoint: ``--endpoint-url``, else ``LIVELENS_ENDPOINT``, else an
  endpoint the aws configuration already names (``AWS_ENDPOINT_URL``,
  ``AWS_ENDPOINT_URL_<SERVICE>``, ``endpoint_url`` or a ``services`` section in
  the profile), else the local server ``http://127.0.0.1:8765``;
* the region: when nothing configures one (the aws CLI would stop with "You
  must specify a region"), ``us-east-1``; livelens accepts any region.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

DEFAULT_ENDPOINT = "http://127.0.0.1:8765"
DEFAULT_REGION = "us-east-1"
ENDPOINT_ENV = "LIVELENS_ENDPOINT"


def _service_env_suffix(session: Any, service_name: str) -> str:
    try:
        service_id = session.get_service_model(service_name).service_id
    except Exception:  # pragma: no cover - unknown service: generic variable only
        return service_name.upper().replace("-", "_")
    return str(service_id).upper().replace(" ", "_").replace("-", "_")


def aws_configures_endpoint(session: Any, service_name: str) -> bool:
    """Whether the aws configuration (environment or profile) names an endpoint for ``service_name``."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return False
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(
        f"AWS_ENDPOINT_URL_{_service_env_suffix(session, service_name)}"
    ):
        return True
    try:
        scoped = session.get_scoped_config()
    except ProfileNotFound:
        return False
    if str(scoped.get("ignore_configured_endpoint_urls", "")).lower() == "true":
        return False
    return bool(scoped.get("endpoint_url") or scoped.get("services"))


def default_endpoint(session: Any, service_name: str) -> str | None:
    """The endpoint to use when ``--endpoint-url`` is absent (None: let botocore use the configured one)."""
    from_env = os.environ.get(ENDPOINT_ENV)
    if from_env:
        return from_env
    if aws_configures_endpoint(session, service_name):
        return None
    return DEFAULT_ENDPOINT


def has_region(session: Any) -> bool:
    try:
        return bool(session.get_config_variable("region"))
    except ProfileNotFound:
        return True  # let the real call report the missing profile


def make_session(profile: str | None = None, region: str | None = None) -> Any:
    session = botocore.session.Session()
    if profile:
        session.set_config_variable("profile", profile)
    if region:
        session.set_config_variable("region", region)
    elif not has_region(session):
        session.set_config_variable("region", DEFAULT_REGION)
    return session


def make_client(session: Any, service_name: str, endpoint_url: str | None = None, *,
                verify: bool | str | None = None, retries: int | None = None) -> Any:
    url = endpoint_url or default_endpoint(session, service_name)
    config = Config(retries={"max_attempts": retries}) if retries else None
    return session.create_client(service_name, endpoint_url=url, verify=verify, config=config)


def client_options(function: Any) -> Any:
    """The connection options of livelens' own client commands (``watch``, ``replay``)."""
    import click

    for decorator in reversed([
        click.option("--endpoint-url", default=None, metavar="URL",
                     help=f"livelens server [default: $LIVELENS_ENDPOINT, the aws config's endpoint_url, "
                          f"else {DEFAULT_ENDPOINT}]."),
        click.option("--profile", default=None, help="Profile from ~/.aws/config and ~/.aws/credentials."),
        click.option("--region", default=None, help="Region to sign for [default: as the aws CLI resolves it, "
                                                     f"else {DEFAULT_REGION}]."),
        click.option("--no-verify-ssl", "no_verify_ssl", is_flag=True, help="Do not verify TLS certificates."),
        click.option("--debug", is_flag=True, help="Show tracebacks and botocore's debug log."),
    ]):
        function = decorator(function)
    return function


def connect_clients(profile: str | None, region: str | None, endpoint_url: str | None, no_verify_ssl: bool,
                    debug: bool) -> tuple[Any, str | None]:
    """A configured botocore session and the endpoint URL to use (None: the aws-configured one)."""
    import logging

    session = make_session(profile, region)
    if debug:
        session.set_stream_logger("botocore", logging.DEBUG)
    return session, endpoint_url or default_endpoint(session, "connect")
