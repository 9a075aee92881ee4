"""A writer killed with SIGKILL around its commit: every match of what it committed arrives, none twice.

The writer is a real subprocess writing through index.writer.write_items with an AlertWatcher, killed
with a real SIGKILL. Two tests pause it (a replaced function that prints and sleeps) to land the kill
on an exact moment, after the commit but before its matches are queued, or after the journal row but
before the commit; the third kills it at random moments with nothing replaced.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from index.alerts import AlertStore, AlertWatcher, deliver
from index.model import FeedItem, SearchRequest
from index.search.whoosh.engine import WhooshEngine
from index.search.whoosh.reader import SearchIndex
from tests.support.paths import REPO
from tests.support.webhooks import Receiver

SEED = 20261203
KILLS = 6

# argv: root, run name, item count, batch size, pause (none, after-commit, before-commit). Says "ready"
# once imported, "paused" where it pauses, and one line per commit.
WRITER = r"""
import sys, time
from index.search.whoosh import writer
from index.alerts import AlertWatcher, outbox
from index.model import FeedItem
from index.search.whoosh.store import IndexStore

root, run, count, batch, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def hold(*args, **kwargs):
    print("paused", flush=True)
    time.sleep(600)

if pause == "after-commit":
    outbox.Outbox.settle = hold
elif pause == "before-commit":
    writer._commit = hold
items = [FeedItem(id=f"{run}-{i:04d}", title=("quokka" if i % 2 else "wombat") + f" sighting {i}",
                  link=f"https://zoo.example/{run}/{i}", summary=f"seen in run {run}", source="Zoo News")
         for i in range(count)]
print("ready", flush=True)
writer.write_items(IndexStore(root), items, batch_size=batch, watcher=AlertWatcher(root),
                   on_commit=lambda report: print("commit", len(report.committed_ids), flush=True))
print("done", flush=True)
"""


def start_writer(root: Path, run: str, count: int, batch: int, pause: str = "none") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), run, str(count), str(batch), pause],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)


def wait_for(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the writer ended before printing {line!r}")


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()


def journal_rows(root: Path) -> int:
    with AlertStore.beside(root).connect() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM alert_journal").fetchone()[0])


def indexed_quokkas(root: Path) -> list[str]:
    index = SearchIndex(root)
    try:
        return sorted(hit.id for hit in index.search(SearchRequest(q="quokka", per_page=1000)).hits)
    finally:
        index.close()


def deliver_all(root: Path) -> int:
    engine = WhooshEngine(root)
    try:
        return deliver(root, fingerprints=engine.fingerprints, allow_private=True).recovered
    finally:
        engine.close()


def test_killed_after_its_commit_before_queuing_every_match_still_arrives_once(
        tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    AlertStore.beside(root).add("quokka", receiver.url, allow_private=True)
    proc = start_writer(root, "a", 10, 100, pause="after-commit")
    wait_for(proc, "paused")
    kill(proc)
    assert indexed_quokkas(root) == [f"a-{i:04d}" for i in range(1, 10, 2)]  # committed
    assert journal_rows(root) == 1  # but not queued

    assert deliver_all(root) == 5
    assert sorted(receiver.items()) == indexed_quokkas(root)
    assert journal_rows(root) == 0
    assert deliver_all(root) == 0
    # The same items written again are unchanged: nothing more is sent.
    proc = start_writer(root, "a", 10, 100)
    wait_for(proc, "done")
    proc.wait(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()
    deliver_all(root)
    assert len(receiver.posts) == 1 and sorted(receiver.items()) == indexed_quokkas(root)


def test_killed_before_its_commit_nothing_is_sent_until_the_items_are_written(
        tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    AlertStore.beside(root).add("quokka", receiver.url, allow_private=True)
    proc = start_writer(root, "b", 10, 100, pause="before-commit")
    wait_for(proc, "paused")
    kill(proc)
    assert journal_rows(root) == 1
    assert deliver_all(root) == 0  # the engine never got the items: the row is dropped
    assert (receiver.posts, journal_rows(root)) == ([], 0)

    engine = WhooshEngine(root, watcher=AlertWatcher(root))
    try:
        engine.upsert([FeedItem(id=f"b-{i:04d}", title=("quokka" if i % 2 else "wombat") + f" sighting {i}",
                                link=f"https://zoo.example/b/{i}", summary="seen in run b", source="Zoo News")
                       for i in range(10)])
    finally:
        engine.close()
    deliver_all(root)
    assert sorted(receiver.items()) == [f"b-{i:04d}" for i in range(1, 10, 2)]


def test_writers_killed_at_random_moments_lose_and_repeat_no_match(
        tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "index"
    AlertStore.beside(root).add("quokka", receiver.url, allow_private=True)
    rng = random.Random(SEED)
    recovered = 0
    for run in range(KILLS):
        proc = start_writer(root, f"r{run}", 240, 12)
        wait_for(proc, "ready")
        time.sleep(rng.uniform(0.05, 1.5))
        kill(proc)
        recovered += deliver_all(root)
    print(f"received {len(receiver.items())} matches, {recovered} of them recovered from killed writes")
    received = receiver.items()
    assert len(received) == len(set(received))  # none twice
    assert sorted(received) == indexed_quokkas(root)  # none lost
    assert len(received) > 0 and journal_rows(root) == 0
