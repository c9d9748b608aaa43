"""Chat attachments: the types Amazon Connect accepts, checking the bytes, safe names.

Amazon Connect chat accepts these attachment types (its "Enable attachments"
documentation), up to 20 MB each. livelens checks three things, as Connect
does: the ``ContentType`` declared to StartAttachmentUpload is on the list, the
upload's ``Content-Type`` header repeats it, and the bytes really are of that
type (their signature; text types must be UTF-8 without NUL). Names are
reduced to a plain file name for storage and display.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_NAME_LENGTH = 256


def _prefix(*signatures: bytes) -> Callable[[bytes], bool]:
    return lambda data: data.startswith(signatures)


def _ftyp(*brands: bytes) -> Callable[[bytes], bool]:
    return lambda data: data[4:8] == b"ftyp" and (not brands or data[8:12] in brands)


def _text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_OLE = _prefix(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .doc .xls .ppt
_ZIP = _prefix(b"PK\x03\x04")  # .docx .xlsx .pptx (Office Open XML is a zip)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")

#: Declared ContentType → the check the bytes must pass.
ALLOWED: dict[str, Callable[[bytes], bool]] = {
    "text/csv": _text,
    "text/plain": _text,
    "application/msword": _OLE,
    "application/vnd.ms-excel": _OLE,
    "application/vnd.ms-powerpoint": _OLE,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/pdf": _prefix(b"%PDF-"),
    "image/jpeg": _prefix(b"\xff\xd8\xff"),
    "image/png": _prefix(b"\x89PNG\r\n\x1a\n"),
    "image/gif": _prefix(b"GIF87a", b"GIF89a"),
    "image/heic": _ftyp(*_HEIF_BRANDS),
    "image/heif": _ftyp(*_HEIF_BRANDS),
    "audio/wav": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WAVE",
    "video/mp4": _ftyp(),
}
CONTENT_TYPES = tuple(ALLOWED)


def bytes_match(content_type: str, data: bytes) -> bool:
    """Whether ``data`` really is of ``content_type`` (an allowed type)."""
    check = ALLOWED.get(content_type)
    return check is not None and bool(data) and check(data)


_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def safe_name(name: str) -> str:
    """A plain file name: no folders, control or reserved characters, no leading dots, at most 256 characters.

    ``../../../../tmp/x.html`` becomes ``x.html``; a name with nothing left becomes ``attachment``.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    name = os.path.basename(name.rstrip("/"))
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH]
    return name or "attachment"
