"""Tests for index/search/whoosh/spelling.py: nearest words found exactly, within a fixed budget."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from index.model import SearchRequest
from index.search.suggestions import MAX_CORRECTED_CHARS, MAX_CORRECTED_WORDS, correctable
from index.search.whoosh import spelling as spelling_module
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.spelling import MAX_CANDIDATES, Spelling, edit_distance


def _reference_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


WORDS = ["galaxy", "galaxies", "telescope", "telescopes", "learning", "earning", "yearning", "model",
         "models", "modal", "mode", "diffusion", "conditioning", "reinforcement", "transformer", "a",
         "naïve", "x" * 30]


def test_edit_distance_agrees_with_the_textbook_one_up_to_its_limit() -> None:
    for a, b in itertools.product(WORDS[:12], repeat=2):
        full = _reference_distance(a, b)
        assert edit_distance(a, b, 3) == min(full, 3), (a, b)


def test_nearest_is_every_word_at_the_smallest_distance_as_brute_force_finds() -> None:
    spelling = Spelling(WORDS)
    for typed in ["galxy", "lerning", "modle", "telescpe", "difusion", "qqqqq", "modl", "naive"]:
        distances = {w: _reference_distance(typed, w) for w in WORDS if w != typed}
        best = min(distances.values())
        expected = sorted(w for w, d in distances.items() if d == best) if best <= 2 else []
        assert spelling.nearest(typed) == expected, typed


def test_long_words_are_not_looked_up() -> None:
    spelling = Spelling(["b" * MAX_CORRECTED_CHARS, "b" * (MAX_CORRECTED_CHARS + 1)])
    assert spelling.nearest("b" * (MAX_CORRECTED_CHARS - 1)) == ["b" * MAX_CORRECTED_CHARS]
    assert spelling.nearest("b" * (MAX_CORRECTED_CHARS + 1)) == []
    assert spelling.nearest("b" * 1000) == []


def test_at_most_max_candidates_distances_are_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    # 5,000 words all within two letters of the typed one by their letter counts (permutations).
    words = sorted({"".join(p) for p in itertools.permutations("abcdefgh", 8)})[:5000]
    spelling = Spelling(words)
    calls: list[str] = []
    real = spelling_module.edit_distance

    def counting(a: str, b: str, limit: int) -> int:
        calls.append(b)
        return real(a, b, limit)

    monkeypatch.setattr(spelling_module, "edit_distance", counting)
    found = spelling.nearest("abcdefhg")
    assert 0 < len(calls) <= MAX_CANDIDATES
    assert found and {_reference_distance("abcdefhg", w) for w in found} == {2}


def test_correctable_skips_known_and_long_words_and_stops_at_the_budget() -> None:
    words = ["known", "b" * (MAX_CORRECTED_CHARS + 1)] + [f"word{chr(97 + i)}" for i in range(20)]
    picked = correctable(words, lambda w: w == "known")
    assert picked == [f"word{chr(97 + i)}" for i in range(MAX_CORRECTED_WORDS)]


def test_did_you_mean_on_a_real_index(built_index: Path) -> None:
    index = SearchIndex(built_index)
    try:
        page = index.search(SearchRequest(q="lerning galxy"))
        assert page.total == 0 and page.did_you_mean == "learning galaxy"
        assert index.search(SearchRequest(q="b" * 1000)).did_you_mean is None
    finally:
        index.close()
