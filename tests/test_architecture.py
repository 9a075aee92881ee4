"""docs/ARCHITECTURE.md, the newcomer's map, names only paths the repository has."""

from __future__ import annotations

import re

from tests.support.paths import REPO

DOC = REPO / "docs" / "ARCHITECTURE.md"
# A repository path as the page writes one: under index/, service/, tests/ or docs/, or openapi.yaml.
PATH = re.compile(r"\b((?:index|service|tests|docs)/[\w./<>*-]*\w|openapi\.yaml)")


def named_paths() -> set[str]:
    return {p for p in PATH.findall(DOC.read_text("utf-8")) if "<" not in p and "*" not in p}


def test_every_path_the_architecture_page_names_exists() -> None:
    paths = named_paths()
    assert len(paths) > 30  # the page is a map of the modules, not a summary
    assert {p for p in paths if not (REPO / p).exists()} == set()

