"""The product's index holds the same terms, postings, positions and field lengths as plain Whoosh would.

The writer takes shortcuts for speed (each item's text analysed once, for the title, summary,
content and spelling fields together). Ranking, phrases and did-you-mean read what those shortcuts
write, so this compares it, term by term, with an index built the plain way: today's schema with
Whoosh's own ``TEXT`` fields and ``text_analyzer``, fed plain strings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema

from index.model import FeedItem
from index.search.analysis import name_analyzer, text_analyzer
from index.search.schema import UNSEARCHED_FIELDS
from index.search.whoosh.store import IndexStore
from index.search.whoosh.writer import to_document, write_items
from tests.support.indexes import items_from, jsonl_items
from tests.support.paths import DIGEST, FEEDS

# Fields whose postings must match the plain index exactly, and those with per-document lengths.
TERM_FIELDS = ("id", "title", "summary", "content", "spell_content", "source", "authors", "tags", "title_key")
LENGTH_FIELDS = ("title", "summary", "content", "authors")
STORED = ("id", "title", "summary", "source", "link", "authors", "tags", "published", "sort_date",
          "first_seen", "fingerprint", "work")

# Texts where tokenising the title and summary apart and together could differ: empty and all-stop-word
# titles (the summary's positions then start where the tokenizer left off), compounds across the
# join, Greek letters, word parts, numbers with dots, repeated words.
AWKWARD = [
    {"title": "The of and", "summary": "to be or not to be: \u03b1-synuclein TNF-\u03b1"},
    {"title": "Ends with a hyphen-", "summary": "-starts with one; v2.7.5 and 3.14 and ADAR1 binds"},
    {"title": "Title only, no summary at all"},
    {"title": "repeat repeat repeat", "summary": "repeat Repeat REPEAT repeats repeating"},
    {"title": "anti-inflammatory COVID-19 drugs", "summary": "COVID\u201019 anti\u2011inflammatory x-ray"},
    {"title": "Unicode caf\u00e9 na\u00efve \u00fcber", "summary": "\u65e5\u672c\u8a9e text and \u00c9cole"},
    {"title": "a", "summary": "a"},
    {"title": "Dots. At. The. End.", "summary": "e.g. i.e. U.S.A. www.example.com 1.2.3"},
    {"title": "under_score snake_case", "summary": "__dunder__ _lead trail_ 1_000"},
]


def reference_schema() -> Any:
    """Today's schema in plain Whoosh fields: what the product index must be equivalent to."""
    text = text_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=text, stored=True, phrase=True),
        summary=TEXT(analyzer=text, stored=True, phrase=True),
        content=TEXT(analyzer=text, stored=False, phrase=True, spelling=True),
        source=ID(stored=True, sortable=True),
        link=ID(stored=True),
        authors=TEXT(analyzer=name_analyzer(), stored=True, phrase=True),
        tags=KEYWORD(stored=True, lowercase=True, commas=True, scorable=False),
        published=NUMERIC(int, bits=64, signed=True, stored=True),
        sort_date=NUMERIC(int, bits=64, signed=True, stored=True, sortable=True),
        first_seen=NUMERIC(int, bits=64, signed=True, stored=True),
        fingerprint=ID(stored=True),
        work=ID(stored=True, sortable=True),
        title_key=ID(),
    )


def reference_document(item: FeedItem, first_seen: int) -> dict[str, Any]:
    """The item as plain strings, the way a schema of plain TEXT fields takes it."""
    return to_document(item, first_seen=first_seen, analysed=False)


def real_and_awkward_items() -> list[FeedItem]:
    items = items_from([DIGEST, *FEEDS])
    items += jsonl_items({**r, "link": f"https://awkward.example/{n}"} for n, r in enumerate(AWKWARD))
    # No parser lets a title be empty, but the writer should not depend on that.
    return [*items, FeedItem(id="untitled", title="", link="", summary="Only a summary, IL-6 and IL6.",
                             source="awkward")]


def describe(reader: Any) -> dict[str, Any]:
    """Everything ranking and matching read, keyed by item id rather than document number."""
    ids = {docnum: fields["id"] for docnum, fields in reader.iter_docs()}
    postings: dict[tuple[str, bytes], Any] = {}
    for fieldname, btext in reader.all_terms():
        if fieldname not in TERM_FIELDS:
            continue
        matcher = reader.postings(fieldname, btext)
        found = []
        while matcher.is_active():
            found.append((matcher.id(), matcher.weight(), matcher.value()))
            matcher.next()
        if fieldname == "spell_content":
            # Whoosh files one spelling posting per item under document 0 of its segment; the product's
            # writer files one per segment weighted by that count (index/search/whoosh/termpool.py).
            # The total weight, how many items have the word, is what both mean.
            postings[fieldname, btext] = sum(w for _, w, _ in found)
        else:
            postings[fieldname, btext] = sorted((ids[d], w, v) for d, w, v in found)
    # A segment where no document has the field keeps no length column: Whoosh says None, not 0.
    lengths = {
        (ids[d], f): reader.doc_field_length(d, f) or 0 for d in ids for f in LENGTH_FIELDS
    }
    stored = {fields["id"]: {k: fields.get(k) for k in STORED} for _, fields in reader.iter_docs()}
    sort_dates = dict(zip((ids[d] for d in sorted(ids)), reader.column_reader("sort_date"), strict=False))
    totals = {f: reader.field_length(f) for f in LENGTH_FIELDS}
    return {"postings": postings, "lengths": lengths, "stored": stored, "sort_date": sort_dates,
            "totals": totals, "doc_count": reader.doc_count()}


@pytest.mark.parametrize(("batch_size", "made_before"), [(5000, False), (30, False), (5000, True)])
def test_index_matches_plain_whoosh_term_by_term(tmp_path: Path, batch_size: int, made_before: bool) -> None:
    items = real_and_awkward_items()
    store = IndexStore(tmp_path / "product")
    if made_before:
        # An index made before the shared analysis has the plain schema: writes must still fit it.
        path, ix = store.create_generation()
        ix.close()
        whoosh_index.create_in(str(path), reference_schema()).close()
        store.make_live(path)
    write_items(store, items, batch_size=batch_size)
    product = store.open()
    try:
        with product.reader() as reader:
            first_seen = {fields["id"]: fields["first_seen"] for _, fields in reader.iter_docs()}
            got = describe(reader)
            dated = {f for f, _ in reader.all_terms() if f in ("published", "sort_date", "first_seen")}
            unsearched = {f for f, _ in reader.all_terms() if f in UNSEARCHED_FIELDS}
    finally:
        product.close()
    # Dates are stored and sort_date is a column, but nothing searches them, so no terms.
    assert dated == ({"published", "sort_date", "first_seen"} if made_before else set())
    # Nor does anything look up links, fingerprints or work keys by term (they are stored).
    assert unsearched == set()

    (tmp_path / "plain").mkdir()
    plain = whoosh_index.create_in(str(tmp_path / "plain"), reference_schema())
    try:
        latest = {item.id: item for item in items}
        writer = plain.writer()
        for item in latest.values():
            writer.add_document(**reference_document(item, first_seen.get(item.id, int(time.time()))))
        writer.commit()
        with plain.reader() as reader:
            want = describe(reader)
    finally:
        plain.close()

    assert got["doc_count"] == want["doc_count"] == len(latest) > 400
    assert got["postings"].keys() == want["postings"].keys()
    for key, postings in want["postings"].items():
        assert got["postings"][key] == postings, key
    assert got["lengths"] == want["lengths"]
    if batch_size > len(items):
        # A merge re-adds each document's length as the one-byte approximation Whoosh stores, so
        # after one the field totals (BM25's average length) drift a little: whatever merges, always.
        assert got["totals"] == want["totals"]
    assert got["stored"] == want["stored"]
    assert got["sort_date"] == want["sort_date"]
