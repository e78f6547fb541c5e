"""The BaseStore contract's matching rules: namespace conditions and value filters.

They follow LangGraph's own stores: a namespace condition compares label by
label from the start (``prefix``) or the end (``suffix``), ``*`` matching any
label; a filter compares top-level fields of the value, equal by default, or
with the operators ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def matches_namespace(
    namespace: Sequence[str], path: Sequence[str], match_type: str = "prefix"
) -> bool:
    """Whether ``namespace`` meets a ``prefix`` or ``suffix`` condition of labels."""
    if len(namespace) < len(path):
        return False
    if match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"unsupported namespace match type {match_type!r}")
    return all(want == "*" or have == want for have, want in pairs)


def matches_filter(value: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    """Whether ``value`` meets every field condition of ``wanted``."""
    return not wanted or all(_meets(value.get(k), v) for k, v in wanted.items())


def _meets(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        if any(key.startswith("$") for key in want):
            return all(_apply(have, op, operand) for op, operand in want.items())
        return isinstance(have, dict) and all(_meets(have.get(k), v) for k, v in want.items())
    if isinstance(want, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(want)
            and all(_meets(h, w) for h, w in zip(have, want, strict=True))
        )
    return bool(have == want)


def _apply(have: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(have == operand)
    if operator == "$ne":
        return bool(have != operand)
    if operator not in OPERATORS:
        raise ValueError(f"unsupported filter operator {operator!r}; use one of {OPERATORS}")
    if not _number(have) or not _number(operand):
        return False  # a missing or non-numeric field is not in any range
    if operator == "$gt":
        return float(have) > float(operand)
    if operator == "$gte":
        return float(have) >= float(operand)
    if operator == "$lt":
        return float(have) < float(operand)
    return float(have) <= float(operand)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = ["OPERATORS", "matches_filter", "matches_namespace"]
