"""The README's configuration table lists exactly the service's settings."""

from __future__ import annotations

import re

from index.settings import Settings
from tests.support.paths import REPO


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(FEEDSIFT_\w+)` \| `([^`]*)` \|", section, flags=re.MULTILINE)
    assert rows == [(name, default) for name, default, _ in Settings.variables()]
