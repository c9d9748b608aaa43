"""One clear line (and an aws CLI v2 exit status) for what goes wrong in livelens' client commands."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

import click
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

#: Exit statuses, as the aws CLI v2 uses them.
EXIT_USAGE = 252
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_OTHER = 255
EXIT_INTERRUPTED = 130


#: The failures of a botocore call that :func:`describe` explains in one line.
BOTOCORE_FAILURES: tuple[type[Exception], ...] = (
    NoRegionError, NoCredentialsError, PartialCredentialsError, ProfileNotFound, ClientError,
    EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError,
)


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def describe(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, ClientError):
        return one_line(str(exc)), EXIT_SERVICE
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return (f"livelens: error: {str(exc).rstrip('.')}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(livelens serve prints them), or choose a profile with --profile.", EXIT_CONFIG)
    if isinstance(exc, (NoRegionError, ProfileNotFound)):
        return f"livelens: error: {exc}", EXIT_CONFIG
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)):
        return (f"livelens: error: {one_line(str(exc))}. Is a livelens server running there? Start one with "
                "`livelens serve`, or point --endpoint-url (or LIVELENS_ENDPOINT) at yours.", EXIT_OTHER)
    if isinstance(exc, ParamValidationError):
        return f"livelens: error: {one_line(str(exc))}", EXIT_USAGE
    if isinstance(exc, ReadTimeoutError):
        return f"livelens: error: {one_line(str(exc))}", EXIT_OTHER
    return f"livelens: error: {one_line(str(exc)) or type(exc).__name__}", EXIT_OTHER


@contextlib.contextmanager
def one_line_errors(debug: bool = False) -> Iterator[None]:
    """Turn any failure into one line on stderr and an exit status (the traceback only with ``debug``)."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
        raise
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        message, status = describe(exc)
        click.echo(message, err=True)
        sys.exit(status)
