"""Tests for index/cli/feeds.py: `feedsift feeds ...` and `feedsift poll`, in process and as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from index import cli
from index.feeds.poll import parse_duration
from index.feeds.registry import Registry
from tests.support.feedserver import (
    FeedServer,
    endless,
    html_page,
    rss_feed,
    serve,
    serve_with_etag,
    slow_drip,
)
from tests.support.paths import DIGEST, FEEDS, REPO

TWO_ITEMS = rss_feed(("a", "Alpha", "First item"), ("b", "Beta", "Second item"))


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def run(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Return a runner of `feedsift ARGS...` against the test index, allowed to reach 127.0.0.1."""
    for name in ("FEEDSIFT_FETCH_TIMEOUT", "FEEDSIFT_FETCH_MAX_BYTES"):
        monkeypatch.delenv(name, raising=False)
    base_env = {"FEEDSIFT_INDEX_DIR": str(index_dir), "FEEDSIFT_ALLOW_PRIVATE_FEEDS": "1"}

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        merged = {**base_env, **(env or {})}
        return CliRunner().invoke(cli.main, list(args), env=merged, catch_exceptions=False)

    return invoke


def test_add_list_and_remove(run: Callable[..., Result], index_dir: Path) -> None:
    added = run("feeds", "add", "https://example.org/feed.xml", "--source", "Example")
    assert added.exit_code == 0 and added.stdout == "added feed 1: https://example.org/feed.xml\n"
    run("feeds", "add", "https://example.com/rss")

    listed = run("feeds", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["1", "new", "0"]
    assert lines[0].endswith("https://example.org/feed.xml  (Example)")

    as_json = json.loads(run("feeds", "list", "--json").stdout)
    assert [(f["id"], f["url"], f["source"], f["enabled"]) for f in as_json] == [
        (1, "https://example.org/feed.xml", "Example", True), (2, "https://example.com/rss", None, True)
    ]
    assert (index_dir / "feeds.sqlite3").is_file()

    assert run("feeds", "remove", "1").stdout == "removed feed 1: https://example.org/feed.xml\n"
    assert run("feeds", "remove", "https://example.com/rss").exit_code == 0
    assert run("feeds", "list").stdout == "no feeds registered; add one with `feedsift feeds add URL`\n"
    assert json.loads(run("feeds", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "add", "ftp://example.org/feed"), "only http and https"),
        (("feeds", "add", "https://example.org/feed.xml"), "already registered as feed 1"),
        (("feeds", "remove", "7"), "no feed 7"),
        (("feeds", "remove", "https://nowhere.example/"), "no feed https://nowhere.example/"),
        (("feeds", "enable", "9"), "no feed 9"),
    ],
)
def test_registry_errors_are_one_clear_line(
    run: Callable[..., Result], args: tuple[str, ...], message: str
) -> None:
    run("feeds", "add", "https://example.org/feed.xml")

    result = run(*args)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_disable_and_enable(run: Callable[..., Result], index_dir: Path) -> None:
    run("feeds", "add", "https://example.org/feed.xml")

    assert run("feeds", "disable", "1").exit_code == 0
    assert "disabled" in run("feeds", "list").stdout
    assert run("feeds", "enable", "https://example.org/feed.xml").exit_code == 0
    assert Registry.beside(index_dir).get(1).enabled


def test_export_then_import_into_another_index(run: Callable[..., Result], tmp_path: Path) -> None:
    run("feeds", "add", "https://example.org/feed.xml", "--source", "Example")
    run("feeds", "add", "https://example.com/rss")

    exported = run("feeds", "export")
    assert exported.exit_code == 0 and exported.stdout.startswith("<?xml")
    opml = tmp_path / "feeds.opml"
    opml.write_text(exported.stdout, "utf-8")

    other = {"FEEDSIFT_INDEX_DIR": str(tmp_path / "other")}
    imported = run("feeds", "import", str(opml), env=other)
    assert imported.exit_code == 0 and imported.stdout == "2 added, 0 already registered, 0 skipped\n"
    assert run("feeds", "import", str(opml), env=other).stdout == "0 added, 2 already registered, 0 skipped\n"
    assert run("feeds", "export", env=other).stdout.count("<outline") == 2


def test_import_names_the_outlines_it_skipped(run: Callable[..., Result], tmp_path: Path) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="a" xmlUrl="https://example.org/a"/>'
        '<outline text="b" xmlUrl="gopher://example.org/b"/></body></opml>', "utf-8"
    )

    result = run("feeds", "import", str(opml))

    assert result.exit_code == 1
    assert result.stdout == "1 added, 0 already registered, 1 skipped\n"
    assert "gopher://example.org/b" in result.stderr and "only http and https" in result.stderr


def test_import_of_a_file_that_is_not_opml_fails_cleanly(run: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(TWO_ITEMS)

    result = run("feeds", "import", str(path))

    assert result.exit_code == 1 and "not an OPML file" in result.stderr


# --- poll ---------------------------------------------------------------------------------------------


def test_poll_indexes_then_finds_nothing_due_then_gets_a_304_when_forced(
    run: Callable[..., Result], feed_server: FeedServer
) -> None:
    run("feeds", "add", feed_server.route("/feed.xml", serve_with_etag(TWO_ITEMS)))

    first = run("poll")
    assert first.exit_code == 0, first.output
    assert "ok" in first.stdout and "2 added, 0 updated, 0 unchanged" in first.stdout
    assert first.stdout.splitlines()[-1].startswith("polled 1 feed: 1 fetched (2 items added")

    assert run("poll").stdout == "no feeds due\n"

    forced = run("poll", "--force")
    assert forced.exit_code == 0 and "not modified" in forced.stdout
    assert len(feed_server.requests_to("/feed.xml")) == 2
    assert json.loads(run("stats", "--json").stdout)["items"] == 2


def test_after_a_rebuild_a_forced_poll_fetches_every_feed_in_full(
    run: Callable[..., Result], feed_server: FeedServer
) -> None:
    # The 6 shared feeds, each served with an ETag, so a conditional GET would answer 304.
    for n, path in enumerate(FEEDS):
        body = path.read_bytes()
        run("feeds", "add", feed_server.route(f"/{n}.xml", serve_with_etag(body, etag=f'"{n}"')))
    polled = run("poll")
    assert polled.exit_code == 0, polled.output
    assert json.loads(run("stats", "--json").stdout)["items"] == 391
    listed = json.loads(run("feeds", "list", "--json").stdout)
    # Counted in the index by source name (two snapshots of one blog share theirs).
    sources = json.loads(run("stats", "--json").stdout)["sources"]
    assert {feed["title"]: feed["indexed_items"] for feed in listed} == sources

    rebuilt = run("rebuild", str(DIGEST))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(run("stats", "--json").stdout)["items"] == 18
    listed = json.loads(run("feeds", "list", "--json").stdout)
    assert [feed["indexed_items"] for feed in listed] == [0] * len(FEEDS)  # counted in the index
    assert "    0 items" in run("feeds", "list").stdout

    forced = run("poll", "--force")
    assert forced.exit_code == 0, forced.output
    assert "6 fetched" in forced.stdout and "0 not modified" in forced.stdout
    for n in range(len(FEEDS)):
        last = feed_server.requests_to(f"/{n}.xml")[-1]
        assert "if-none-match" not in last.headers  # the validators belonged to the old generation
    assert json.loads(run("stats", "--json").stdout)["items"] == 409

    again = run("poll", "--force")  # validators of the live generation are sent again
    assert f"0 fetched (0 items added, 0 updated), {len(FEEDS)} not modified" in again.stdout


def test_poll_reports_each_failure_and_still_exits_0(
    run: Callable[..., Result], feed_server: FeedServer
) -> None:
    run("feeds", "add", feed_server.route("/html", html_page()))
    run("feeds", "add", feed_server.route("/good.xml", serve(TWO_ITEMS)))

    result = run("poll")

    assert result.exit_code == 0
    assert "failed" in result.stderr and "/html" in result.stderr and "not an XML media type" in result.stderr
    assert "/good.xml: 2 added" in result.stdout
    assert "1 failed" in result.stdout
    listed = run("feeds", "list").stdout
    assert "error: not a readable feed" in listed and "(1 in a row)" in listed


def test_poll_takes_fetch_limits_from_the_environment(
    run: Callable[..., Result], feed_server: FeedServer
) -> None:
    run("feeds", "add", feed_server.route("/endless.xml", endless()))

    result = run("poll", env={"FEEDSIFT_FETCH_MAX_BYTES": "4096", "FEEDSIFT_FETCH_TIMEOUT": "2"})

    assert result.exit_code == 0 and "over the limit of 4096 bytes" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("poll", "--every", "soon"), {}, "not a duration"),
        (("poll", "--every", "0s"), {}, "not a duration"),
        (("poll",), {"FEEDSIFT_FETCH_TIMEOUT": "abc"}, "FEEDSIFT_FETCH_TIMEOUT='abc': must be a number"),
        (("poll",), {"FEEDSIFT_FETCH_MAX_BYTES": "0"}, "FEEDSIFT_FETCH_MAX_BYTES='0': must be at least 1"),
    ],
)
def test_poll_refuses_bad_settings_before_polling(
    run: Callable[..., Result], args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = run(*args, env=env)

    assert result.exit_code == 2 and message in result.stderr


def test_poll_refuses_private_addresses_unless_allowed(
    run: Callable[..., Result], feed_server: FeedServer
) -> None:
    run("feeds", "add", feed_server.route("/feed.xml", serve(TWO_ITEMS)))

    result = run("poll", env={"FEEDSIFT_ALLOW_PRIVATE_FEEDS": "0"})

    assert result.exit_code == 0 and "non-public address" in result.stderr
    assert feed_server.requests_to("/feed.xml") == []


def test_the_procfile_runs_the_poll_worker() -> None:
    lines = (REPO / "Procfile").read_text("utf-8").splitlines()
    worker = next(line for line in lines if line.startswith("worker:"))
    assert worker.split()[1:4] == ["feedsift", "poll", "--every"]
    assert parse_duration(worker.split()[4]).total_seconds() == 900


# --- a real process --------------------------------------------------------------------------------------


def _feedsift() -> list[str]:
    script = Path(sys.executable).parent / "feedsift"
    return [str(script)] if script.exists() else [sys.executable, "-m", "index.cli"]


def _start_poller(index_dir: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FEEDSIFT_INDEX_DIR": str(index_dir), "FEEDSIFT_ALLOW_PRIVATE_FEEDS": "1",
           "FEEDSIFT_FETCH_TIMEOUT": "5"}
    # Output goes to a file: an unread pipe could fill and block the poller.
    with log.open("wb") as out:
        return subprocess.Popen([*_feedsift(), "poll", *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO)


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_sigterm_finishes_the_feed_in_hand_commits_and_exits_0(
    feed_server: FeedServer, index_dir: Path, tmp_path: Path
) -> None:
    registry = Registry.beside(index_dir)
    # About a second of body, so the signal lands while the first feed is still being fetched.
    slow = registry.add(feed_server.route("/slow.xml", slow_drip(TWO_ITEMS, interval=1.0 / len(TWO_ITEMS))))
    never = registry.add(feed_server.route("/next.xml", serve(TWO_ITEMS)))
    log = tmp_path / "poll.log"
    poller = _start_poller(index_dir, log, "--every", "1s")
    try:
        _wait_for(lambda: bool(feed_server.requests_to("/slow.xml")))
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=10) == 0, log.read_text()
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()

    done = registry.get(slow.id)
    assert done.last_status == 200 and done.item_count == 2 and done.last_error is None, log.read_text()
    assert registry.get(never.id).last_polled is None
    assert feed_server.requests_to("/next.xml") == []
    assert "2 added" in log.read_text()


def test_sigterm_between_rounds_exits_0_at_once(
    feed_server: FeedServer, index_dir: Path, tmp_path: Path
) -> None:
    registry = Registry.beside(index_dir)
    feed = registry.add(feed_server.route("/feed.xml", serve_with_etag(TWO_ITEMS)))
    log = tmp_path / "poll.log"
    poller = _start_poller(index_dir, log, "--every", "1s", "--interval", "1s")
    try:
        # The second round sends a conditional request: the poller is now looping.
        _wait_for(lambda: len(feed_server.requests_to("/feed.xml")) >= 2)
        started = time.monotonic()
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=10) == 0, log.read_text()
        assert time.monotonic() - started < 3
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()

    assert "if-none-match" in feed_server.requests_to("/feed.xml")[1].headers
    assert registry.get(feed.id).last_status in (200, 304)
    assert "not modified" in log.read_text()


def test_the_commands_register_whichever_module_is_imported_first() -> None:
    check = "import index.cli.feeds, index.cli; assert {'feeds', 'poll'} <= set(index.cli.main.commands)"
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True, timeout=60)
    help_text = subprocess.run(
        [sys.executable, "-m", "index.cli", "poll", "--help"], cwd=REPO, check=True, timeout=60,
        capture_output=True, text=True,
    ).stdout
    assert "--every" in help_text


@pytest.mark.parametrize("args", [("feeds", "list"), ("feeds", "list", "--json"), ("feeds", "export"),
                                  ("feeds", "remove", "1"), ("feeds", "disable", "1"), ("stats",),
                                  ("search", "learning")])
def test_a_mistyped_index_is_reported_and_nothing_is_created(run: Callable[..., Result], tmp_path: Path,
                                                              args: tuple[str, ...]) -> None:
    typo = tmp_path / "indx"
    result = run(*args, "--index", str(typo))
    assert result.exit_code == 1
    assert f"no index at {typo}" in result.stderr
    assert not typo.exists()


def test_reading_feeds_of_an_index_without_a_registry_creates_none(run: Callable[..., Result],
                                                                   index_dir: Path) -> None:
    index_dir.mkdir()
    assert run("feeds", "list").stdout == "no feeds registered; add one with `feedsift feeds add URL`\n"
    assert "<body />" in run("feeds", "export").stdout
    removed = run("feeds", "remove", "1")
    assert removed.exit_code == 1 and "no feed 1 in the registry" in removed.stderr
    assert list(index_dir.iterdir()) == []
