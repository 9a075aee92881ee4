"""Tests for index/cli/migrate.py: `feedsift migrate --to typesense` against a real typesense-server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from index.cli import main
from index.model import FeedItem, SearchRequest, WriteReport
from index.search.typesense.engine import TypesenseEngine
from index.search.whoosh.reader import SearchIndex
from tests.support.indexes import SAMPLE_FILES, build_index, items_from, jsonl_items
from tests.support.typesense_nodes import API_KEY, Node

UNDATED = {"id": "mig-undated", "title": "An undated note", "summary": "Kept with its first-seen date.",
           "link": "https://mig.example.org/undated", "source": "Migration"}


@pytest.fixture
def whoosh_dir(tmp_path: Path) -> Path:
    root = tmp_path / "index"
    build_index(root, items_from(SAMPLE_FILES) + jsonl_items([UNDATED]))
    return root


@pytest.fixture
def alias(typesense_node: Node) -> Iterator[str]:
    """A fresh alias name; every collection made under it is dropped afterwards."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    yield name
    engine = TypesenseEngine([typesense_node.url], API_KEY, name)
    try:
        target = engine.alias_target(name)
        if target is not None:
            engine._client.aliases[name].delete()
            copy = TypesenseEngine([typesense_node.url], API_KEY, target)
            copy.drop_collection()
            copy.close()
    finally:
        engine.close()


def migrate(node: Node, index_dir: Path, alias: str, **env: str) -> Result:
    environ = {"FEEDSIFT_TYPESENSE_NODES": node.url, "FEEDSIFT_TYPESENSE_API_KEY": API_KEY, **env}
    return CliRunner().invoke(main, ["migrate", "--to", "typesense", "--index", str(index_dir),
                                     "--collection", alias], env=environ)


def test_migrate_copies_every_item_with_its_first_seen_date(typesense_node: Node, whoosh_dir: Path,
                                                             alias: str) -> None:
    result = migrate(typesense_node, whoosh_dir, alias)
    assert result.exit_code == 0, result.output
    assert "counts equal" in result.output
    whoosh = SearchIndex(whoosh_dir)
    engine = TypesenseEngine([typesense_node.url], API_KEY, alias)
    try:
        assert engine.stats().sources == whoosh.stats().sources
        assert engine.count() == whoosh.count() > 40
        ids = [h.id for h in whoosh.search(SearchRequest(per_page=100)).hits]
        assert "mig-undated" in ids
        assert engine.dates(ids) == whoosh.dates(ids)
        for item_id in ids[:10]:
            assert engine.get(item_id) == whoosh.get(item_id)
        first = engine.alias_target(alias)
        assert first is not None and first.startswith(alias + "_")
    finally:
        whoosh.close()
        engine.close()


def test_migrating_again_swaps_the_alias_and_drops_the_old_copy(typesense_node: Node, whoosh_dir: Path,
                                                                alias: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert migrate(typesense_node, whoosh_dir, alias).exit_code == 0
    engine = TypesenseEngine([typesense_node.url], API_KEY, alias)
    try:
        first = engine.alias_target(alias)
        # The stamp has one-second resolution: make the second copy's name differ for certain.
        monkeypatch.setattr("index.cli.migrate._stamp", lambda: "second")
        result = migrate(typesense_node, whoosh_dir, alias)
        assert result.exit_code == 0, result.output
        assert engine.alias_target(alias) == f"{alias}_second"
        assert f"dropped the previous collection {first}" in result.output
        assert engine.is_plain_collection(f"{alias}_second") and not engine.is_plain_collection(str(first))
    finally:
        engine.close()


def test_a_count_mismatch_exits_1_and_leaves_the_alias(typesense_node: Node, whoosh_dir: Path, alias: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert migrate(typesense_node, whoosh_dir, alias).exit_code == 0
    engine = TypesenseEngine([typesense_node.url], API_KEY, alias)
    before = engine.alias_target(alias)
    real_upsert = TypesenseEngine.upsert

    def lose_one(self: TypesenseEngine, items: list[FeedItem], **options: Any) -> WriteReport:
        return real_upsert(self, items[1:], **options)

    monkeypatch.setattr(TypesenseEngine, "upsert", lose_one)
    monkeypatch.setattr("index.cli.migrate.CONSISTENCY_WAIT", 0.0)
    monkeypatch.setattr("index.cli.migrate._stamp", lambda: "broken")
    try:
        result = migrate(typesense_node, whoosh_dir, alias)
        assert result.exit_code == 1
        assert "mismatch:" in result.output and "is left as it was" in result.output
        assert engine.alias_target(alias) == before
        assert not engine.is_plain_collection(f"{alias}_broken")
    finally:
        engine.close()


def test_a_collection_with_the_alias_name_is_refused(typesense_node: Node, whoosh_dir: Path,
                                                     alias: str) -> None:
    plain = TypesenseEngine([typesense_node.url], API_KEY, alias)
    try:
        plain.ensure_collection()
        result = migrate(typesense_node, whoosh_dir, alias)
        assert result.exit_code == 1
        assert "not an alias" in result.output
    finally:
        plain.drop_collection()
        plain.close()


def test_migrate_needs_the_typesense_variables(whoosh_dir: Path) -> None:
    result = CliRunner().invoke(main, ["migrate", "--to", "typesense", "--index", str(whoosh_dir)],
                                env={"FEEDSIFT_TYPESENSE_NODES": "", "FEEDSIFT_TYPESENSE_API_KEY": ""})
    assert result.exit_code == 2
    assert "FEEDSIFT_TYPESENSE_NODES" in result.output
