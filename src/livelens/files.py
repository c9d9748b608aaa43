"""Files livelens writes are private to the user running it.

The database and its WAL/SHM hold every transcript and ``meta.server_key``
(enough to mint participant tokens); uploads hold attachment bodies; the
generated credentials file holds a secret key. Each is created 0600 (folders
0700) whatever the umask, and ``livelens serve`` also sets the umask to 0077 at
start-up so that anything else created on the way (SQLite's own files, a
``.part`` upload) starts private too. SQLite creates ``-wal`` and ``-shm``
with the database file's mode, so a 0600 database gives 0600 siblings.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("livelens.files")

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


def restrict_umask() -> int:
    """Make files created from now on private; the previous umask is returned."""
    return os.umask(PRIVATE_UMASK)


def private_file(path: Path) -> None:
    """Create ``path`` (empty) with mode 0600, or take group/other access away from an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
    else:
        os.close(fd)


def private_database(path: Path) -> None:
    """A SQLite database file and whichever of its WAL/SHM/journal exist, all 0600."""
    private_file(path)
    for suffix in SQLITE_SIBLINGS:
        sibling = path.with_name(path.name + suffix)
        if sibling.exists():
            _tighten(sibling, FILE_MODE)


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) so that the last folder is 0700; tighten it if it exists."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, (current & 0o700) | mode)
        log.warning("%s was readable by other users (mode %o); now %o", path, current,
                    stat.S_IMODE(path.stat().st_mode))
