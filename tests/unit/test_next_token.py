import pytest

from livelens.contacts.next_token import NextTokenCodec
from livelens.errors import InvalidRequestException


def test_round_trip_and_binding() -> None:
    codec = NextTokenCodec(b"k" * 32)
    token = codec.encode("segments|i|c|v1", 42)
    assert codec.decode(token, "segments|i|c|v1") == 42
    with pytest.raises(InvalidRequestException):
        codec.decode(token, "segments|i|other|v1")


@pytest.mark.parametrize("token", ["", "x", "abc.def", "....", "eyJzIjoiYSIsInAiOjF9.AAAA", "\u00e9.\u00e9"])
def test_garbage_is_invalid_request(token: str) -> None:
    with pytest.raises(InvalidRequestException):
        NextTokenCodec(b"k" * 32).decode(token, "a")


def test_tampered_position_and_foreign_key_are_rejected() -> None:
    codec = NextTokenCodec(b"k" * 32)
    token = codec.encode("a", 1)
    forged = NextTokenCodec(b"other-key" * 4).encode("a", 1000)
    with pytest.raises(InvalidRequestException):
        codec.decode(forged, "a")
    body, mac = token.split(".")
    with pytest.raises(InvalidRequestException):
        codec.decode(body[:-2] + "xx." + mac, "a")
