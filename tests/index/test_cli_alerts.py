"""Tests for index/cli/alerts.py: `feedsift alerts ...`, and what `add`, `rebuild` and `poll` deliver."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from index import cli
from tests.support.feedserver import FeedServer, rss_feed, serve
from tests.support.webhooks import Receiver

ALLOW = {"FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS": "1"}


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def run(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Return a runner of `feedsift ARGS...` against the test index."""
    monkeypatch.delenv("FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS", raising=False)
    monkeypatch.delenv("FEEDSIFT_ENGINE", raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        merged = {"FEEDSIFT_INDEX_DIR": str(index_dir), **(env or {})}
        return CliRunner().invoke(cli.main, list(args), env=merged, catch_exceptions=False)

    return invoke


def jsonl(path: Path, *titles: str) -> str:
    records = [{"id": "id-" + t.replace(" ", "-"), "title": t, "summary": "seen", "source": "Zoo",
                "link": f"https://zoo.example/{t.replace(' ', '-')}"} for t in titles]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def test_the_alert_commands_are_registered() -> None:
    assert {"add", "list", "remove", "deliver"} <= set(cli.main.commands["alerts"].commands)  # type: ignore[attr-defined]


def test_a_loopback_webhook_is_refused_unless_allowed(run: Callable[..., Result], receiver: Receiver) -> None:
    refused = run("alerts", "add", "quokka", "--webhook", receiver.url)
    assert refused.exit_code == 1
    assert "non-public address 127.0.0.1" in refused.stderr
    assert "FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS" in refused.stderr
    assert run("alerts", "list").stdout == "no alerts\n"
    odd = run("alerts", "add", "quokka", "--webhook", receiver.url,
              env={"FEEDSIFT_ALLOW_PRIVATE_WEBHOOKS": "maybe"})
    assert odd.exit_code == 2 and "must be 1, true or yes" in odd.stderr


def test_add_list_and_remove(run: Callable[..., Result], receiver: Receiver) -> None:
    added = run("alerts", "add", "quokka", "--webhook", receiver.url, "--source", "Zoo", "--match", "all",
                env=ALLOW)
    assert added.exit_code == 0
    first, second = added.stdout.splitlines()
    assert first == f"added alert 1: 'quokka' -> {receiver.url}"
    secret = second.split()[1]
    assert len(secret) == 64 and int(secret, 16) >= 0
    listed = json.loads(run("alerts", "list", "--json").stdout)
    assert [(a["id"], a["q"], a["source"], a["match"], a["pending"]) for a in listed] == [
        (1, "quokka", "Zoo", "all", 0)]
    assert "secret" not in listed[0] and secret not in run("alerts", "list").stdout
    assert run("alerts", "remove", "1").stdout == "removed alert 1: 'quokka'\n"
    missing = run("alerts", "remove", "1")
    assert missing.exit_code == 1 and "no alert 1" in missing.stderr


def test_a_bad_query_is_refused(run: Callable[..., Result], receiver: Receiver) -> None:
    result = run("alerts", "add", '"unclosed', "--webhook", receiver.url, env=ALLOW)
    assert result.exit_code == 1 and "Unbalanced quote" in result.stderr


def test_add_and_rebuild_lead_to_deliveries(run: Callable[..., Result], receiver: Receiver,
                                            tmp_path: Path) -> None:
    assert run("add", jsonl(tmp_path / "a.jsonl", "old quokka")).stdout.startswith("1 added")
    run("alerts", "add", "quokka", "--webhook", receiver.url, env=ALLOW)
    assert run("add", jsonl(tmp_path / "b.jsonl", "old quokka", "new quokka", "wombat")).exit_code == 0
    delivered = run("alerts", "deliver", env=ALLOW)
    assert delivered.stdout.endswith("1 delivery attempted: 1 delivered, 0 to retry, 0 failed\n")
    assert receiver.items() == ["id-new-quokka"]
    rebuilt = run("rebuild", jsonl(tmp_path / "c.jsonl", "old quokka", "new quokka", "third quokka"))
    assert rebuilt.exit_code == 0
    run("alerts", "deliver", "--now", env=ALLOW)
    assert receiver.items() == ["id-new-quokka", "id-third-quokka"]


def test_the_poll_worker_delivers_after_polling(run: Callable[..., Result], receiver: Receiver,
                                                 feed_server: FeedServer) -> None:
    url = feed_server.route("/feed.xml", serve(rss_feed(("q1", "A quokka smiles", "Photo"),
                                                        ("w1", "A wombat digs", "Photo"))))
    run("alerts", "add", "quokka", "--webhook", receiver.url, env=ALLOW)
    run("feeds", "add", url)
    polled = run("poll", env={**ALLOW, "FEEDSIFT_ALLOW_PRIVATE_FEEDS": "1"})
    assert polled.exit_code == 0, polled.output
    assert "1 delivery attempted: 1 delivered" in polled.stdout
    assert [item["title"] for post in receiver.posts for item in post.json["items"]] == ["A quokka smiles"]
