"""An item's key terms are exactly the ones Whoosh's key_terms_from_text chooses, with the same weights."""

from __future__ import annotations

import random
from pathlib import Path

from index.search.whoosh import keyterms
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import delete_items, write_items
from tests.support.indexes import SAMPLE_FILES, items_from
from tests.support.paths import DIGEST, FEEDS


def _whooshs(searcher: object, text: str, limit: int) -> list[tuple[str, float]]:
    reader = searcher.reader()  # type: ignore[attr-defined]
    return [
        (term, weight)
        for term, weight in searcher.key_terms_from_text("content", text, numterms=100)  # type: ignore[attr-defined]
        if reader.doc_frequency("content", term) >= 2
    ][:limit]


def test_key_terms_are_whooshs_over_several_segments(tmp_path: Path) -> None:
    items = items_from([*SAMPLE_FILES, *FEEDS, DIGEST])
    store = IndexStore(tmp_path)
    write_items(store, items, batch_size=150)  # several commits: several segments
    delete_items(store, [item.id for item in random.Random(18).sample(items, 10)])
    texts = [item.title + "\n" + item.summary for item in items] + ["", "the of and", "zzqx unknownword"]
    ix = store.open()
    with ix.searcher() as searcher:
        assert len(searcher.leaf_searchers()) >= 2
        chosen = 0
        for _ in range(2):  # the second time through, every word's frequencies come from the memo
            for text in texts:
                ours = keyterms.key_terms(searcher, "content", text, numterms=100, min_docs=2, limit=12)
                assert ours == _whooshs(searcher, text, 12), text[:60]
                chosen += bool(ours)
        assert chosen > len(texts)  # most items have key terms: the comparison is not of empty lists
        assert len(keyterms._stats[searcher]) > 100
