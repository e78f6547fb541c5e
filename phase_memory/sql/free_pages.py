"""Reading a SQLite file's free pages, to check that none still holds data.

Forgetting zero-fills every free page of the file (``secure_delete = ON`` and
the sweep of :func:`phase_memory.sql.dialect.clear_free_pages`), so a free
page with a non-zero byte outside the free-list's own bookkeeping is data
that a forget (or ``db vacuum``) should have cleared. SQLite offers no SQL view
of free pages in the builds Python ships (no ``sqlite_dbpage``), so this reads
the file format directly (https://www.sqlite.org/fileformat2.html): the
database header, the free-list trunk pages and, for the newest version of a
page, the committed frames of the write-ahead log.
"""

from __future__ import annotations

import struct
from pathlib import Path

_WAL_HEADER = 32
_FRAME_HEADER = 24


def _wal_pages(wal: Path, page_size: int) -> dict[int, int]:
    """Page number -> file offset of its newest committed frame in the ``-wal`` file."""
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return {}
    if len(data) < _WAL_HEADER:
        return {}
    magic, _version, wal_page_size, _seq, salt1, salt2 = struct.unpack(">IIIIII", data[:24])
    if magic not in (0x377F0682, 0x377F0683) or wal_page_size != page_size:
        return {}
    committed: dict[int, int] = {}
    pending: dict[int, int] = {}
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + page_size <= len(data):
        page, commit_size, s1, s2 = struct.unpack(">IIII", data[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break  # a frame of an earlier generation of the log: not part of the database
        pending[page] = offset + _FRAME_HEADER
        if commit_size:
            committed.update(pending)
            pending.clear()
        offset += _FRAME_HEADER + page_size
    return committed


def dirty_free_pages(database: Path) -> int:
    """How many free pages of a SQLite database file hold a non-zero byte of data.

    The bytes a free-list trunk page needs (next trunk, leaf count, leaf page
    numbers) are not data; everything else on a free page should be zero.
    """
    raw = database.read_bytes()
    if len(raw) < 100:
        return 0
    (size,) = struct.unpack(">H", raw[16:18])
    page_size = 65536 if size == 1 else size
    frames = _wal_pages(database.with_name(database.name + "-wal"), page_size)
    wal = database.with_name(database.name + "-wal").read_bytes() if frames else b""

    def page(number: int) -> bytes:
        at = frames.get(number)
        if at is not None:
            return wal[at : at + page_size]
        start = (number - 1) * page_size
        return raw[start : start + page_size]

    header = page(1)
    trunk, total = struct.unpack(">II", header[32:40])
    dirty = 0
    seen = 0
    visited: set[int] = set()
    while trunk and trunk not in visited and seen <= total:
        visited.add(trunk)
        data = page(trunk)
        if len(data) < 8:
            break
        next_trunk, leaves = struct.unpack(">II", data[:8])
        leaves = min(leaves, (page_size - 8) // 4)
        if not _stale_leaf_numbers(data[8 + 4 * leaves :], len(raw) // page_size + len(frames)):
            dirty += 1
        for index in range(leaves):
            (leaf,) = struct.unpack(">I", data[8 + 4 * index : 12 + 4 * index])
            if any(page(leaf)):
                dirty += 1
        seen += 1 + leaves
        trunk = next_trunk
    return dirty


def _stale_leaf_numbers(tail: bytes, pages: int) -> bool:
    """Whether the unused part of a trunk page holds nothing but zeros and page numbers.

    When SQLite takes a leaf off a trunk page it lowers the count and leaves the
    number where it was: those words are page numbers, not data (secure_delete
    zeroed the page when it was freed). A word that is no page number is data.
    """
    return all(word <= pages for (word,) in struct.iter_unpack(">I", tail[: len(tail) // 4 * 4]))


__all__ = ["dirty_free_pages"]
