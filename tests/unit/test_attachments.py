import pytest

from livelens.ingest.attachments import CONTENT_TYPES, bytes_match, safe_name


@pytest.mark.parametrize("name, expected", [
    ("../../../../tmp/x.html", "x.html"),
    ("..\\..\\windows\\evil.exe", "evil.exe"),
    ("report.pdf", "report.pdf"),
    ("...hidden", "hidden"),
    ("a\x00b\nc.txt", "a_b_c.txt"),
    ("<script>.txt", "_script_.txt"),
    ("/", "attachment"),
    ("", "attachment"),
    ("n" * 300 + ".pdf", "n" * 252 + ".pdf"),
])
def test_names_are_plain_file_names(name: str, expected: str) -> None:
    assert safe_name(name) == expected


SAMPLES = {
    "application/pdf": b"%PDF-1.7\n...",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00",
    "image/jpeg": b"\xff\xd8\xff\xe0JFIF",
    "image/gif": b"GIF89a....",
    "text/plain": "héllo\n".encode(),
    "text/csv": b"a,b\n1,2\n",
    "audio/wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42",
    "image/heic": b"\x00\x00\x00\x18ftypheic",
    "application/msword": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK\x03\x04rest",
}


@pytest.mark.parametrize("content_type", sorted(SAMPLES))
def test_bytes_must_be_of_the_declared_type(content_type: str) -> None:
    assert content_type in CONTENT_TYPES
    assert bytes_match(content_type, SAMPLES[content_type])
    assert not bytes_match(content_type, b"<html><script>alert(1)</script></html>\x00")
    assert not bytes_match(content_type, b"")


def test_types_off_the_list_never_match() -> None:
    assert not bytes_match("text/html", b"<html></html>")
    assert not bytes_match("application/x-msdownload", b"MZ\x90\x00")
