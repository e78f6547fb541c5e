"""The workloads, in the order a full run goes through them."""

from __future__ import annotations

from benchmarks.harness import Workload
from benchmarks.workloads import (
    appends,
    concurrency,
    envelope,
    langgraph_saver,
    lookups,
    peers,
    record,
    replay,
)

WORKLOADS: list[Workload] = [
    Workload("bulk_append", "bulk append: 200,000 events in one events.append call",
             appends.bulk_append, full={"events": 200_000}, quick={"events": 3_000}),
    Workload("durable_append", "durable single appends: events.append([e]), WAL + NORMAL",
             appends.durable_append, full={"events": 5_000}, quick={"events": 100}),
    Workload("record_node_saved", "record of node.saved: mem.save_node, one call each",
             record.record_node_saved, full={"nodes": 20_000}, quick={"nodes": 300}),
    Workload("replay", "replay 200,000 events into a snapshot",
             replay.replay, full={"events": 200_000}, quick={"events": 3_000}),
    Workload("envelope_import", "envelope import: 1,000,000 nodes + 1,000,000 edges",
             envelope.envelope_import, full={"nodes": 1_000_000, "edges": 1_000_000},
             quick={"nodes": 15_000, "edges": 15_000}),
    Workload("envelope_export", "envelope export of the same",
             envelope.envelope_export, full={"nodes": 1_000_000, "edges": 1_000_000},
             quick={"nodes": 15_000, "edges": 15_000}),
    Workload("list_edges", "graph.list_edges(source_id=...) at 1,000,000 edges, 1,000 lookups",
             lookups.list_edges, full={"nodes": 1_000_000, "edges": 1_000_000, "lookups": 1_000},
             quick={"nodes": 15_000, "edges": 15_000, "lookups": 200}),
    Workload("activate", "activate at 100,000 nodes, 1,000 two-word topical queries",
             lookups.activate, full={"nodes": 100_000, "edges": 100_000, "queries": 1_000},
             quick={"nodes": 2_000, "edges": 2_000, "queries": 50}),
    Workload("mixed_1w4r", "1 writer + 4 reader processes through the API, 10 s",
             concurrency.mixed, full={"readers": 4, "seconds": 10.0, "seed_nodes": 1_000},
             quick={"readers": 4, "seconds": 1.0, "seed_nodes": 200}),
    Workload("peer_eventsourcing", "peer: eventsourcing SQLite recorder, batches of 100",
             peers.eventsourcing_batches, full={"events": 20_000}, quick={"events": 1_000}),
    Workload("peer_langgraph", "peer: events.append([e]) vs LangGraph SqliteSaver.put",
             peers.langgraph_put, full={"puts": 5_000}, quick={"puts": 100}),
    Workload("lg_saver_put", "LangGraph: PhaseMemorySaver.put vs SqliteSaver.put",
             langgraph_saver.put, full={"puts": 2_000}, quick={"puts": 50}),
    Workload("lg_saver_get_tuple", "LangGraph: get_tuple of the latest vs SqliteSaver",
             langgraph_saver.get_tuple, full={"thread": 1_000, "lookups": 2_000},
             quick={"thread": 50, "lookups": 50}),
    Workload("lg_saver_list", "LangGraph: list of a 1,000-checkpoint thread vs SqliteSaver",
             langgraph_saver.list_thread, full={"thread": 1_000, "lists": 10},
             quick={"thread": 50, "lists": 2}),
]
