"""An item's key terms for similar items: Whoosh's own choice (Bo1), with one term lookup per segment.

Whoosh's ``key_terms_from_text`` asks every segment for each word of the item three times (is it
there, its collection frequency, then its document frequency for our filter, each a Python hash-table
probe): at 100k items in ten segments that was most of a similar-items request (docs/speed-notes.md).
One ``term_info`` per word and segment carries both frequencies, so each word is looked up once, and
an opened searcher remembers what it found for the words items share (half the words of 100 random
items at 100k, four in five of 1,000's); the weights, their normalisation and the order are Whoosh's,
to the last bit (tests/index/test_keyterms.py compares the two).
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from typing import Any

from whoosh.classify import Bo1Model
from whoosh.reading import TermNotFound

# Words whose frequencies one opened searcher remembers: ~100 bytes each, so a few MB per worker at most.
STATS_LIMIT = 50_000
_Stats = dict[tuple[str, bytes], tuple[float, int] | None]
_stats: weakref.WeakKeyDictionary[Any, _Stats] = weakref.WeakKeyDictionary()


def key_terms(searcher: Any, fieldname: str, text: str, *, numterms: int, min_docs: int,
              limit: int) -> list[tuple[str, float]]:
    """Return up to ``limit`` of the ``numterms`` best terms of ``text`` held by ``min_docs``+ documents.

    The same as ``searcher.key_terms_from_text(fieldname, text, numterms)`` filtered to terms whose
    document frequency is at least ``min_docs``, then cut to ``limit``.
    """
    reader = searcher.reader()
    field = searcher.schema[fieldname]
    # Whoosh's Expander.add_text: each analysed token's weight, summed per word.
    weights: dict[str, float] = defaultdict(float)
    total = 0
    for btext, _, weight, _ in field.index(text):
        weights[field.from_bytes(btext)] += weight
        total += weight
    if not weights:
        return []
    leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
    model = Bo1Model(reader.doc_count_all(), reader.field_length(fieldname))
    memo = _stats.get(searcher)
    if memo is None:
        memo = _stats.setdefault(searcher, {})
    scored: list[tuple[float, str]] = []
    doc_frequency: dict[str, int] = {}
    best = 0.0
    for word, weight in weights.items():
        key = (fieldname, field.to_bytes(word))
        if key in memo:
            stats = memo[key]
        else:
            stats = _frequencies(leaves, *key)
            if len(memo) < STATS_LIMIT:
                memo[key] = stats
        if stats is None:
            continue
        score = model.score(weight, stats[0], total)
        best = max(best, score)
        scored.append((score, word))
        doc_frequency[word] = stats[1]
    norm = model.normalizer(best, total)
    ranked = sorted(((score / norm, word) for score, word in scored), key=lambda pair: (-pair[0], pair[1]))
    return [(word, score) for score, word in ranked[:numterms] if doc_frequency[word] >= min_docs][:limit]



def _frequencies(leaves: list[Any], fieldname: str, btext: bytes) -> tuple[float, int] | None:
    """Return a term's (collection frequency, document frequency) over every segment, None if none has it."""
    infos = []
    for leaf in leaves:
        try:
            infos.append(leaf.term_info(fieldname, btext))
        except TermNotFound:
            continue
    if not infos:
        return None
    # Summed in segment order, as Whoosh's frequency() sums them, so the float is the same.
    return sum(info.weight() for info in infos), sum(info.doc_frequency() for info in infos)


__all__ = ["key_terms"]
