"""A three-node Typesense cluster on loopback loses its leader to SIGKILL in the middle of an ingest.

The engine lists all three nodes, as a deployment would. Searches must keep answering, writes must
resume once the survivors elect a new leader, and every item the engine reported as written must
be searchable on both survivors afterwards (reads are eventually consistent: polled, with a bound).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.errors import EngineUnavailableError
from index.model import FeedItem, SearchRequest
from index.search.typesense.engine import TypesenseEngine
from tests.support.typesense_nodes import API_KEY, Node, start_cluster

pytestmark = pytest.mark.cluster

BATCHES = 40
BATCH_SIZE = 25
KILL_AT_BATCH = 12
WRITE_DEADLINE = 30.0
CONVERGE_DEADLINE = 20.0


def batch_items(n: int) -> list[FeedItem]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        FeedItem(id=f"c{n:03d}-{i:03d}", title=f"Cluster item {n} {i} quorum",
                 summary=f"Replicated summary number {n * BATCH_SIZE + i} about raft leaders.",
                 link=f"https://cluster.example.org/{n}/{i}", source=f"Node feed {i % 3}",
                 published=start + timedelta(minutes=n * BATCH_SIZE + i))
        for i in range(BATCH_SIZE)
    ]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = start_cluster(tmp_path, 3)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def wait_for_leader(nodes: list[Node], timeout: float = 15.0) -> Node:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            if node.is_leader():
                return node
        time.sleep(0.05)
    raise TimeoutError("no Raft leader")


def test_leader_killed_mid_ingest(cluster: list[Node]) -> None:
    leader = wait_for_leader(cluster)
    survivors = [n for n in cluster if n is not leader]
    engine = TypesenseEngine([n.url for n in cluster], API_KEY, "cluster_items", connection_timeout=1.0,
                             num_retries=2, retry_interval=0.1, healthcheck_interval=1)
    readers = [TypesenseEngine([n.url], API_KEY, "cluster_items", connection_timeout=1.0, num_retries=0)
               for n in survivors]
    written: list[str] = []
    failures = 0
    killed_at = resumed_at = 0.0
    search_answers = search_failures = 0
    try:
        for n in range(BATCHES):
            if n == KILL_AT_BATCH:
                leader.kill()
                killed_at = time.monotonic()
            batch = batch_items(n)
            deadline = time.monotonic() + WRITE_DEADLINE
            while True:
                try:
                    report = engine.upsert(batch)
                    break
                except EngineUnavailableError:
                    failures += 1
                    assert time.monotonic() < deadline, "writes did not resume after the leader died"
                    time.sleep(0.1)
            # A retried batch may find items that a failed attempt had already committed: those are
            # reported unchanged (read from a node that applied them), and count as written too.
            assert report.added + report.updated + report.unchanged == len(batch)
            written += [item.id for item in batch]
            if killed_at and not resumed_at:
                resumed_at = time.monotonic()
            if n >= KILL_AT_BATCH:
                # Reads through the engine (all three nodes listed, one dead) and from each survivor
                # directly must answer, even while there is no leader.
                for reader in [engine, *readers]:
                    try:
                        reader.search(SearchRequest(q="quorum", per_page=1))
                        search_answers += 1
                    except EngineUnavailableError:
                        search_failures += 1
        assert len(set(written)) == BATCHES * BATCH_SIZE
        assert search_answers > 0 and search_failures <= search_answers // 4
        for reader in readers:
            deadline = time.monotonic() + CONVERGE_DEADLINE
            while reader.count() < len(written):
                assert time.monotonic() < deadline, f"a survivor has {reader.count()} of {len(written)} items"
                time.sleep(0.1)
            page = reader.search(SearchRequest(q="quorum", per_page=1))
            assert page.total == len(written)
            assert sum(f.count for f in page.source_facets) == len(written)
            for chunk in range(0, len(written), 100):
                ids = written[chunk:chunk + 100]
                assert all(reader.get(i) is not None for i in ids[:3] + ids[-3:])
        print(f"\nleader killed; writes resumed after {resumed_at - killed_at:.2f} s "
              f"({failures} failed upserts retried); {search_answers} searches answered, "
              f"{search_failures} failed")
    finally:
        engine.close()
        for reader in readers:
            reader.close()
