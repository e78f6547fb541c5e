"""Turning free text into search terms, and the simple scorer of the in-memory adapter.

A query is never passed to a search engine as syntax: it is split into plain
word terms here, and adapters quote each term before it reaches SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)

MAX_TERMS = 32
"""Longer queries keep their first terms; more would not change the ranking much."""


def query_terms(text: str) -> list[str]:
    """Lower-cased, de-duplicated word terms of a free-text query, in order."""
    terms: list[str] = []
    for match in _WORD.finditer(text.casefold()):
        word = match.group(0).strip("_")
        if word and word not in terms:
            terms.append(word)
        if len(terms) >= MAX_TERMS:
            break
    return terms


def simple_relevance(terms: Sequence[str], label: str, content: str | None) -> float:
    """A small term-frequency score: label hits count double; 0 means no match."""
    if not terms:
        return 0.0
    label_words = _WORD.findall(label.casefold())
    content_words = _WORD.findall((content or "").casefold())
    score = 0.0
    for term in terms:
        hits = 2 * label_words.count(term) + content_words.count(term)
        if hits:
            score += 1.0 + math.log(hits)
    length = len(label_words) + len(content_words)
    return score / (1.0 + math.log1p(length)) if score else 0.0
