"""Building real indexes on disk for tests, through the product's own parsers and writer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from whoosh.reading import SegmentReader

from index.ingest.jsonl import parse_jsonl
from index.ingest.load import load_input
from index.model import FeedItem, WriteReport
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import write_items
from tests.support.paths import SAMPLES

SAMPLE_FILES = sorted(
    p for p in SAMPLES.iterdir() if p.suffix in {".rss", ".atom", ".rdf", ".txt", ".jsonl"}
)


def items_from(paths: Iterable[Path]) -> list[FeedItem]:
    """Return the items of the given input files, parsed as `feedsift add` parses them."""
    return [item for path in paths for item in load_input(str(path)).items]


def jsonl_items(records: Iterable[dict[str, Any]]) -> list[FeedItem]:
    """Return items made from JSON Lines records through the product's JSON Lines parser."""
    parsed = parse_jsonl("\n".join(json.dumps(r) for r in records))
    assert not parsed.errors, parsed.errors
    return parsed.items


def build_index(root: Path, items: Iterable[FeedItem]) -> WriteReport:
    """Write items into a (new or existing) index at ``root``."""
    return write_items(IndexStore(root), items)


def count_lexicon_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the field of every segment lexicon read from now on (Whoosh's own reader, still reading)."""
    read: list[str] = []
    real = SegmentReader.lexicon

    def counted(self: SegmentReader, fieldname: str) -> Any:
        read.append(fieldname)
        return real(self, fieldname)

    monkeypatch.setattr(SegmentReader, "lexicon", counted)
    return read
