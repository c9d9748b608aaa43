"""Credentials and SigV4 verification.

The signature is checked the way moto does it: rebuild the request from
exactly the headers the client signed, then let botocore's own ``SigV4Auth``
compute the signature for the claimed credential scope and compare. No
signing code of our own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from botocore.auth import EMPTY_SHA256_HASH, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import HTTPConnection

from livelens.api.authz import Policy
from livelens.files import FILE_MODE

SIGNING_SERVICE = "connect"
_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]+)\s*$"
)


class AuthError(Exception):
    """A request that fails authentication; ``code`` is the AWS error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    access_key: str
    region: str


def _credential_lines(text: str, source: str) -> list[tuple[str, str, dict[str, str]]]:
    """``ACCESS_KEY_ID SECRET_ACCESS_KEY [role=…] [instances=…]`` per line (``#`` comments ignored)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        options = dict(w.split("=", 1) for w in words if "=" in w)
        parts = " ".join(w for w in words if "=" not in w).replace(":", " ").split()
        if len(parts) != 2:
            raise ValueError(f"{source}:{number}: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY [role=…] [instances=…]'")
        lines.append((parts[0], parts[1], options))
    return lines


def parse_credentials(text: str, source: str) -> dict[str, str]:
    """The key pairs of a credentials text (see :func:`_credential_lines`)."""
    return {key: secret for key, secret, _ in _credential_lines(text, source)}


def parse_policies(text: str, source: str) -> dict[str, Policy]:
    """The policies a credentials text declares (keys without options get none here)."""
    policies = {}
    for key, _, options in _credential_lines(text, source):
        if options:
            try:
                policies[key] = Policy.parse(options)
            except ValueError as exc:
                raise ValueError(f"{source}: key {key}: {exc}") from None
    return policies


def generate_credentials() -> tuple[str, str]:
    alphabet = string.ascii_uppercase + string.digits
    access_key = "LLIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    return access_key, secrets.token_urlsafe(30)[:40]


def _declared(credentials_file: str, environ: Mapping[str, str], generated_path: Path) -> tuple[str, str] | None:
    """The credentials text in force and where it came from, or ``None`` if a pair must be generated."""
    if credentials_file:
        path = Path(credentials_file).expanduser()
        return path.read_text(), str(path)
    env = environ.get("LIVELENS_CREDENTIALS", "").strip()
    if env:
        if Path(env).expanduser().is_file():
            return Path(env).expanduser().read_text(), env
        return env.replace(";", "\n"), "LIVELENS_CREDENTIALS"
    if generated_path.exists():
        return generated_path.read_text(), str(generated_path)
    return None


def load_policies(credentials_file: str, environ: Mapping[str, str], generated_path: Path) -> dict[str, Policy]:
    """The policies the credentials in force declare (same sources as :func:`load_credentials`)."""
    declared = _declared(credentials_file, environ, generated_path)
    return parse_policies(*declared) if declared else {}


def load_credentials(
    credentials_file: str, environ: Mapping[str, str], generated_path: Path
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The accepted key pairs, and the pair generated now (if this start had to make one).

    Order: ``--credentials FILE``; ``LIVELENS_CREDENTIALS`` (a file path, or
    inline pairs separated by ``;`` or newlines); the pair stored beside the
    database; else a new pair, written there with mode 0600.
    """
    declared = _declared(credentials_file, environ, generated_path)
    if declared is not None:
        return parse_credentials(*declared), None
    access_key, secret = generate_credentials()
    generated_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(generated_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as file:
        file.write(f"{access_key} {secret}\n")
    return {access_key: secret}, (access_key, secret)


class SigV4Verifier:
    def __init__(self, credentials: Mapping[str, str], max_skew_seconds: int = 300) -> None:
        self.credentials = dict(credentials)
        self.max_skew = max_skew_seconds

    def _scope(self, credential: str, signing_service: str = SIGNING_SERVICE) -> tuple[str, str, str, str]:
        """``KEY/DATE/REGION/SERVICE/aws4_request`` → access key, its secret, date and region (or the AWS error)."""
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AuthError(
                "IncompleteSignatureException", "Credential must have the form KEY/DATE/REGION/SERVICE/aws4_request."
            )
        access_key, date, region, service, _ = scope
        secret = self.credentials.get(access_key)
        if secret is None:
            raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if service != signing_service:
            raise AuthError(
                "InvalidSignatureException", f"Credential should be scoped to correct service: '{signing_service}'."
            )
        return access_key, secret, date, region

    def verify_presigned(self, method: str, url: str, headers: Mapping[str, str],
                         max_expires: int = 604800, service: str = SIGNING_SERVICE) -> Caller:
        """Check a SigV4 presigned URL (``X-Amz-Algorithm``, ``-Credential``, ``-Date``, ``-Expires``,
        ``-SignedHeaders``, ``-Signature`` in the query, as botocore's ``SigV4QueryAuth`` makes them).

        The signature must be within its ``X-Amz-Expires`` (at most a week, as AWS) and not dated in the future
        beyond the clock skew allowed; the body is empty (a GET). ``service`` is the signing name the credential
        scope must carry (``connect``; ``transcribe`` for the Amazon Transcribe streaming socket).
        """
        unsigned_url, params = _signed_query(url)
        if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not all(
                params.get(f"X-Amz-{name}") for name in ("Credential", "Date", "Expires", "SignedHeaders",
                                                         "Signature")):
            raise AuthError("IncompleteSignatureException",
                            "A presigned URL needs X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential, X-Amz-Date, "
                            "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.")
        access_key, secret, date, region = self._scope(params["X-Amz-Credential"], service)
        amz_date = params["X-Amz-Date"]
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            raise AuthError("IncompleteSignatureException", "X-Amz-Date or X-Amz-Expires is malformed.") from None
        if not amz_date.startswith(date):
            raise AuthError("InvalidSignatureException", "Date in Credential scope does not match X-Amz-Date.")
        if not 1 <= expires <= max_expires:
            raise AuthError("InvalidSignatureException", f"X-Amz-Expires must be between 1 and {max_expires} seconds.")
        age = (datetime.now(UTC) - signed_at).total_seconds()
        if age > expires:
            raise AuthError("InvalidSignatureException",
                            f"Signature expired: {amz_date} is now earlier than {expires} seconds ago "
                            f"(X-Amz-Expires).")
        if age < -self.max_skew:
            raise AuthError("InvalidSignatureException",
                            f"Signature not yet current: {amz_date} is more than {self.max_skew} seconds from the "
                            "server's time.")
        signed = params["X-Amz-SignedHeaders"].split(";")
        if "host" not in signed:
            raise AuthError("InvalidSignatureException", "The host header must be signed.")
        request = AWSRequest(method=method, url=unsigned_url, data=b"", headers={h: headers.get(h, "") for h in signed})
        _check_signature(request, amz_date, Credentials(access_key, secret), region, params["X-Amz-Signature"],
                         service)
        return Caller(access_key, region)

    def verify_connection(self, connection: HTTPConnection, base_url: str, *, service: str = SIGNING_SERVICE,
                          presigned_only: bool = False) -> Caller:
        """The caller of a bodiless request or a WebSocket upgrade (streams, downloads, audio sockets):
        SigV4 headers, or a presigned query (the only form a socket can carry: ``presigned_only``), checked
        against the URL as the client signed it: ``base_url`` + the raw path and query, not Starlette's
        decoded ones."""
        raw_path = connection.scope.get("raw_path", b"").decode("latin-1") or connection.url.path
        query = connection.scope.get("query_string", b"").decode("latin-1")
        url = f"{base_url}{raw_path}" + (f"?{query}" if query else "")
        headers = {k.lower(): v for k, v in connection.headers.items()}
        params = connection.query_params
        if presigned_only or "X-Amz-Signature" in params or "X-Amz-Algorithm" in params:
            return self.verify_presigned(connection.scope.get("method", "GET"), url, headers, service=service)
        return self.verify(connection.scope.get("method", "GET"), url, headers, b"")

    def verify(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Caller:
        """Check a request's SigV4 ``Authorization``; ``headers`` have lower-case names."""
        authorization = headers.get("authorization")
        if not authorization:
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
        parsed = _AUTH_HEADER.match(authorization.strip())
        if parsed is None:
            raise AuthError(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters "
                "with the AWS4-HMAC-SHA256 algorithm.",
            )
        access_key, secret, date, region = self._scope(parsed["credential"])
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise AuthError("IncompleteSignatureException", "X-Amz-Date header is missing or malformed.") from None
        if not amz_date.startswith(date):
            raise AuthError("InvalidSignatureException", "Date in Credential scope does not match X-Amz-Date.")
        skew = abs((datetime.now(UTC) - signed_at).total_seconds())
        if skew > self.max_skew:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is more than {self.max_skew} seconds from the server's time.",
            )
        signed = parsed["signed"].split(";")
        if "host" not in signed:
            raise AuthError("InvalidSignatureException", "The host header must be signed.")
        _check_payload_hash(headers.get("x-amz-content-sha256"), body)
        request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
        _check_signature(request, amz_date, Credentials(access_key, secret), region, parsed["signature"])
        return Caller(access_key, region)


def _signed_query(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its ``X-Amz-Signature``, and the presigning parameters it carries."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    params = {k: v for k, v in pairs if k.startswith("X-Amz-")}
    kept = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    query = urlencode(kept, quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), params


def _check_payload_hash(claimed: str | None, body: bytes) -> None:
    """Bind the body to the signature: the payload hash is always computed here, never taken on trust.

    Without ``X-Amz-Content-SHA256`` botocore's canonical request hashes the
    body itself. With it, botocore would use the claimed value, so the claim
    must equal the body's SHA-256; ``UNSIGNED-PAYLOAD`` and the streaming
    forms are S3's alone and are refused, as the Amazon Connect endpoints do.
    """
    if claimed is None:
        return
    actual = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256_HASH
    if claimed.startswith(("UNSIGNED-PAYLOAD", "STREAMING-")):
        raise AuthError("InvalidSignatureException",
                        f"X-Amz-Content-SHA256 {claimed} is not supported by this service; sign the payload.")
    if not hmac.compare_digest(claimed.lower(), actual):
        raise AuthError("InvalidSignatureException",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.")


def _check_signature(request: AWSRequest, amz_date: str, credentials: Credentials, region: str, given: str,
                     service: str = SIGNING_SERVICE) -> None:
    """Recompute the request's SigV4 signature with botocore's signer and compare it in constant time."""
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, given):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
