"""Which alerts the items of one write match: each alert's query run over a small index of just those items.

The written items go into an in-memory Whoosh index (``RamStorage``) built with the index's own schema,
analysis and document mapping (index.schema, index.writer.to_document), and each alert's query is parsed
by the search's own parser (index.query.parse_query) against it. Words, stems, phrases, field terms,
prefixes, fuzzy terms and NOT mean exactly what they mean in a search, and the matches are exactly the
written items that a search of the whole index would return, without reading the whole index. (Prefix
and fuzzy terms expand over the written items' words only, which are the only words that can match.)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from whoosh import query
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import RamStorage

from index.errors import QueryError
from index.model import FeedItem
from index.search.querylang import check_syntax, make_parser, parse_query
from index.search.schema import build_schema
from index.search.whoosh.writer import open_writer, takes_item_text, to_document

log = logging.getLogger(__name__)

# Items per in-memory index: a poll or an API write is far smaller; a rebuild's changed items are
# matched a slice at a time, so memory stays bounded.
CHUNK = 2000


class Query(Protocol):
    """What matching needs of an alert: its id, its query and its filters."""

    @property
    def id(self) -> int: ...
    @property
    def q(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def match(self) -> str: ...


def match_items(alerts: Sequence[Query], items: Sequence[FeedItem]) -> dict[int, list[FeedItem]]:
    """Return, for each alert that matches any, the items it matches (in the order given).

    An alert whose query cannot be parsed against these items (a prefix no written word has) matches
    none of them; one that a search would refuse outright was refused when it was created.
    """
    found: dict[int, list[FeedItem]] = {}
    latest = list({item.id: item for item in items}.values())
    for start in range(0, len(latest), CHUNK):
        chunk = latest[start:start + CHUNK]
        ix = _index(chunk)
        with ix.searcher() as searcher:
            reader = searcher.reader()
            names = {item.source.lower(): item.source for item in chunk}
            for alert in alerts:
                try:
                    parsed = parse_query(alert.q, searcher.schema, reader, match_all=alert.match == "all",
                                         source_names=functools.partial(_source_name, names))
                except QueryError:
                    continue
                wanted = alert.source.lower() if alert.source else None
                for docnum in sorted(parsed.docs(searcher)):
                    item = chunk[docnum]
                    if wanted is None or item.source.lower() == wanted:
                        found.setdefault(alert.id, []).append(item)
    return found


def _source_name(names: dict[str, str], text: str) -> str | None:
    return names.get(text.strip().lower())


def check_query(text: str, *, match_all: bool) -> None:
    """Raise QueryError for a query a search would refuse (syntax, limits, nothing searchable)."""
    ix = _empty()
    with ix.searcher() as searcher:
        try:
            parse_query(text, searcher.schema, searcher.reader(), match_all=match_all)
        except QueryError as exc:
            # Over no items a prefix expands to nothing, and a query of prefixes alone then has "no
            # searchable words": it does have them once items are written.
            if "no searchable words" not in str(exc) or not _has_prefix(text, searcher.schema, match_all):
                raise


def _has_prefix(text: str, schema: Any, match_all: bool) -> bool:
    check_syntax(text)
    try:
        parsed = make_parser(schema, match_all=match_all).parse(text)
    except Exception:  # the parser has no error type of its own
        return False
    return any(isinstance(leaf, query.Prefix) for leaf in parsed.leaves())


def _index(items: Sequence[FeedItem]) -> Any:
    ix = RamStorage().create_index(build_schema())
    # Uncompressed posting blocks: compressing them was a fifth of the build, and they are read once.
    writer = open_writer(ix, codec=W3Codec(compression=0))
    analysed = takes_item_text(writer.schema)
    for item in items:
        writer.add_document(**to_document(item, first_seen=0, analysed=analysed))
    writer.commit()
    return ix


@functools.cache
def _empty() -> Any:
    return RamStorage().create_index(build_schema())
