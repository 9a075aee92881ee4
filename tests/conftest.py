"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.indexes import SAMPLE_FILES, build_index, items_from

pytest_plugins = ["tests.support.feedserver", "tests.support.typesense_nodes", "tests.support.webhooks"]


@pytest.fixture
def built_index(tmp_path: Path) -> Path:
    """Return the directory of a fresh index of every sample file, this test's own to change."""
    root = tmp_path / "index"
    build_index(root, items_from(SAMPLE_FILES))
    return root


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the directory of an index of every sample file, shared by the session: never write to it."""
    root = tmp_path_factory.mktemp("samples") / "index"
    build_index(root, items_from(SAMPLE_FILES))
    return root
