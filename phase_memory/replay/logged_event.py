"""The fold's input: an event as read from a log, and parsing its payload once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from pydantic import ValidationError

from phase_memory import json_codec
from phase_memory.models import DomainModel, MemoryEvent
from phase_memory.models.events import REDACTION_KEY
from phase_memory.replay.effects import MalformedEvent


class LoggedEvent(NamedTuple):
    """An event as read from a log: ``payload`` may still be raw JSON text.

    Adapters hand these to the fold without building a :class:`MemoryEvent`,
    so payloads are parsed once, straight into their payload model. It is a
    tuple: :func:`replay` also takes plain rows holding these fields in this
    order (what a SQL adapter reads) and makes one only when it needs one.
    """

    position: int
    event_id: str
    kind: str
    profile_id: str
    path_id: str | None
    occurred: datetime | str
    """When it happened; SQLite hands over its stored text (see :attr:`occurred_at`)."""
    schema_version: int
    payload: dict[str, Any] | str
    parsed: DomainModel | None = None
    """The payload as its model, when the writer built the payload from one.

    The fold uses it as it is instead of validating ``payload`` again.
    """

    @classmethod
    def of(
        cls, event: MemoryEvent, position: int | None = None, parsed: DomainModel | None = None
    ) -> LoggedEvent:
        """Wrap a model event (``position`` overrides the event's own).

        ``parsed``: the payload model ``event.payload`` was dumped from, if any.
        """
        return cls(
            position=position if position is not None else (event.position or 0),
            event_id=event.event_id,
            kind=event.kind,
            profile_id=event.profile_id,
            path_id=event.path_id,
            occurred=event.occurred_at,
            schema_version=event.schema_version,
            payload=event.payload,
            parsed=parsed,
        )

    @property
    def occurred_at(self) -> datetime:
        """When the event happened (timezone-aware UTC)."""
        # Only the few kinds that stamp records with it ask: most events of a
        # replay never pay for parsing it.
        value = self.occurred
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    def payload_dict(self) -> dict[str, Any]:
        """The payload as a dict (parsing it if it is still text)."""
        if isinstance(self.payload, str):
            parsed = json_codec.loads(self.payload)
            if not isinstance(parsed, dict):
                raise MalformedEvent("payload is not a JSON object")
            return parsed
        return self.payload

    def is_redacted(self) -> bool:
        """Whether ``forget`` erased this payload (it carries the redaction marker on top)."""
        payload = self.payload
        if isinstance(payload, str):
            if REDACTION_KEY not in payload:
                return False
            try:
                return REDACTION_KEY in self.payload_dict()
            except (ValueError, MalformedEvent):
                return False
        return REDACTION_KEY in payload


_M = TypeVar("_M", bound=DomainModel)


def parse_payload(event: LoggedEvent, model: type[_M]) -> _M:
    """The event's payload as ``model`` (the writer's own model when it handed one over).

    Raises :class:`MalformedEvent` for a payload the model refuses.
    """
    parsed = event.parsed
    if parsed is not None and type(parsed) is model:
        return parsed
    payload = event.payload
    try:
        # The models' own pydantic-core validators, called directly: the same
        # validation as model_validate(_json), without its per-call keyword handling.
        validator = model.__pydantic_validator__
        if isinstance(payload, str):
            try:
                parsed_text: _M = validator.validate_json(payload)
                return parsed_text
            except ValidationError:
                # A payload erased by forget carries the redaction marker, which
                # the model (extra="forbid") refuses: read it without the marker.
                if REDACTION_KEY not in payload:
                    raise
            payload = event.payload_dict()
        if REDACTION_KEY in payload:
            payload = {k: v for k, v in payload.items() if k != REDACTION_KEY}
        validated: _M = validator.validate_python(payload)
        return validated
    except (ValidationError, ValueError) as exc:
        raise MalformedEvent(f"malformed payload: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        return f"{where}: {err['msg']}"
    return str(exc)
