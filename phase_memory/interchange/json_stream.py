"""Streaming JSON: read a large JSON object member by member, its arrays item by item.

:class:`JsonObjectStream` reads one JSON document whose top level is an
object. Members named in ``stream_keys`` whose value is an array are not
loaded whole: their items are decoded one at a time with
:meth:`json.JSONDecoder.raw_decode` over a buffer of the file, so memory stays
bounded by the largest single item, not by the file. Each array's byte offset
is reported so a second pass can :meth:`~JsonObjectStream.open_array` it again
without reading the rest of the file.

Arrays of *records* (``models``: a pydantic model per array) take a faster
road: the text of each record is found without decoding it (the next ``}``
followed by ``,`` and ``{``, or by ``]``) and handed to the model's
``model_validate_json``, which parses and validates in one go. A cut in the
wrong place cannot go unnoticed: the piece is then not one complete JSON
object, so the next candidate end is tried; anything else unusual (a record
the model refuses, a syntax error, ``NaN``) is read again the careful way,
giving exactly the values, problems and errors of the plain decoder.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from phase_memory.interchange.formats import reject_constant

CHUNK_BYTES = 1 << 16
MAX_VALUE_CHARS = 64 << 20
"""The largest single value (one record) read; bigger ones are reported as a problem."""

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder(parse_constant=reject_constant)
_RECORD_END = re.compile(r"\}[ \t\r\n]*(?:,[ \t\r\n]*(?=\{)|\])")
"""Where a record of an array may end: ``}`` then ``,`` and the next ``{``, or ``]``.

The match runs to the next record's ``{`` or past the ``]`` that ends the array."""
_RECORD_TRIES = 8
"""Candidate ends tried for one record before reading it the careful way."""


class JsonSyntaxError(Exception):
    """The document is not valid JSON (or not the shape expected) at ``line``/``column``."""

    def __init__(self, reason: str, *, line: int, column: int, pointer: str) -> None:
        super().__init__(f"line {line} column {column}: {reason}")
        self.reason = reason
        self.line = line
        self.column = column
        self.pointer = pointer


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the top-level object read whole."""

    key: str
    value: Any
    line: int


@dataclass(frozen=True, slots=True)
class ArrayStart:
    """A streamed array begins; ``offset`` is the byte offset of its ``[``."""

    key: str
    offset: int
    line: int


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a streamed array.

    In an array with a model, ``record`` is the validated model, or ``error``
    says why the model refused the item; ``value`` (the decoded JSON) is then
    only set when the item was read the careful way.
    """

    key: str
    index: int
    value: Any
    line: int
    record: Any = None
    error: PydanticValidationError | None = None


@dataclass(frozen=True, slots=True)
class ArrayEnd:
    """A streamed array ended after ``count`` items."""

    key: str
    count: int


Token = Member | ArrayStart | Item | ArrayEnd


class JsonObjectStream:
    """Reads a JSON object from a binary file, streaming the arrays under ``stream_keys``."""

    def __init__(
        self,
        raw: BinaryIO,
        stream_keys: frozenset[str] | set[str] = frozenset(),
        *,
        offset: int = 0,
        line: int = 1,
        max_value_chars: int = MAX_VALUE_CHARS,
        models: Mapping[str, type[BaseModel]] | None = None,
    ) -> None:
        self._raw = raw
        self._stream_keys = stream_keys
        self._models = models or {}
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buf = ""
        self._i = 0
        self._eof = False
        self._base_bytes = offset
        # Newlines before buffer index ``_counted_to`` (absolute, from the file start).
        self._lines_before = line - 1
        self._counted_to = 0
        self._max_value_chars = max_value_chars
        self._pointer = ""
        if offset:
            raw.seek(offset)

    # --- buffer ---------------------------------------------------------------

    def _fill(self, size: int | None = None) -> bool:
        """Read more of the file into the buffer; False at the end of the file."""
        if self._eof:
            return False
        if self._i > CHUNK_BYTES:
            cut = self._i
            self._base_bytes += len(self._buf[:cut].encode("utf-8"))
            self._line(cut)  # count the newlines that are about to go
            self._counted_to -= cut
            self._buf = self._buf[cut:]
            self._i = 0
        data = self._raw.read(size or CHUNK_BYTES)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self._error(f"not UTF-8 text ({exc.reason})", len(self._buf)) from None
        if not data:
            self._eof = True
        self._buf += text
        return bool(data) or bool(text)

    def _line(self, index: int) -> int:
        """The 1-based line of buffer ``index`` (counting only what was not counted yet)."""
        if index >= self._counted_to:
            self._lines_before += self._buf.count("\n", self._counted_to, index)
            self._counted_to = index
            return self._lines_before + 1
        return self._lines_before - self._buf.count("\n", index, self._counted_to) + 1

    def _line_col(self, index: int) -> tuple[int, int]:
        start = self._buf.rfind("\n", 0, index) + 1
        return self._line(index), index - start + 1

    def _error(self, reason: str, index: int | None = None) -> JsonSyntaxError:
        line, column = self._line_col(self._i if index is None else index)
        return JsonSyntaxError(reason, line=line, column=column, pointer=self._pointer)

    def _peek(self) -> str:
        """Skip whitespace; the next character, or "" at the end of the file."""
        while True:
            buf = self._buf
            i = self._i
            n = len(buf)
            while i < n and buf[i] in _WHITESPACE:
                i += 1
            self._i = i
            if i < n:
                return buf[i]
            if not self._fill():
                return ""

    def _expect(self, chars: str, what: str) -> str:
        ch = self._peek()
        if ch == "" or ch not in chars:
            found = "the end of the file" if ch == "" else repr(ch)
            raise self._error(f"expected {what}, found {found}")
        self._i += 1
        return ch

    def _value(self) -> Any:
        """Decode the JSON value at the current position."""
        self._peek()
        want = CHUNK_BYTES
        while True:
            start = self._i
            try:
                value, end = _DECODER.raw_decode(self._buf, start)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(self._buf) - 64 or exc.msg.startswith("Unterminated")
                if near_end and not self._eof:
                    self._grow(start, want)
                    want *= 2
                    continue
                raise self._error(exc.msg, exc.pos) from None
            except ValueError as exc:  # NaN / Infinity
                raise self._error(str(exc), start) from None
            except RecursionError:
                raise self._error("value nested too deeply", start) from None
            if end >= len(self._buf) and not self._eof:
                # A number at the end of the buffer may go on in the next chunk.
                self._grow(start, want)
                want *= 2
                continue
            self._i = end
            return value

    def _grow(self, start: int, size: int) -> None:
        if len(self._buf) - start > self._max_value_chars:
            raise self._error(
                f"value larger than {self._max_value_chars} characters", start
            )
        self._fill(size)

    def _offset_of(self, index: int) -> int:
        return self._base_bytes + len(self._buf[:index].encode("utf-8"))

    # --- the document -----------------------------------------------------------

    def tokens(self) -> Iterator[Token]:
        """The members of the top-level object, streaming the arrays of ``stream_keys``."""
        if self._peek() == "":
            raise self._error("the file is empty")
        self._expect("{", "a JSON object")
        if self._peek() == "}":
            self._i += 1
        else:
            while True:
                if self._peek() != '"':
                    raise self._error("expected a member name in double quotes")
                key = self._value()
                self._expect(":", "':'")
                self._pointer = "/" + key.replace("~", "~0").replace("/", "~1")
                self._peek()
                line = self._line(self._i)
                if key in self._stream_keys and self._peek() == "[":
                    offset = self._offset_of(self._i)
                    yield ArrayStart(key, offset, line)
                    yield from self._items(key)
                else:
                    yield Member(key, self._value(), line)
                self._pointer = ""
                if self._expect(",}", "',' or '}'") == "}":
                    break
        if self._peek() != "":
            raise self._error("extra data after the JSON document")

    def open_array(self, key: str) -> Iterator[Item]:
        """The items of the array starting at this stream's ``offset`` (a second pass)."""
        self._pointer = "/" + key.replace("~", "~0").replace("/", "~1")
        for token in self._items(key):
            if isinstance(token, Item):
                yield token

    def _items(self, key: str) -> Iterator[Item | ArrayEnd]:
        base = self._pointer
        self._expect("[", "'['")
        model = self._models.get(key)
        index = 0
        if self._peek() == "]":
            self._i += 1
            yield ArrayEnd(key, 0)
            return
        while True:
            self._pointer = f"{base}/{index}"
            first = self._peek()
            line = self._line(self._i)
            if model is None:
                yield Item(key, index, self._value(), line)
            else:
                quick = self._quick_record(model) if first == "{" else None
                if quick is not None:
                    # Past the separator already: the next record's "{" or the "]".
                    yield Item(key, index, None, line, quick[0])
                    index += 1
                    if quick[1]:
                        break
                    index, closed = yield from self._quick_run(key, index, model)
                    if closed:
                        break
                    continue
                yield self._record(key, index, line, model)
            index += 1
            self._pointer = base
            if self._expect(",]", "',' or ']'") == "]":
                break
        self._pointer = base
        yield ArrayEnd(key, index)

    # --- records ----------------------------------------------------------------

    def _record(self, key: str, index: int, line: int, model: type[BaseModel]) -> Item:
        """The item at the current position decoded, then validated by ``model``."""
        value = self._value()
        try:
            return Item(key, index, value, line, model.model_validate(value))
        except PydanticValidationError as exc:
            return Item(key, index, value, line, None, exc)

    def _quick_run(
        self, key: str, index: int, model: type[BaseModel]
    ) -> Generator[Item, None, tuple[int, bool]]:
        """The records that follow in the buffer, as long as each is the plain case.

        Returns the index of the next item and whether the array ended; the
        position is then at the next item (which may still be a record the
        careful way reads, or one that needs more of the file).
        """
        validate = model.__pydantic_validator__.validate_json
        search = _RECORD_END.search
        buf = self._buf
        start = self._i
        while True:
            found = search(buf, start)
            if found is None:
                return index, False
            close = found.start() + 1
            text = buf[start:close]
            if "NaN" in text or "Infinity" in text:
                return index, False
            try:
                record = validate(text)
            except PydanticValidationError:
                return index, False
            line = self._line(start)
            start = self._i = found.end()
            yield Item(key, index, None, line, record)
            index += 1
            if buf[start - 1] == "]":
                return index, True

    def _quick_record(self, model: type[BaseModel]) -> tuple[BaseModel, bool] | None:
        """Find the record's text and validate it as JSON; None: read it the careful way.

        On success: the record, and whether the array ended after it; the
        position has moved past the separator (to the next record's ``{``) or
        past the ``]``. Otherwise the position stays at the record's ``{``.
        """
        after = 0  # where to look for the next candidate end, relative to the record
        want = CHUNK_BYTES
        for _ in range(_RECORD_TRIES):
            start = self._i
            found = _RECORD_END.search(self._buf, start + after)
            while found is None:
                if self._eof or len(self._buf) - start > self._max_value_chars:
                    return None
                self._fill(want)  # may move the buffer: positions are relative to _i
                want *= 2
                start = self._i
                found = _RECORD_END.search(self._buf, start + after)
            close = found.start() + 1
            text = self._buf[start:close]
            if "NaN" in text or "Infinity" in text:
                return None  # the model's parser accepts them, JSON does not
            try:
                record = model.model_validate_json(text)
            except PydanticValidationError as exc:
                if exc.errors()[0]["type"] != "json_invalid":
                    return None  # the careful way gives the problems as usual
                after = close - start  # cut inside the record (or bad JSON): look further
                continue
            end = self._i = found.end()
            return record, self._buf[end - 1] == "]"
        return None
