"""Fixtures for the Typesense engine tests: engines over the suite's typesense-server node.

The node itself (``typesense_node``) comes from tests/support/typesense_nodes.py, which tests/conftest.py
registers for the whole suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from index.search.typesense.engine import TypesenseEngine
from tests.support.typesense_nodes import API_KEY, Node


@pytest.fixture
def make_engine(typesense_node: Node) -> Iterator[Callable[..., TypesenseEngine]]:
    """Return a factory of engines over the node, each with a fresh collection dropped afterwards."""
    engines: list[TypesenseEngine] = []

    def make(collection: str | None = None, **options: Any) -> TypesenseEngine:
        name = collection or f"test_{uuid.uuid4().hex[:12]}"
        engine = TypesenseEngine([typesense_node.url], API_KEY, name, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.drop_collection()
        engine.close()
