"""The CLI follows FEEDSIFT_ENGINE: `add`, `stats` and `search` on Typesense, `rebuild` refused there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.cli import main
from index.search.typesense.collection import DEFAULT_COLLECTION
from index.search.typesense.engine import TypesenseEngine
from tests.support.paths import SAMPLES
from tests.support.typesense_nodes import API_KEY, Node


@pytest.fixture
def env(typesense_node: Node) -> Iterator[dict[str, str]]:
    """The environment of a CLI on Typesense; the default collection it writes is dropped afterwards."""
    yield {"FEEDSIFT_ENGINE": "typesense", "FEEDSIFT_TYPESENSE_NODES": typesense_node.url,
           "FEEDSIFT_TYPESENSE_API_KEY": API_KEY}
    engine = TypesenseEngine([typesense_node.url], API_KEY, DEFAULT_COLLECTION)
    engine.drop_collection()
    engine.close()


def test_add_stats_and_search_go_to_typesense(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    feed = str(SAMPLES / "ml-blog.rss")
    args = ["--index", str(tmp_path / "index")]
    added = runner.invoke(main, ["add", *args, feed], env=env)
    assert added.exit_code == 0, added.output
    assert added.output.startswith("10 added, 0 updated, 0 unchanged")
    assert not (tmp_path / "index").exists()
    stats = runner.invoke(main, ["stats", *args, "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["items"] == 10
    assert json.loads(stats.output)["path"] == f"typesense:{DEFAULT_COLLECTION}"
    found = runner.invoke(main, ["search", *args, "--json", "learning"], env=env)
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["total"] >= 1
    refused = runner.invoke(main, ["rebuild", *args, feed], env=env)
    assert refused.exit_code == 2 and "Whoosh index only" in refused.output


@pytest.mark.parametrize(("environ", "message"), [
    ({"FEEDSIFT_ENGINE": "solr"}, "FEEDSIFT_ENGINE='solr'"),
    ({"FEEDSIFT_ENGINE": "typesense", "FEEDSIFT_TYPESENSE_API_KEY": "secret-4711"},
     "needs FEEDSIFT_TYPESENSE_NODES"),
])
def test_a_bad_engine_setting_is_a_usage_error(environ: dict[str, str], message: str, tmp_path: Path) -> None:
    for command in ("stats", "search"):
        extra = ["x"] if command == "search" else []
        result = CliRunner().invoke(main, [command, "--index", str(tmp_path), *extra],
                                    env={"FEEDSIFT_TYPESENSE_NODES": "", **environ})
        assert result.exit_code == 2 and message in result.output
        assert "secret-4711" not in result.output
