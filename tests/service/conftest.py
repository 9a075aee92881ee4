"""Fixtures for the API tests: apps over real indexes on disk, closed when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from index.settings import Settings
from service.app import create_app
from service.engine import current_engine


@pytest.fixture(scope="session")
def sample_app(sample_index: Path) -> Iterator[Flask]:
    """The app over the shared sample index."""
    app = create_app(Settings(index_dir=sample_index))
    yield app
    current_engine(app).close()


@pytest.fixture
def client(sample_app: Flask) -> FlaskClient:
    """A test client of the app over the shared sample index."""
    return sample_app.test_client()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Return a factory of apps over any index directory; each one's index is closed afterwards."""
    apps: list[Flask] = []

    def make(index_dir: Path, **settings: Any) -> Flask:
        app = create_app(Settings(index_dir=index_dir, **settings))
        apps.append(app)
        return app

    yield make
    for app in apps:
        current_engine(app).close()
