"""Tests for the `feedsift` command, run as a real subprocess as users run it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from index.search.whoosh.store import IndexStore
from tests.support.feedserver import RSS, FeedServer, send
from tests.support.paths import DIGEST, FEEDS, SAMPLES

FEEDSIFT = str(Path(sys.executable).with_name("feedsift"))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEEDSIFT, *args], capture_output=True, text=True, input=stdin, timeout=120)


def test_add_409_items_then_again_unchanged_and_stats_per_source(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    inputs = [str(DIGEST), *map(str, FEEDS)]
    first = run("add", "--index", index, *inputs)
    assert first.returncode == 0, first.stderr
    assert "409 added, 0 updated, 0 unchanged, 0 failed inputs" in first.stdout
    second = run("add", "--index", index, *inputs)
    assert second.returncode == 0
    assert "0 added, 0 updated, 409 unchanged, 0 failed inputs" in second.stdout
    stats = run("stats", "--index", index, "--json")
    data = json.loads(stats.stdout)
    assert data["items"] == data["works"] == 409  # the shared data has no copies
    assert sum(data["sources"].values()) == 409
    assert data["sources"]["Hugging Face Papers"] == 52
    assert data["sources"]["huggingface.co"] + data["sources"]["towardsdatascience.com"] == 18
    assert data["size_bytes"] > 0 and data["last_update"]


def test_failed_inputs_are_named_and_the_rest_go_in(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    html = tmp_path / "page.html"
    html.write_text("<html><body><p>not a feed</p></body></html>")
    result = run("add", "--index", index, str(SAMPLES / "papers.atom"), "missing.xml", str(html))
    assert result.returncode == 1
    assert "missing.xml: no such file" in result.stderr
    assert "page.html" in result.stderr
    assert "10 added" in result.stdout and "2 failed inputs" in result.stdout
    assert json.loads(run("stats", "--index", index, "--json").stdout)["items"] == 10


def test_stdin_source_override_and_bad_lines(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    body = '{"title": "one", "link": "https://a.example/1"}\nnot json\n{"title": "two"}\n'
    result = run("add", "--index", index, "--source", "Piped", "-", stdin=body)
    assert result.returncode == 0, result.stderr
    assert "line 2: not valid JSON" in result.stderr
    assert "2 added" in result.stdout and "1 records skipped" in result.stdout
    assert json.loads(run("stats", "--index", index, "--json").stdout)["sources"] == {"Piped": 2}


def test_env_var_names_the_index_and_usage_errors_exit_2(tmp_path: Path) -> None:
    env_index = tmp_path / "from-env"
    result = subprocess.run([FEEDSIFT, "add", str(SAMPLES / "astro.rdf")], capture_output=True, text=True,
                            env={"FEEDSIFT_INDEX_DIR": str(env_index), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (env_index / "current").is_symlink()
    assert run("add").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("stats", "--index", str(tmp_path / "none")).returncode == 1


def test_rebuild_replaces_the_index(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    assert run("add", "--index", index, str(DIGEST)).returncode == 0
    result = run("rebuild", "--index", index, str(SAMPLES / "astro.rdf"))
    assert result.returncode == 0 and "6 added" in result.stdout
    assert json.loads(run("stats", "--index", index, "--json").stdout)["items"] == 6
    failed = run("rebuild", "--index", index, "missing.xml")
    assert failed.returncode == 1 and "left unchanged" in failed.stderr
    assert json.loads(run("stats", "--index", index, "--json").stdout)["items"] == 6


def test_rebuild_with_a_failed_input_exits_1_and_keeps_every_item(tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    assert run("add", "--index", index, str(DIGEST), *map(str, FEEDS)).returncode == 0
    one_feed = str(SAMPLES / "astro.rdf")
    failed = run("rebuild", "--index", index, str(tmp_path / "MISSING.xml"), one_feed)
    assert failed.returncode == 1
    assert "MISSING.xml: no such file" in failed.stderr
    assert "1 input failed; the live index is left unchanged" in failed.stderr
    assert json.loads(run("stats", "--index", index, "--json").stdout)["items"] == 409
    assert len(list((tmp_path / "ix").glob("gen-*"))) == 1  # no generation was built for nothing
    partial = run("rebuild", "--index", index, "--allow-partial", str(tmp_path / "MISSING.xml"), one_feed)
    assert partial.returncode == 1 and "6 added" in partial.stdout and "1 failed input" in partial.stdout
    assert json.loads(run("stats", "--index", index, "--json").stdout)["items"] == 6


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    piped = run("add", "--index", str(tmp_path / "piped"), str(SAMPLES / "papers.atom"))
    assert "indexing" not in piped.stderr
    leader, follower = pty.openpty()
    try:
        args = [FEEDSIFT, "add", "--index", str(tmp_path / "tty"), str(SAMPLES / "papers.atom")]
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, timeout=60)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the pty is closed once the child and our copy of its end are gone
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    assert b"indexing" in shown


def test_add_fetches_a_url_before_taking_the_writer_lock(tmp_path: Path, feed_server: FeedServer) -> None:
    index = tmp_path / "ix"
    assert run("add", "--index", str(index), str(SAMPLES / "astro.rdf")).returncode == 0
    asked = threading.Event()
    answer = threading.Event()

    def held(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        asked.set()
        answer.wait(30)  # the fetch is in progress until the test has written meanwhile
        send(handler, 200, RSS, {"Content-Type": "application/rss+xml"})

    url = feed_server.route("/slow.xml", held)
    env = {**os.environ, "FEEDSIFT_ALLOW_PRIVATE_FEEDS": "1"}
    adding = subprocess.Popen([FEEDSIFT, "add", "--index", str(index), str(SAMPLES / "papers.atom"), url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert asked.wait(60)
        # Another writer (the API, the poller) gets the lock while `add` waits on the network.
        with IndexStore(index).write_lock(timeout=5):
            pass
    finally:
        answer.set()
        out, err = adding.communicate(timeout=60)
    assert adding.returncode == 0, err
    assert "11 added" in out
