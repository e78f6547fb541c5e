"""PhaseMemoryStore: LangGraph's long-term store on the memory graph.

How a store maps onto phase-memory:

- The store keeps its items in one **profile** (``profile_id``, default
  ``langgraph-store``, created when missing): its policy governs them all
  (redaction of ``search`` results, allowed kinds).
- Each item is a **node**: its **kind** is the namespace joined by ``/``
  (``("users", "u1", "memories")`` -> ``users/u1/memories``; a namespace that
  is not a valid kind, e.g. one with spaces, gets ``lg-ns-<hash>``), its label
  the key, its content the text of the indexed fields (every string in the
  value by default) and its attributes ``{"namespace", "key", "value"}``.
  Every put and delete is a ``node.saved`` / ``node.deleted`` event.
- ``search(query=...)`` ranks with :meth:`PhaseMemoryRuntime.activate`, the
  same full-text activation (bm25 / ``ts_rank``, salience, recency) as
  ``mem.activate``, so it needs no embedding model; each such search is stored
  as an inspectable activation plan. Without a query, items come in namespace
  then key order.
- Values must be JSON (as in LangGraph's SQL stores). TTL is not offered.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ValidationError
from phase_memory.langgraph.encoding import TAG, is_plain
from phase_memory.langgraph.store_matching import matches_filter, matches_namespace
from phase_memory.langgraph.worker import in_worker
from phase_memory.models import MemoryNode, NodeState, Profile
from phase_memory.models.ids import check_kind
from phase_memory.models.limits import MAX_JSON_DEPTH, check_text, json_problem, shown
from phase_memory.runtime import PhaseMemoryRuntime

DEFAULT_STORE_PROFILE = "langgraph-store"
"""The profile a store keeps its items in unless told otherwise."""
_MIN_BUDGET = 50
_FIELDS = {"label": "the key", "content": "the value's indexed text (its strings, joined)"}
"""What the user named, for a node field a refused item's error names."""


class PhaseMemoryStore(BaseStore):
    """A LangGraph ``BaseStore`` whose items are nodes of a phase-memory profile."""

    supports_ttl = False

    def __init__(self, mem: PhaseMemoryRuntime, *, profile_id: str = DEFAULT_STORE_PROFILE):
        self.mem = mem
        self.profile_id = profile_id
        if mem.graph.find_profile(profile_id) is None:
            mem.save_profile(
                Profile(
                    id=profile_id,
                    name="LangGraph store",
                    description="Long-term memory of LangGraph graphs: one node per item.",
                )
            )

    # --- the one entry point ---------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> builtins.list[Result]:
        """Run the operations; reads see the store as it was before the batch's writes.

        Writes run last, in one transaction, the last put of a (namespace, key) winning.
        """
        ops = builtins.list(ops)
        results: builtins.list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op.namespace, op.key))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op
                results.append(None)
            else:
                raise ValidationError(f"unknown store operation {type(op).__name__}")
        if puts:
            with self.mem.store.transaction():
                for op in puts.values():
                    self._put(op)
        return results

    async def abatch(self, ops: Iterable[Op]) -> builtins.list[Result]:
        """Async :meth:`batch` (a worker thread: see worker.py)."""
        return await in_worker(self.batch, builtins.list(ops))

    # --- operations ------------------------------------------------------------------

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        node = self.mem.graph.find_node(node_id(namespace, key))
        return None if node is None or not self._is_item(node) else _item(node)

    def _put(self, op: PutOp) -> None:
        identifier = node_id(op.namespace, op.key)
        current = self.mem.graph.find_node(identifier)
        if op.value is None:
            if current is not None and self._is_item(current):
                self.mem.delete_node(identifier)
            return
        where = f"item {shown(op.key)} of namespace {shown(op.namespace)}"
        for label in op.namespace:
            check_text(f"{where}: namespace label", label)
        check_text(f"{where}: key", op.key)
        if type(op.value) is not dict:
            raise ValidationError(
                f"{where}: a value must be a dict (a JSON object), not {type(op.value).__name__}"
            )
        if not is_plain(op.value):
            raise ValidationError(
                f"{where}: the value is not plain JSON (string keys not starting with "
                f"{TAG!r}, text without NUL, finite numbers, 64-bit integers, lists, null)"
            )
        # The node's attributes hold the value one level down.
        problem = json_problem(op.value, max_depth=MAX_JSON_DEPTH - 1)
        if problem is not None:
            raise ValidationError(f"{where}: the value {problem}")
        indexed = op.index is not False
        try:
            node = MemoryNode(
                id=identifier,
                profile_id=self.profile_id,
                kind=namespace_kind(op.namespace),
                label=op.key,
                content=_text(op.value, op.index) if indexed else None,
                attributes={
                    "namespace": builtins.list(op.namespace),
                    "key": op.key,
                    "value": op.value,
                    "indexed": indexed,
                },
            )
        except PydanticValidationError as exc:
            error = exc.errors()[0]
            field = _FIELDS.get(str(error["loc"][0]) if error["loc"] else "", "value")
            raise ValidationError(f"{where}: {field}: {error['msg']}") from None
        self.mem.save_node(node)

    def _search(self, op: SearchOp) -> builtins.list[SearchItem]:
        wanted = op.offset + op.limit
        if not op.query:
            found = [
                SearchItem(
                    namespace=item.namespace,
                    key=item.key,
                    value=item.value,
                    created_at=item.created_at,
                    updated_at=item.updated_at,
                )
                for item in self._items()
                if matches_namespace(item.namespace, op.namespace_prefix)
                and matches_filter(item.value, op.filter)
            ]
            found.sort(key=lambda i: (i.namespace, i.key))
            return found[op.offset : wanted]
        return self._ranked(op, wanted)[op.offset : wanted]

    def _ranked(self, op: SearchOp, wanted: int) -> builtins.list[SearchItem]:
        """Activation's ranking of the query, kept to the namespace and filter."""
        budget = max(_MIN_BUDGET, 4 * wanted)
        while True:
            plan = self.mem.activate(self.profile_id, str(op.query), budget=budget)
            nodes = self.mem.graph.find_nodes([i.node_id for i in plan.items])
            found: builtins.list[SearchItem] = []
            for entry in plan.items:
                node = nodes.get(entry.node_id)
                if node is None or not self._is_item(node) or not node.attributes.get("indexed"):
                    continue
                item = _item(node)
                if matches_namespace(item.namespace, op.namespace_prefix) and matches_filter(
                    item.value, op.filter
                ):
                    found.append(_search_item(item, entry.score))
            if len(found) >= wanted or len(plan.items) < budget or budget >= 10_000:
                return found
            budget = min(budget * 4, 10_000)

    def _list_namespaces(self, op: ListNamespacesOp) -> builtins.list[tuple[str, ...]]:
        namespaces: set[tuple[str, ...]] = set()
        for item in self._items():
            namespace = item.namespace
            if op.match_conditions and not all(
                matches_namespace(namespace, c.path, c.match_type) for c in op.match_conditions
            ):
                continue
            if op.max_depth is not None:
                namespace = namespace[: op.max_depth]
            namespaces.add(namespace)
        return sorted(namespaces)[op.offset : op.offset + op.limit]

    # --- nodes as items --------------------------------------------------------------

    def _items(self) -> Iterator[Item]:
        for node in self.mem.graph.list_nodes(self.profile_id, state=NodeState.ACTIVE):
            if self._is_item(node):
                yield _item(node)

    def _is_item(self, node: MemoryNode) -> bool:
        return (
            node.profile_id == self.profile_id
            and node.state is NodeState.ACTIVE
            and "namespace" in node.attributes
            and "value" in node.attributes
        )


def node_id(namespace: tuple[str, ...], key: str) -> str:
    """The id of the node holding item ``key`` of ``namespace``."""
    joined = "\x00".join((*namespace, "", key)).encode("utf-8", "surrogatepass")
    return "lgs-" + hashlib.blake2b(joined, digest_size=20).hexdigest()


def namespace_kind(namespace: tuple[str, ...]) -> str:
    """The node kind of a namespace: its labels joined by ``/`` (or a hash when not a kind)."""
    joined = "/".join(namespace)
    try:
        return check_kind(joined)
    except ValueError:
        digest = hashlib.blake2b(joined.encode("utf-8", "surrogatepass"),
                                 digest_size=12).hexdigest()
        return f"lg-ns-{digest}"


def _item(node: MemoryNode) -> Item:
    attributes: Any = node.attributes
    return Item(
        value=attributes["value"],
        key=str(attributes["key"]),
        namespace=tuple(attributes["namespace"]),
        created_at=node.created_at,
        updated_at=node.updated_at,
    )


def _search_item(item: Item, score: float) -> SearchItem:
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=score,
    )


def _text(value: Any, index: builtins.list[str] | bool | None) -> str:
    """The searchable text of a value: the strings of its indexed fields."""
    if index is None or isinstance(index, bool):
        parts = builtins.list(_strings(value))
    else:
        parts = [s for field in index for s in _strings(_field(value, field))]
    return "\n".join(parts)


def _field(value: Any, path: str) -> Any:
    if path in ("$", ""):
        return value
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


__all__ = ["DEFAULT_STORE_PROFILE", "PhaseMemoryStore", "namespace_kind", "node_id"]
