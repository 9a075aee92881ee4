"""Highlight spans from the memoised word path equal those of running the whole analyzer over the text."""

from __future__ import annotations

import random

from index.search.analysis import text_analyzer
from index.search.highlight import match_spans
from tests.support.indexes import SAMPLE_FILES, items_from
from tests.support.paths import DIGEST, FEEDS

TRICKY = [
    "IL-6 and IL6 and IL 6; TNF-\u03b1 vs TNF-alpha; \u03b1-synuclein",
    "GPT-4o beats Llama-3.1-8B on v2.7.5 (pre-miRNA, anti-inflammatory) \u2010 COVID-19",
    "The the THE a an of; x.y.z host.example.com \u00e9t\u00e9 na\u00efve caf\u00e9 \u4e2d\u6587 \U0001f600",
]


def _reference(text: str, terms: set[str], analyzer: object) -> list[tuple[int, int]]:
    return [
        (t.startchar, t.endchar)
        for t in analyzer(text, chars=True, mode="query")  # type: ignore[operator]
        if t.text in terms
    ]


def test_spans_equal_the_full_analyzers_on_real_text() -> None:
    analyzer = text_analyzer()
    items = items_from([*SAMPLE_FILES, *FEEDS, DIGEST])
    texts = [t for item in items for t in (item.title, item.summary)] + TRICKY
    rng = random.Random(3)
    checked = marked = 0
    for text in texts:
        forms = sorted({t.text for t in analyzer(text, mode="query")})
        for terms in (set(forms), set(rng.sample(forms, min(3, len(forms))))):
            expected = _reference(text, terms, analyzer)
            assert match_spans(text, terms, analyzer) == expected, text[:80]
            checked += 1
            marked += len(expected)
    assert checked > 800 and marked > 10_000
