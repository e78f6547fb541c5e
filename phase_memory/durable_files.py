"""Making a rename durable: shared by atomic exports and migration backups."""

from __future__ import annotations

import os


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Flush a directory entry to disk (a no-op where directories cannot be opened).

    After ``os.replace`` the new name lives in the directory; without this a
    power loss can bring back the old name even though the file was synced.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(fd)
