"""Write files so that a crash never leaves a half-written one.

Every export goes through :func:`atomic_text_file`: the content is written to a
temporary file in the target's directory, flushed and fsynced, then renamed
over the target with :func:`os.replace` (atomic on POSIX and Windows), and the
directory is fsynced so the rename itself survives a crash. Readers see either
the old file or the whole new one.

:func:`safe_file_name` turns a record id into a file name that cannot leave
the directory it is joined to.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from phase_memory.durable_files import fsync_directory
from phase_memory.errors import ValidationError

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")

MAX_FILE_NAME = 240
"""Longest file name :func:`safe_file_name` makes (most file systems allow 255 bytes;
the rest is room for the temporary name an atomic write uses)."""
_DIGEST = 32
"""Hex digits of the SHA-256 that ends a shortened name."""
_SHORTENED = re.compile(r"^[A-Za-z0-9._%-]*~[0-9a-f]{" + str(_DIGEST) + "}$")


@contextmanager
def atomic_text_file(target: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Open a UTF-8 text file that replaces ``target`` only when the block succeeds.

    Lines are written with ``\\n`` on every platform. On an exception the
    temporary file is removed and ``target`` is left as it was.
    """
    path = Path(target)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    # The temporary name is the target's plus a few characters: keep it a legal length.
    with _naming(path):
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{path.name[:100]}.", suffix=".tmp", dir=directory
        )
    try:
        # mkstemp makes the file private (0600); an export gets the usual mode.
        os.chmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with _naming(path):
            os.replace(temp_name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_directory(directory)


@contextmanager
def _naming(target: Path) -> Iterator[None]:
    """Errors name the file the caller asked for, never the temporary file beside it."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomically(target: str | os.PathLike[str], text: str) -> None:
    """Replace ``target`` with ``text`` atomically (see :func:`atomic_text_file`)."""
    with atomic_text_file(target) as handle:
        handle.write(text)


def safe_file_name(record_id: str, suffix: str = "") -> str:
    """A file name for ``record_id`` that stays inside its directory.

    Characters outside ``[A-Za-z0-9._-]`` are percent-encoded as UTF-8 bytes
    (``/`` becomes ``%2F``, ``%`` becomes ``%25``), and a leading dot is
    encoded too, so ``.``, ``..`` and hidden names cannot occur. The mapping is
    reversible with :func:`id_of_file_name`.
    """
    if not record_id:
        raise ValidationError("an empty id has no file name")
    encoded = "".join(
        ch if ch in _SAFE else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in record_id
    )
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) + len(suffix) > MAX_FILE_NAME:
        # Too long for a file system (a 200-character id can encode to 2400 bytes):
        # keep a readable head and end with a digest of the whole id. ``~`` is always
        # percent-encoded in the long form, so the two forms cannot be confused.
        head = encoded[: MAX_FILE_NAME - len(suffix) - _DIGEST - 1]
        cut = head.rfind("%", len(head) - 2)
        if cut != -1:
            head = head[:cut]  # never split a %XX escape
        digest = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).hexdigest()
        encoded = f"{head}~{digest[:_DIGEST]}"
    name = encoded + suffix
    if name in (".", "..") or "/" in name or os.sep in name or "\x00" in name:
        raise ValidationError(f"id {record_id!r} cannot be used as a file name")  # pragma: no cover
    return name


def is_id_file_name(name: str, suffix: str = "") -> bool:
    """Whether :func:`safe_file_name` could have made ``name`` (long, shortened names too)."""
    if not name.endswith(suffix):
        return False
    stem = name[: len(name) - len(suffix)]
    match = _SHORTENED.match(stem)
    if match is not None:
        return not stem.startswith(".") and len(name) <= MAX_FILE_NAME
    try:
        id_of_file_name(name, suffix)
    except ValidationError:
        return False
    return True


def id_of_file_name(name: str, suffix: str = "") -> str:
    """The id that :func:`safe_file_name` encoded into ``name``.

    Raises :class:`~phase_memory.errors.ValidationError` for names it could not
    have produced, and for shortened names (those of ids too long to spell out,
    which end in ``~`` and a digest): find their id in the file, then check it
    with ``safe_file_name(id, suffix) == name``.
    """
    from urllib.parse import unquote_to_bytes

    if suffix:
        if not name.endswith(suffix):
            raise ValidationError(f"file name {name!r} does not end in {suffix!r}")
        name = name[: -len(suffix)]
    try:
        record_id = unquote_to_bytes(name).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"file name {name!r} is not a percent-encoded UTF-8 id") from None
    if not record_id or safe_file_name(record_id, suffix) != name + suffix:
        raise ValidationError(f"file name {name + suffix!r} is not the canonical name of an id")
    return record_id
