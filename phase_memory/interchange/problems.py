"""Collecting import problems: where (file, line, JSON pointer), which field, why."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ImportProblem, ImportValidationError

MAX_PROBLEMS = 1000
"""Problems listed at most; one more problem says how many were left out."""


def pointer_of(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901): ``("nodes", 3, "label")`` gives ``/nodes/3/label``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Problems:
    """Problems found while validating one import, capped at :data:`MAX_PROBLEMS`."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self._limit = limit
        self._items: list[ImportProblem] = []
        self.total = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return self.total

    def add(
        self,
        file: str,
        field: str,
        reason: str,
        *,
        line: int | None = None,
        pointer: str | None = None,
    ) -> None:
        """Record one problem."""
        self.total += 1
        if len(self._items) < self._limit:
            self._items.append(
                ImportProblem(file=file, field=field, reason=reason, line=line, pointer=pointer)
            )

    def add_validation(
        self,
        file: str,
        exc: PydanticValidationError,
        *,
        line: int | None = None,
        base: Sequence[str | int] = (),
        field_prefix: str = "",
    ) -> None:
        """Record one problem per error of a pydantic validation failure.

        ``base`` is the JSON pointer of the validated value (envelopes);
        ``field_prefix`` is prepended to the dotted field name (``payload.``).
        """
        for error in exc.errors(include_url=False):
            loc = [p for p in error["loc"] if not _is_union_tag(p)]
            field = field_prefix + ".".join(str(p) for p in loc)
            pointer = pointer_of(*base, *loc) if base or line is None else None
            reason = error["msg"]
            if error["type"] == "extra_forbidden":
                reason = "unknown field"
            elif error["type"] == "missing":
                reason = "required field is missing"
            self.add(file, field.rstrip("."), reason, line=line, pointer=pointer)

    def items(self) -> list[ImportProblem]:
        """The problems listed, plus one saying how many more there were."""
        items = list(self._items)
        if self.total > len(items):
            items.append(
                ImportProblem(
                    file=items[-1].file if items else "",
                    field="",
                    reason=f"{self.total - len(items)} more problem(s) not listed",
                )
            )
        return items

    def raise_if_any(self) -> None:
        """Raise :class:`ImportValidationError` listing every problem, if there is one."""
        if self:
            raise ImportValidationError(self.items())


def _is_union_tag(part: str | int) -> bool:
    # pydantic may add the member type of a union to error locations
    # (``list[...]``); those are noise in a field name.
    return isinstance(part, str) and "[" in part
