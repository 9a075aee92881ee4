"""The Whoosh schema, defined once, and the version number stored with every index built from it."""

from __future__ import annotations

from typing import Any

from whoosh.fields import ID, KEYWORD, TEXT, Schema

from index.search.analysis import name_analyzer, text_analyzer
from index.search.fields import ItemTextField, StoredNumber

# Bump when a change to the schema or analysis makes existing indexes unreadable or wrong. Version 3:
# the analyzers and field types, which Whoosh pickles into every index by module path, moved under
# index.search, so an index built before cannot be unpickled and must be rebuilt. Version 4: the
# ``work`` and ``title_key`` fields, which an index built before lacks.
SCHEMA_VERSION = 4

# Fields a user may name in a query (``title:word``), with the schema field each one searches.
QUERY_FIELDS = {
    "title": "title",
    "summary": "summary",
    "source": "source",
    "author": "authors",
    "tag": "tags",
}
DEFAULT_FIELD = "content"
# Fields kept for each item (stored, and ``work`` as a column) that nothing looks up by term: the writer
# gives them no postings. They were declared as indexed ``ID`` fields, and the schema an index pickles
# keeps them so; a segment written before has their terms, which nothing reads.
UNSEARCHED_FIELDS = frozenset({"link", "fingerprint", "work"})
# Whoosh keeps the unstemmed words of a stemmed field with spelling=True under this name.
SPELLING_FIELD = "spell_content"


def build_schema() -> Any:
    """Return the schema.

    ``content`` (title and summary together, not stored) is what plain words search: one combined
    field ranked better on SciFact than title and summary weighted as separate fields (nDCG@10 0.676
    against 0.609 with the title boosted x2).
    ``sort_date`` is the published date or, for items that carry none, when feedsift first saw them.
    ``title``, ``summary`` and ``content`` are indexed from one analysis of each item (``fields``);
    the dates are stored and ``sort_date`` is a column, but none of them is searched, so none has terms.
    ``work`` is the item's work key (index.ingest.works), a column so a search can keep one hit per work;
    ``title_key`` is the folded long title, indexed only, for the writer to find same-titled items.
    """
    text = text_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=ItemTextField("title", analyzer=text, stored=True),
        summary=ItemTextField("summary", analyzer=text, stored=True),
        content=ItemTextField("content", analyzer=text, stored=False, spelling=True),
        source=ID(stored=True, sortable=True),
        link=ID(stored=True),
        authors=TEXT(analyzer=name_analyzer(), stored=True, phrase=True),
        tags=KEYWORD(stored=True, lowercase=True, commas=True, scorable=False),
        published=StoredNumber(int, bits=64, signed=True, stored=True),
        sort_date=StoredNumber(int, bits=64, signed=True, stored=True, sortable=True),
        first_seen=StoredNumber(int, bits=64, signed=True, stored=True),
        fingerprint=ID(stored=True),
        work=ID(stored=True, sortable=True),
        title_key=ID(),
    )
