"""Tests for index/search/whoosh/spelling.py: nearest words found exactly, within a fixed budget."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from index.model import FeedItem, SearchRequest
from index.search.schema import SPELLING_FIELD
from index.search.suggestions import MAX_CORRECTED_CHARS, MAX_CORRECTED_WORDS, correctable
from index.search.whoosh import spelling as spelling_module
from index.search.whoosh.reader import SearchIndex
from index.search.whoosh.spelling import MAX_CANDIDATES, Spelling, edit_distance
from index.search.whoosh.store import IndexStore
from index.search.whoosh.view import View
from index.search.whoosh.writer import write_items
from tests.support.indexes import count_lexicon_reads


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


def _segments_of_three(root: Path) -> IndexStore:
    store = IndexStore(root)
    write_items(store, [FeedItem(id=f"i{n}", title=f"galaxy number {n}", link=f"https://example.org/{n}",
                                 source="s", summary="telescope observations") for n in range(30)],
                batch_size=10)
    return store


def test_the_writer_writes_each_segments_spelling_words_and_views_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _segments_of_three(tmp_path / "index")
    files = sorted(store.current_path().glob("*.fsw"))
    ix = store.open()
    try:
        with ix.reader() as reader:
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            assert len(files) == len(leaves) == 3
            for leaf in leaves:
                written = spelling_module._written(store.current_path(), leaf.segment().segment_id())
                assert written == [w.decode() for w in leaf.lexicon(SPELLING_FIELD)] and "galaxy" in written
    finally:
        ix.close()
    read = count_lexicon_reads(monkeypatch)
    view = View(store)
    try:
        assert view.spelling().nearest("galxy") == ["galaxy"]
        assert read == []  # every segment's words came from its file
    finally:
        view.close()


def test_without_written_words_a_segments_lexicon_is_read_once_for_every_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _segments_of_three(tmp_path / "index")
    for path in store.current_path().glob("*.fsw"):  # as an index written before them has none
        path.unlink()
    (store.current_path() / "broken.fsw").write_bytes(b"not a pickle")
    read = count_lexicon_reads(monkeypatch)
    first, second = View(store), View(store)
    try:
        assert first.spelling().nearest("galxy") == ["galaxy"]
        assert read == [SPELLING_FIELD] * 3  # one read per segment
        assert second.spelling().words == first.spelling().words
        assert read == [SPELLING_FIELD] * 3  # the second view of the same segments read none
    finally:
        first.close()
        second.close()


def test_an_unreadable_words_file_falls_back_to_the_lexicon(tmp_path: Path) -> None:
    store = _segments_of_three(tmp_path / "index")
    for path in store.current_path().glob("*.fsw"):
        path.write_bytes(b"\x80\x05 torn")
    view = View(store)
    try:
        assert view.spelling().nearest("telescoep") == ["telescope"]
    finally:
        view.close()
