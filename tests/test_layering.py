"""The one direction of dependency: service/ uses index/, index/ never uses the web stack.

index/ must not import Flask, marshmallow or anything of service/; service/ must not reach past the
engine's public modules into Whoosh, feedparser, the store or the writer.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO

WEB_STACK = {"flask", "marshmallow", "werkzeug", "jinja2", "flask_limiter", "flask_swagger_ui",
             "prometheus_client", "feedgen", "service"}
ENGINE_INTERNALS = {"whoosh", "feedparser", "Stemmer", "typesense", "index.store", "index.writer",
                    "index.feeds", "index.fetch", "index.analysis", "index.schema", "index.highlight",
                    "index.whoosh_engine", "index.typesense_engine", "index.digest", "index.inputs"}


def imported_modules(package: str) -> dict[str, set[str]]:
    """Return, for each module of a package, the absolute names of the modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    names.add(f"{package}.{node.module}" if node.module else package)
                elif node.module:
                    names.add(node.module)
        found[str(path.relative_to(REPO))] = names
    return found


def _hits(names: set[str], forbidden: set[str]) -> set[str]:
    return {n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)}


def test_index_never_imports_the_web_stack() -> None:
    bad = {module: _hits(names, WEB_STACK) for module, names in imported_modules("index").items()}
    assert {m: n for m, n in bad.items() if n} == {}


def test_service_reaches_the_engine_only_through_its_public_modules() -> None:
    bad = {module: _hits(names, ENGINE_INTERNALS) for module, names in imported_modules("service").items()}
    assert {m: n for m, n in bad.items() if n} == {}


def test_the_check_sees_imports() -> None:
    # Guards the guard: the walker must find the imports it is meant to police.
    assert "whoosh" in imported_modules("index")[str(Path("index") / "searcher.py")]
    assert "flask" in imported_modules("service")[str(Path("service") / "app.py")]
