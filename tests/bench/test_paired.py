"""Tests for bench/paired.py: the paired randomisation test between two relevance runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.paired import differences, main, p_value


def test_differences_are_paired_by_query() -> None:
    before = {"a": 0.5, "b": 0.25, "only-before": 1.0}
    after = {"b": 0.75, "a": 0.5, "only-after": 0.0}
    assert differences(before, after).tolist() == [0.0, 0.5]


def test_no_change_is_not_significant_and_a_steady_gain_is() -> None:
    assert p_value([np.zeros(40)], rounds=2000) == 1.0
    steady = np.full(40, 0.05)
    assert p_value([steady], rounds=2000) < 0.001
    noisy = np.random.default_rng(3).normal(0.0, 0.3, size=40)
    assert p_value([noisy], rounds=2000) > 0.05


def test_the_mean_over_collections_weighs_each_collection_equally() -> None:
    # A large collection that does not move and a small one that gains everywhere: the macro mean
    # gains (0.05 / 2), and flipping signs within the small one alone is what can undo it.
    big, small = np.zeros(500), np.full(20, 0.05)
    assert p_value([big, small], rounds=2000) < 0.001


def test_command_prints_each_collection_and_the_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {"x": {"nDCG@10": {"1": 0.2, "2": 0.4}}, "y": {"nDCG@10": {"1": 1.0}}}
    after = {"x": {"nDCG@10": {"1": 0.4, "2": 0.6}}, "y": {"nDCG@10": {"1": 1.0}}}
    (tmp_path / "b.json").write_text(json.dumps(before))
    (tmp_path / "a.json").write_text(json.dumps(after))
    assert main([str(tmp_path / "b.json"), str(tmp_path / "a.json"), "--rounds", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:5] == ["x", "2", "0.3000", "0.5000", "+0.2000"]
    assert lines[2].split()[:5] == ["y", "1", "1.0000", "1.0000", "+0.0000"]
    assert lines[3].split()[:3] == ["mean", "3", "+0.1000"]
