"""How items become Typesense documents: the collection's fields, the index-form words, the mirror schema."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from whoosh.analysis import CompositeAnalyzer
from whoosh.fields import ID, KEYWORD, TEXT, Schema

from index.model import FeedItem
from index.search.analysis import name_analyzer, text_analyzer
from index.search.batch import common_fields

ENGINE_NAME = "Typesense"

SCHEMA_FIELDS: list[dict[str, Any]] = [
    {"name": "title", "type": "string"},
    {"name": "summary", "type": "string"},
    {"name": "source", "type": "string", "facet": True},
    {"name": "source_key", "type": "string"},
    {"name": "link", "type": "string", "index": False, "optional": True},
    {"name": "authors", "type": "string[]", "index": False, "optional": True},
    {"name": "tags", "type": "string[]", "facet": True, "optional": True},
    {"name": "published", "type": "int64", "optional": True},
    {"name": "sort_date", "type": "int64"},
    {"name": "first_seen", "type": "int64", "index": False, "optional": True},
    {"name": "written_at", "type": "int64"},
    {"name": "month", "type": "string", "facet": True},
    {"name": "fingerprint", "type": "string", "index": False, "optional": True},
    {"name": "terms", "type": "string[]", "optional": True},
    {"name": "vocab", "type": "string[]", "facet": True, "optional": True},
    # The work key (index.ingest.works), the folded long title it may be tied by, and the work's month
    # (index.search.typesense.works): group_by needs a facet field.
    {"name": "work", "type": "string", "facet": True},
    {"name": "title_key", "type": "string", "optional": True},
    {"name": "work_month", "type": "string", "facet": True},
]

HIT_FIELDS = "id,title,link,source,published,first_seen,summary,work,sort_date"

def collection_schema(name: str) -> dict[str, Any]:
    """Return the collection schema: the one place the item's Typesense fields are declared."""
    return {
        "name": name,
        "fields": SCHEMA_FIELDS,
        "default_sorting_field": "sort_date",
        # Split "GPT-4" and "input/output" as the Whoosh tokenizer does; typesense_tokens follows this.
        "token_separators": ["-", "/"],
    }

def _word_analyzer() -> Any:
    """Return the text analyzer without its stemmer: words as written, lower-cased, stop words dropped.

    Built from ``index.search.analysis.text_analyzer`` so that tokenising follows the embedded engine's.
    """
    parts = [part for part in text_analyzer().items if not getattr(part, "is_morph", False)]
    return CompositeAnalyzer(*parts)

STEMS = text_analyzer()

_NAMES = name_analyzer()

_SEPARATORS = re.compile(r"[\s\-/]+")

def typesense_tokens(text: str) -> list[str]:
    """Return the words Typesense indexes for ``text``, as near as Python can tell.

    Typesense 0.24 splits on whitespace and the collection's token separators, drops other symbols
    within a word ("e.g." is "eg"), lower-cases and folds accents ("Straße" is "strasse").
    """
    folded = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    tokens = ("".join(c for c in raw if c.isalnum() and not unicodedata.combining(c))
              for raw in _SEPARATORS.split(folded))
    return [t for t in tokens if t]

def mirror_schema() -> Any:
    """Return a Whoosh schema with the query fields of the real one, whose text fields do not stem.

    The parser analyses words with the field's analyzer; unstemmed words are what Typesense's ``q``
    matches, and the stems for ``terms`` are derived from them.
    """
    words = _word_analyzer()
    return Schema(
        id=ID(stored=True),
        title=TEXT(analyzer=words, phrase=True),
        summary=TEXT(analyzer=words, phrase=True),
        content=TEXT(analyzer=words, phrase=True),
        source=ID(),
        authors=TEXT(analyzer=name_analyzer(), phrase=True),
        tags=KEYWORD(lowercase=True, commas=True),
    )

def month_of(stamp: int) -> str:
    """Return the ``YYYY-MM`` (UTC) of epoch seconds, as the month facets name months."""
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m")

def tokens_of(analyzer: Any, text: str) -> list[str]:
    return [token.text for token in analyzer(text)]

def to_document(item: FeedItem, *, first_seen: int, written_at: int, work: str = "") -> dict[str, Any]:
    """Return the Typesense document for an item: the common fields plus Typesense's own.

    ``work`` is the work key the write resolved, by default the item's own; ``work_month`` is the
    item's month until the write sets its work's (index.search.typesense.works).
    """
    doc = common_fields(item, first_seen=first_seen, work=work)
    terms: dict[str, None] = {}
    for prefix, text in (("t:", item.title), ("s:", item.summary)):
        for stem in tokens_of(STEMS, text):
            terms[prefix + stem] = None
    for author in item.authors:
        words = tokens_of(_NAMES, author)
        for word in words:
            terms["a:" + word] = None
        # Every run of two or more words, so author:"jane doe" matches "Mary Jane Doe" as in Whoosh.
        for i in range(len(words)):
            for j in range(i + 2, len(words) + 1):
                terms["A:" + " ".join(words[i:j])] = None
    for tag in item.tags:
        terms["g:" + tag.replace(",", " ").strip().lower()] = None
    vocab = dict.fromkeys(typesense_tokens(item.title + "\n" + item.summary))
    doc.update({
        "source_key": item.source.strip().lower(),
        "authors": list(item.authors),
        "tags": list(item.tags),
        "written_at": written_at,
        "month": month_of(doc["sort_date"]),
        "work_month": month_of(doc["sort_date"]),
        "terms": list(terms),
        "vocab": list(vocab),
    })
    return doc
