"""The graph store on SQL: profiles, nodes, edges, paths and activation plans.

It is also the :class:`~phase_memory.replay.GraphView` the runtime's fold
reads inside a transaction (``find_*``, ``edges_touching``, ``paths_in_tree``,
``plans_mentioning``), and :meth:`SqlGraphStore.apply` writes the fold's
effects: the runtime's hot path, a few compiled upserts per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    exists,
    func,
    or_,
    select,
)

from phase_memory.errors import ConflictError, IntegrityError, NotFoundError
from phase_memory.models import (
    NAME_ATTRIBUTE,
    ActivationPlan,
    GraphSnapshot,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    NodeState,
    Profile,
    ValidAt,
    is_name,
    resolve_valid_at,
)
from phase_memory.models.limits import next_version
from phase_memory.protocols import Neighbourhood, TextMatch
from phase_memory.replay import (
    Effect,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
)
from phase_memory.sql import dialect, rows
from phase_memory.sql import graph_statements as q
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections
from phase_memory.sql.search import search_substring, search_text

CHUNK = 1000
"""Rows fetched per round trip when streaming."""


def _missing(what: str, key: str) -> NotFoundError:
    return NotFoundError(f"{what} {key!r} does not exist")


class SqlGraphStore:
    """:class:`~phase_memory.protocols.MemoryGraphStore` on SQLite or PostgreSQL."""

    def __init__(self, connections: Connections) -> None:
        self._db = connections
        self._dialect = connections.dialect
        self._profiles_by_row: dict[tuple[Any, ...], Profile] = {}
        self._paths_by_row: dict[tuple[Any, ...], MemoryPath] = {}

    # --- helpers --------------------------------------------------------------------

    def _one(self, conn: Connection, table: Table, key: str) -> Any:
        found = q.BY_ID[table.name].all(conn, {"id_": key})
        return found[0] if found else None

    def _exists(self, conn: Connection, table: Table, **where: Any) -> bool:
        params = {f"{name}_": value for name, value in where.items()}
        return bool(conn.execute(q.exists_where(table.name, tuple(where)), params).scalar())

    def _touches_edges(self, conn: Connection, node_id: str) -> bool:
        return bool(conn.execute(q.TOUCHES, {"id_": node_id}).scalar())

    def _upsert(self, conn: Connection, table: Table, params: list[dict[str, Any]]) -> None:
        q.upsert(self._dialect, table).run_many(conn, params)

    # --- profiles -------------------------------------------------------------------

    def save_profile(self, profile: Profile) -> Profile:
        """Insert or replace a profile."""
        with self._db.write("save_profile") as conn:
            self._upsert(conn, t.profiles, [rows.profile_row(profile)])
        return profile

    def get_profile(self, profile_id: str) -> Profile:
        """The profile with this id."""
        found = self.find_profile(profile_id)
        if found is None:
            raise _missing("profile", profile_id)
        return found

    def find_profile(self, profile_id: str) -> Profile | None:
        """The profile with this id, or None."""
        # Every recorded event looks up its profile (policy checks and the fold):
        # a profile row read before is not converted and validated again.
        with self._db.read("find_profile") as conn:
            return q.BY_ID["profiles"].first_model(
                conn, {"id_": profile_id}, rows.profile_of, self._profiles_by_row
            )

    def list_profiles(self) -> list[Profile]:
        """Every profile, by id."""
        with self._db.read("list_profiles") as conn:
            result = conn.execute(select(*rows.PROFILE_COLUMNS).order_by(t.profiles.c.id))
            return [rows.profile_of(row) for row in result]

    def delete_profile(self, profile_id: str) -> None:
        """Delete a profile that owns no node, path, activation plan or event."""
        with self._db.write("delete_profile") as conn:
            if not self._exists(conn, t.profiles, id=profile_id):
                raise _missing("profile", profile_id)
            for table in (t.nodes, t.paths, t.activation_plans, t.events):
                if self._exists(conn, table, profile_id=profile_id):
                    raise IntegrityError(
                        f"profile {profile_id!r} still owns nodes, paths, "
                        "activation plans or events"
                    )
            conn.execute(q.DELETE_BY_ID["profiles"], {"id_": profile_id})

    # --- nodes ----------------------------------------------------------------------

    def save_node(self, node: MemoryNode, *, expected_version: int | None = None) -> MemoryNode:
        """Insert or update a node; the stored version is the previous one plus one."""
        with self._db.write("save_node") as conn:
            if not self._exists(conn, t.profiles, id=node.profile_id):
                raise IntegrityError(f"profile {node.profile_id!r} does not exist")
            current = conn.execute(q.NODE_STATE, {"id_": node.id}).first()
            current_version = 0 if current is None else int(current[0])
            if (
                current is not None
                and current[1] != node.profile_id
                and self._touches_edges(conn, node.id)
            ):
                raise IntegrityError(
                    f"node {node.id!r} has edges in profile {current[1]!r}; "
                    f"it cannot move to {node.profile_id!r}"
                )
            if expected_version is not None and expected_version != current_version:
                raise ConflictError(
                    f"node {node.id!r} is at version {current_version}, expected {expected_version}"
                )
            stored = node.model_copy(update={
                "version": next_version(f"node {node.id!r}'s next version", current_version)
            })
            self._upsert(conn, t.nodes, [rows.node_row(stored)])
            if stored.state == NodeState.FORGOTTEN:
                dialect.optimize_search_index(conn)  # see apply
                dialect.clear_free_pages(conn)
        return stored

    def get_node(self, node_id: str) -> MemoryNode:
        """The node with this id."""
        found = self.find_node(node_id)
        if found is None:
            raise _missing("node", node_id)
        return found

    def find_node(self, node_id: str) -> MemoryNode | None:
        """The node with this id, or None."""
        with self._db.read("find_node") as conn:
            row = self._one(conn, t.nodes, node_id)
            return None if row is None else rows.node_of(row)

    def find_nodes(self, node_ids: Iterable[str]) -> dict[str, MemoryNode]:
        """The nodes of these ids that exist, keyed by id, in the order of ``node_ids``.

        One statement per
        :data:`~phase_memory.sql.graph_statements.FIND_NODES_CHUNK` ids (several
        read one snapshot).
        """
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            return {}
        found: dict[str, MemoryNode] = {}
        snapshot = len(wanted) > q.FIND_NODES_CHUNK
        with self._db.read("find_nodes", snapshot=snapshot) as conn:
            for start in range(0, len(wanted), q.FIND_NODES_CHUNK):
                chunk = wanted[start : start + q.FIND_NODES_CHUNK]
                for row in conn.execute(q.NODES_IN, {"ids_": chunk}):
                    node = rows.node_of(row)
                    found[node.id] = node
        return {key: found[key] for key in wanted if key in found}

    def find_nodes_by_name(
        self, profile_id: str, names: Iterable[str]
    ) -> dict[str, list[MemoryNode]]:
        """Nodes of ``profile_id`` whose ``mcp_name`` attribute is one of ``names``, by name.

        Through the name index (``ix_nodes_name``), one statement per
        :data:`~phase_memory.sql.graph_statements.FIND_NODES_CHUNK` names.
        """
        wanted = [n for n in dict.fromkeys(names) if is_name(n)]
        if not wanted:
            return {}
        found: dict[str, list[MemoryNode]] = {}
        snapshot = len(wanted) > q.FIND_NODES_CHUNK
        with self._db.read("find_nodes_by_name", snapshot=snapshot) as conn:
            stmt = dialect.nodes_by_name(dialect.name_of(conn))
            for start in range(0, len(wanted), q.FIND_NODES_CHUNK):
                chunk = wanted[start : start + q.FIND_NODES_CHUNK]
                for row in conn.execute(stmt, {"profile_id": profile_id, "names_": chunk}):
                    node = rows.node_of(row[:-1])
                    # The JSON functions cut a name at NUL: "a\x00b" is filed under "a".
                    if node.attributes.get(NAME_ATTRIBUTE) == row[-1]:
                        found.setdefault(row[-1], []).append(node)
        return {name: found[name] for name in wanted if name in found}

    def list_nodes(
        self,
        profile_id: str,
        kind: str | None = None,
        state: NodeState | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryNode]:
        """Nodes of a profile valid at ``valid_at``, optionally of one kind and state, by id."""
        at = resolve_valid_at(valid_at)
        stmt = select(*rows.NODE_COLUMNS).where(t.nodes.c.profile_id == profile_id)
        if kind is not None:
            stmt = stmt.where(t.nodes.c.kind == kind)
        if state is not None:
            stmt = stmt.where(t.nodes.c.state == NodeState(state).value)
        if at is not None:
            stmt = stmt.where(q.holds_at(t.nodes, at))
        with self._db.read("list_nodes") as conn:
            return [rows.node_of(row) for row in conn.execute(stmt.order_by(t.nodes.c.id))]

    def iter_nodes(self, profile_id: str | None = None) -> Iterator[MemoryNode]:
        """Stream nodes by id (all profiles when ``profile_id`` is None)."""
        for row in self._stream(t.nodes, rows.NODE_COLUMNS, profile_id, "iter_nodes"):
            yield rows.node_of(row)

    def _stream(
        self, table: Table, columns: Sequence[Any], profile_id: str | None, where: str
    ) -> Iterator[Any]:
        # Keyset pages by id: bounded memory, and no connection held between pages.
        last: str | None = None
        while True:
            stmt = select(*columns).order_by(table.c.id).limit(CHUNK)
            if profile_id is not None:
                stmt = stmt.where(table.c.profile_id == profile_id)
            if last is not None:
                stmt = stmt.where(table.c.id > last)
            with self._db.read(where) as conn:
                page = conn.execute(stmt).all()
            yield from page
            if len(page) < CHUNK:
                return
            last = page[-1].id

    def delete_node(self, node_id: str) -> None:
        """Delete a node and every edge touching it."""
        with self._db.write("delete_node") as conn:
            if not self._exists(conn, t.nodes, id=node_id):
                raise _missing("node", node_id)
            conn.execute(q.DELETE_TOUCHING, {"id_": node_id})
            conn.execute(q.DELETE_BY_ID["nodes"], {"id_": node_id})

    # --- edges ----------------------------------------------------------------------

    def save_edge(self, edge: MemoryEdge) -> MemoryEdge:
        """Insert or replace an edge whose endpoints exist in its profile."""
        with self._db.write("save_edge") as conn:
            ends = {
                node_id: owner
                for node_id, owner in conn.execute(
                    q.ENDS, {"source_": edge.source_id, "target_": edge.target_id}
                )
            }
            for end in (edge.source_id, edge.target_id):
                if end not in ends:
                    raise IntegrityError(f"edge {edge.id!r} refers to missing node {end!r}")
                if ends[end] != edge.profile_id:
                    raise IntegrityError(
                        f"edge {edge.id!r} joins node {end!r} of another profile ({ends[end]!r})"
                    )
            self._upsert(conn, t.edges, [rows.edge_row(edge)])
        return edge

    def get_edge(self, edge_id: str) -> MemoryEdge:
        """The edge with this id."""
        found = self.find_edge(edge_id)
        if found is None:
            raise _missing("edge", edge_id)
        return found

    def find_edge(self, edge_id: str) -> MemoryEdge | None:
        """The edge with this id, or None."""
        with self._db.read("find_edge") as conn:
            row = self._one(conn, t.edges, edge_id)
            return None if row is None else rows.edge_of(row)

    def list_edges(
        self,
        profile_id: str,
        source_id: str | None = None,
        target_id: str | None = None,
        kind: str | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryEdge]:
        """Edges of a profile valid at ``valid_at``, filtered by endpoints and kind, by id."""
        at = resolve_valid_at(valid_at)
        given = {"source_id": source_id, "target_id": target_id, "kind": kind}
        filters = tuple(name for name, value in given.items() if value is not None)
        params: dict[str, Any] = {f"{name}_": given[name] for name in filters}
        params["profile_id_"] = profile_id
        if at is not None:
            params["at_"] = at
        with self._db.read("list_edges") as conn:
            found = q.edges_of_profile(filters, at is not None).all(conn, params)
        return [rows.edge_of(row) for row in found]

    def iter_edges(self, profile_id: str | None = None) -> Iterator[MemoryEdge]:
        """Stream edges by id (all profiles when ``profile_id`` is None)."""
        for row in self._stream(t.edges, rows.EDGE_COLUMNS, profile_id, "iter_edges"):
            yield rows.edge_of(row)

    def delete_edge(self, edge_id: str) -> None:
        """Delete an edge."""
        with self._db.write("delete_edge") as conn:
            if conn.execute(q.DELETE_BY_ID["edges"], {"id_": edge_id}).rowcount == 0:
                raise _missing("edge", edge_id)

    # --- paths ----------------------------------------------------------------------

    def save_path(self, path: MemoryPath) -> MemoryPath:
        """Insert or replace a path; at most one active path per conversation tree."""
        paths = t.paths
        with self._db.write("save_path") as conn:
            if not self._exists(conn, t.profiles, id=path.profile_id):
                raise IntegrityError(f"profile {path.profile_id!r} does not exist")
            if path.parent_path_id is not None and not self._exists(
                conn, paths, id=path.parent_path_id
            ):
                raise IntegrityError(f"parent path {path.parent_path_id!r} does not exist")
            if path.active:
                other = conn.execute(
                    q.OTHER_ACTIVE, {"tree_": path.tree_id, "id_": path.id}
                ).scalar()
                if other is not None:
                    raise ConflictError(
                        f"path {other!r} is already the active path of tree {path.tree_id!r}"
                    )
            self._upsert(conn, paths, [rows.path_row(path)])
        return path

    def get_path(self, path_id: str) -> MemoryPath:
        """The path with this id."""
        found = self.find_path(path_id)
        if found is None:
            raise _missing("path", path_id)
        return found

    def find_path(self, path_id: str) -> MemoryPath | None:
        """The path with this id, or None."""
        # Every event recorded on a path looks it up (is it open?): a path row
        # read before is not converted and validated again (paths are immutable).
        with self._db.read("find_path") as conn:
            return q.BY_ID["paths"].first_model(
                conn, {"id_": path_id}, rows.path_of, self._paths_by_row
            )

    def list_paths(self, profile_id: str | None = None) -> list[MemoryPath]:
        """Paths, by id, optionally of one profile."""
        stmt = select(*rows.PATH_COLUMNS).order_by(t.paths.c.id)
        if profile_id is not None:
            stmt = stmt.where(t.paths.c.profile_id == profile_id)
        with self._db.read("list_paths") as conn:
            return [rows.path_of(row) for row in conn.execute(stmt)]

    def delete_path(self, path_id: str) -> None:
        """Delete a path that no event and no other path refers to."""
        with self._db.write("delete_path") as conn:
            if not self._exists(conn, t.paths, id=path_id):
                raise _missing("path", path_id)
            paths = t.paths
            referring = select(
                exists().where(
                    paths.c.id != path_id,
                    or_(
                        paths.c.parent_path_id == path_id,
                        paths.c.root_path_id == path_id,
                        paths.c.merged_into_path_id == path_id,
                    ),
                )
            )
            if self._exists(conn, t.events, path_id=path_id) or conn.execute(referring).scalar():
                raise IntegrityError(f"path {path_id!r} is still referred to")
            conn.execute(q.DELETE_BY_ID["paths"], {"id_": path_id})

    # --- activation plans -----------------------------------------------------------

    def get_activation_plan(self, plan_id: str) -> ActivationPlan:
        """A stored activation plan."""
        plans = self._plans(t.activation_plans.c.id == plan_id, "get_activation_plan")
        if not plans:
            raise _missing("activation plan", plan_id)
        return plans[0]

    def list_activation_plans(self, profile_id: str | None = None) -> list[ActivationPlan]:
        """Stored activation plans, by id."""
        where = None if profile_id is None else t.activation_plans.c.profile_id == profile_id
        return self._plans(where, "list_activation_plans")

    def _plans(self, where: Any, name: str) -> list[ActivationPlan]:
        with self._db.read(name, snapshot=True) as conn:
            return _read_plans(conn, where)

    # --- the fold's view ------------------------------------------------------------

    def edges_touching(self, node_id: str) -> list[MemoryEdge]:
        """Edges with ``node_id`` at either end, by id."""
        with self._db.read("edges_touching") as conn:
            return [rows.edge_of(row) for row in conn.execute(q.TOUCHING, {"id_": node_id})]

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]:
        """Paths of the conversation tree rooted at ``root_path_id``, by id."""
        # A LangGraph saver reads a thread's paths on every read: rows seen before
        # are not converted and validated again (as find_path).
        with self._db.read("paths_in_tree") as conn:
            return q.IN_TREE.all_models(
                conn, {"tree_": root_path_id}, rows.path_of, self._paths_by_row
            )

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]:
        """Stored plans with an item for ``node_id``, by id."""
        items = t.activation_items
        mentioned = select(items.c.plan_id).where(items.c.node_id == node_id)
        return self._plans(t.activation_plans.c.id.in_(mentioned), "plans_mentioning")

    # --- queries --------------------------------------------------------------------

    def neighbourhood(
        self, node_id: str, depth: int = 1, *, valid_at: ValidAt = "now"
    ) -> Neighbourhood:
        """Nodes within ``depth`` hops of ``node_id`` (either direction) and their edges.

        Only edges and nodes valid at ``valid_at`` are walked and returned (the
        centre always is).
        """
        at = resolve_valid_at(valid_at)
        edges, nodes = t.edges, t.nodes
        edge_valid = (q.holds_at(edges, at),) if at is not None else ()
        node_valid = (q.holds_at(nodes, at),) if at is not None else ()
        with self._db.read("neighbourhood", snapshot=True) as conn:
            if not self._exists(conn, t.nodes, id=node_id):
                raise _missing("node", node_id)
            seen = {node_id}
            frontier = {node_id}
            for _ in range(max(depth, 0)):
                if not frontier:
                    break
                hops = conn.execute(
                    select(edges.c.source_id, edges.c.target_id).where(
                        or_(edges.c.source_id.in_(frontier), edges.c.target_id.in_(frontier)),
                        *edge_valid,
                    )
                )
                reached = {end for pair in hops for end in pair} - seen
                if reached and node_valid:
                    reached = set(conn.execute(
                        select(nodes.c.id).where(nodes.c.id.in_(reached), *node_valid)
                    ).scalars())
                frontier = reached
                seen |= reached
            node_rows = conn.execute(
                select(*rows.NODE_COLUMNS).where(t.nodes.c.id.in_(seen)).order_by(t.nodes.c.id)
            )
            found_nodes = [rows.node_of(row) for row in node_rows]
            edge_rows = conn.execute(
                select(*rows.EDGE_COLUMNS)
                .where(edges.c.source_id.in_(seen), edges.c.target_id.in_(seen), *edge_valid)
                .order_by(edges.c.id)
            )
            found_edges = [rows.edge_of(row) for row in edge_rows]
        return Neighbourhood(centre_id=node_id, nodes=found_nodes, edges=found_edges)

    def counts(self, profile_id: str | None = None) -> dict[str, int]:
        """Numbers of profiles, nodes, edges, paths and activation plans."""
        tables = {
            "profiles": t.profiles,
            "nodes": t.nodes,
            "edges": t.edges,
            "paths": t.paths,
            "activation_plans": t.activation_plans,
        }
        columns = []
        for name, table in tables.items():
            count = select(func.count()).select_from(table)
            if profile_id is not None:
                column = table.c.id if name == "profiles" else table.c.profile_id
                count = count.where(column == profile_id)
            columns.append(count.scalar_subquery().label(name))
        with self._db.read("counts") as conn:
            row = conn.execute(select(*columns)).one()
        return {name: int(value) for name, value in row._asdict().items()}

    def search_text(self, profile_id: str, terms: Sequence[str], limit: int) -> list[TextMatch]:
        """Active nodes whose label or content holds any of ``terms``, best first."""
        if not terms or limit <= 0:
            return []
        with self._db.read("search_text") as conn:
            return search_text(conn, profile_id, terms, limit)

    def search_substring(self, profile_id: str, text: str, limit: int) -> list[TextMatch]:
        """Active nodes whose kind, label or content holds ``text`` (any case), best first.

        Through the trigram index for text of three characters or more (see
        :func:`phase_memory.sql.dialect.substring_search`), through the
        short-substring index for shorter text (two statements on SQLite, read
        in one snapshot: :func:`phase_memory.sql.dialect.short_substring_search`).
        """
        short = len(text) < dialect.TRIGRAM
        with self._db.read("search_substring", snapshot=short) as conn:
            return search_substring(conn, profile_id, text, limit)

    # --- writing effects --------------------------------------------------------------

    def apply(self, effects: Iterable[Effect]) -> None:
        """Write the exact records of replay effects, in order.

        Runs of the same effect become one executemany of a compiled statement.
        Writing a forgotten node also merges the full-text index, in the same
        transaction, so no erased term outlives the commit in an old index segment.
        """
        with self._db.write("apply") as conn:
            batch: list[dict[str, Any]] = []
            batch_kind: type | None = None
            forgotten = False
            for effect in effects:
                kind = type(effect)
                if kind is not batch_kind and batch:
                    self._flush(conn, batch_kind, batch)
                    batch = []
                batch_kind = kind
                match effect:
                    case PutNode(node):
                        batch.append(rows.node_row(node))
                        forgotten = forgotten or node.state == NodeState.FORGOTTEN
                    case PutEdge(edge):
                        batch.append(rows.edge_row(edge))
                    case RemoveEdge(edge_id) | RemoveNode(edge_id):
                        batch.append({"id_": edge_id})
                    case PutPath(path):
                        batch.append(rows.path_row(path))
                    case PutProfile(profile):
                        batch.append(rows.profile_row(profile))
                    case PutActivationPlan(plan):
                        self._put_plan(conn, plan)
                        batch_kind = None
            if batch:
                self._flush(conn, batch_kind, batch)
            if forgotten:
                dialect.optimize_search_index(conn)
                dialect.clear_free_pages(conn)

    def _flush(self, conn: Connection, kind: type | None, batch: list[dict[str, Any]]) -> None:
        if kind is PutNode:
            self._upsert(conn, t.nodes, batch)
        elif kind is PutEdge:
            self._upsert(conn, t.edges, batch)
        elif kind is RemoveEdge:
            conn.execute(q.DELETE_BY_ID["edges"], batch)
        elif kind is RemoveNode:
            conn.execute(q.DELETE_BY_ID["nodes"], batch)
        elif kind is PutPath:
            # One at a time, in order: deactivating a tree's other path must
            # land before the newly active one (the one-active-path index).
            for params in batch:
                self._upsert(conn, t.paths, [params])
        elif kind is PutProfile:
            self._upsert(conn, t.profiles, batch)

    def _put_plan(self, conn: Connection, plan: ActivationPlan) -> None:
        self._upsert(conn, t.activation_plans, [rows.plan_row(plan)])
        conn.execute(q.DELETE_ITEMS, {"plan_id_": plan.id})
        items = rows.item_rows(plan)
        if items:
            conn.execute(q.INSERT_ITEMS, items)

    # --- snapshot -------------------------------------------------------------------

    def plans_by_id(self, conn: Connection) -> dict[str, ActivationPlan]:
        """Every stored activation plan by id, read on ``conn``."""
        return {p.id: p for p in _read_plans(conn, None)}

    def snapshot(self) -> GraphSnapshot:
        """Everything stored, as a snapshot comparable with a replay (position 0)."""
        with self._db.read("snapshot", snapshot=True) as conn:
            profiles = conn.execute(select(*rows.PROFILE_COLUMNS).order_by(t.profiles.c.id))
            profile_map = {p.id: p for p in map(rows.profile_of, profiles)}
            node_rows = conn.execute(select(*rows.NODE_COLUMNS).order_by(t.nodes.c.id))
            node_map = {n.id: n for n in map(rows.node_of, node_rows)}
            edge_rows = conn.execute(select(*rows.EDGE_COLUMNS).order_by(t.edges.c.id))
            edge_map = {e.id: e for e in map(rows.edge_of, edge_rows)}
            path_rows = conn.execute(select(*rows.PATH_COLUMNS).order_by(t.paths.c.id))
            path_map = {p.id: p for p in map(rows.path_of, path_rows)}
            plans = self.plans_by_id(conn)
        return GraphSnapshot.model_construct(
            profiles=profile_map,
            nodes=node_map,
            edges=edge_map,
            paths=path_map,
            activation_plans=plans,
            position=0,
        )


def _read_plans(conn: Connection, where: Any) -> list[ActivationPlan]:
    plans, items = t.activation_plans, t.activation_items
    plan_stmt = select(*rows.PLAN_COLUMNS).order_by(plans.c.id)
    item_stmt = q.ITEM_SELECT.join(plans, plans.c.id == items.c.plan_id)
    if where is not None:
        plan_stmt = plan_stmt.where(where)
        item_stmt = item_stmt.where(where)
    plan_rows = conn.execute(plan_stmt).all()
    if not plan_rows:
        return []
    item_rows = conn.execute(item_stmt.order_by(items.c.plan_id, items.c.ordinal))
    return rows.plans_of(plan_rows, item_rows)
