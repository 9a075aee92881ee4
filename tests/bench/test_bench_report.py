"""`--out` replaces only the run's own section of BENCH.md and keeps the others."""

from __future__ import annotations

from pathlib import Path

from bench.speed import write_section


def test_a_run_replaces_its_own_section_and_keeps_the_others(tmp_path: Path) -> None:
    report = tmp_path / "BENCH.md"
    write_section(report, "## Speed benchmark\n\nold figures\n")
    write_section(report, "## Whoosh and Typesense side by side\n\nside by side\n")
    write_section(report, "## Speed benchmark\n\nnew figures\n")
    text = report.read_text()
    assert text.startswith("# feedsift benchmarks\n")
    assert "new figures" in text and "old figures" not in text
    assert text.index("## Speed benchmark") < text.index("## Whoosh and Typesense side by side")
    assert text.count("## Speed benchmark") == 1 and "side by side\n" in text
