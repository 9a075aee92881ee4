"""The per-view work arrays (index/search/whoosh/collapse.py): lead copies, copies, counts of works."""

from __future__ import annotations

import numpy as np

from index.search.whoosh.collapse import Works

# Documents 0..6: work "a" has copies 0, 2, 5 (5 deleted), "b" has 1 and 4, "c" is 3 alone, 6 has no key.
KEYS = ["a", "b", "a", "c", "b", "a", ""]
LIVE = np.array([0, 1, 2, 3, 4, 6])
DATES = np.array([100, 300, 200, 50, 300, 999, 10])
MONTHS = np.array([1, 3, 2, 1, 3, 9, 1])
SOURCES = np.array([0, 0, 1, 1, 1, 0, 2])


def works() -> Works:
    return Works(KEYS, LIVE, DATES, MONTHS, SOURCES)


def test_counts_and_copies_skip_deleted_documents() -> None:
    w = works()
    assert w.count == 4
    assert w.copies(0).tolist() == [2] and w.copies(2).tolist() == [0]
    assert w.copies(1).tolist() == [4]
    assert w.copies(3).size == 0 and w.copies(6).size == 0


def test_each_pick_keeps_one_document_per_work() -> None:
    w = works()
    scores = np.array([1.0, 5.0, 3.0, 2.0, 5.0, 0.0])
    assert LIVE[w.leads(LIVE, scores, pick="score")].tolist() == [1, 2, 3, 6]  # equal scores: lower docnum
    assert LIVE[w.leads(LIVE, scores, pick="newest")].tolist() == [2, 3, 4, 6]  # equal dates: later indexed
    assert LIVE[w.leads(LIVE, scores, pick="oldest")].tolist() == [0, 1, 3, 6]
    some = np.array([0, 3, 4])
    assert some[w.leads(some, np.zeros(3), pick="newest")].tolist() == [0, 3, 4]


def test_newest_among_only_looks_at_the_given_documents() -> None:
    w = works()
    assert w.newest_among(0, LIVE) == 2
    assert w.newest_among(0, np.array([0, 3])) == 0
    assert w.newest_among(1, LIVE) == 4


def test_works_count_once_per_source_and_once_by_month() -> None:
    w = works()
    # Source 0: works a, b (b twice in it); source 1: a, c, b; source 2: the keyless document.
    assert w.per_source(LIVE, 3).tolist() == [2, 3, 1]
    assert w.per_source(np.array([0, 2]), 3).tolist() == [1, 1, 0]
    # A work counts in the month of its newest live copy (the deleted copy 5 does not count).
    assert w.month[LIVE].tolist() == [2, 3, 2, 1, 3, 1]
