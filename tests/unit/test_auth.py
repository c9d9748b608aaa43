import os
import stat
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.api.auth import AuthError, SigV4Verifier, load_credentials, parse_credentials


def _signed(secret: str = "secret", service: str = "connect") -> AWSRequest:
    request = AWSRequest("POST", "http://127.0.0.1:9/contact/stop?x=1&a=b", data=b'{"a":1}',
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKID", secret), service, "eu-west-2").add_auth(request)
    return request


def _verify(request: AWSRequest) -> object:
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:9"
    return SigV4Verifier({"AKID": "secret"}).verify("POST", request.url, headers, request.body)


def test_botocore_signature_verifies() -> None:
    caller = _verify(_signed())
    assert caller.access_key == "AKID" and caller.region == "eu-west-2"


@pytest.mark.parametrize(
    "request_factory, code",
    [
        (lambda: _signed(secret="wrong"), "InvalidSignatureException"),
        (lambda: _signed(service="s3"), "InvalidSignatureException"),
    ],
)
def test_bad_signatures_are_refused(request_factory, code) -> None:
    with pytest.raises(AuthError) as caught:
        _verify(request_factory())
    assert caught.value.code == code


def test_unknown_key_and_missing_header() -> None:
    verifier = SigV4Verifier({"OTHER": "x"})
    request = _signed()
    headers = {k.lower(): v for k, v in request.headers.items()}
    with pytest.raises(AuthError) as caught:
        verifier.verify("POST", request.url, headers, request.body)
    assert caught.value.code == "UnrecognizedClientException"
    with pytest.raises(AuthError) as caught:
        verifier.verify("POST", request.url, {}, b"")
    assert caught.value.code == "MissingAuthenticationTokenException"


def test_credentials_sources(tmp_path: Path) -> None:
    assert parse_credentials("# comment\nAK1 S1\n\nAK2:S2\n", "x") == {"AK1": "S1", "AK2": "S2"}
    with pytest.raises(ValueError):
        parse_credentials("only-one-field", "x")
    generated_path = tmp_path / "livelens-credentials"
    pairs, generated = load_credentials("", {}, generated_path)
    assert generated is not None and pairs == {generated[0]: generated[1]}
    assert stat.S_IMODE(os.stat(generated_path).st_mode) == 0o600
    again, generated_again = load_credentials("", {}, generated_path)
    assert again == pairs and generated_again is None
    inline, _ = load_credentials("", {"LIVELENS_CREDENTIALS": "A B;C D"}, generated_path)
    assert inline == {"A": "B", "C": "D"}
