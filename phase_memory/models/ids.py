"""Identifier and timestamp rules shared by every model.

Identifiers are non-empty strings of at most 200 characters, without control
characters or surrounding whitespace. Generated ids are UUIDv7 strings: their
text sorts by creation time, so batches made on the client insert in order
without a round trip to the database.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from phase_memory.models.limits import MAX_ID_LENGTH as MAX_ID_LENGTH  # re-exported: its old home

_id_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """Return a new time-sortable unique id (UUIDv7, monotonic within this process)."""
    global _last_ms, _counter
    with _id_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            # Same (or earlier, if the clock stepped back) millisecond: count up so
            # ids made in one process keep sorting in creation order.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def check_identifier(value: str) -> str:
    """Validate an identifier; return it unchanged or raise ``ValueError``."""
    if not value:
        raise ValueError("identifier must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"identifier is longer than {MAX_ID_LENGTH} characters")
    if value != value.strip():
        raise ValueError("identifier must not start or end with whitespace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("identifier must not contain control characters")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def check_kind(value: str) -> str:
    """Validate a kind name (``note``, ``user.preference``): an identifier without spaces."""
    check_identifier(value)
    if any(ch.isspace() for ch in value):
        raise ValueError("kind must not contain whitespace")
    return value


# Checked by pydantic-core's regex engine rather than a Python function: these
# run for every record read back from storage, so they sit on hot paths.
IDENTIFIER_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,198}[^\s\x00-\x1f\x7f])?$"
KIND_PATTERN = r"^[^\s\x00-\x1f\x7f]{1,200}$"

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
"""A validated identifier (see the module docstring)."""

Kind = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
"""A kind name: an identifier without whitespace, often dotted (``node.saved``)."""

class _UtcDatetimeSchema:
    """The validation of :data:`UtcDatetime`, all of it in pydantic-core when it can be.

    A timestamp already at offset zero (every ``...Z`` read back from storage or
    an export) is accepted by pydantic-core alone; only one with another offset
    takes the Python step that converts it to UTC. Timestamps are on every
    record read, so this sits on the hot paths (replay, lookups, imports).
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        converted = core_schema.no_info_after_validator_function(
            _to_utc, core_schema.datetime_schema(tz_constraint="aware")
        )
        return core_schema.union_schema(
            [core_schema.datetime_schema(tz_constraint=0), converted],
            mode="left_to_right",
            custom_error_type="utc_datetime",
            custom_error_message=(
                "Input should be a timezone-aware datetime (RFC 3339, with Z or an offset)"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time"}


UtcDatetime = Annotated[datetime, _UtcDatetimeSchema]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

# Fields use these as ``id: Identifier = Field(default_factory=new_id)`` rather
# than through an Annotated default, so the pydantic mypy plugin sees them as
# optional in constructors.
