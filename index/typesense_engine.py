"""TypesenseEngine: the Engine protocol served by a Typesense node or cluster through the official client.

The query language is parsed by the same Whoosh parser as the embedded engine (``index.query``), over a
mirror schema whose analyzers do not stem, and the parsed tree is mapped onto Typesense parameters:

- Which items match is decided by ``filter_by`` over ``terms``, a string array holding each item's
  words in their Whoosh index form (Snowball stems of title ``t:``, summary ``s:``, author words ``a:``,
  author name runs ``A:``, tags ``g:``). Exact filter matches on string arrays give the OR, AND and NOT
  of words with the embedded engine's stemming, so totals and facets agree with it.
- Phrases need word positions, which only Typesense's own ``q`` has: a phrase is honoured where the
  whole query requires it (``q='"a b"'``), and refused elsewhere (``"a b" OR c``).
- Ranking: Typesense's text match orders the part of the match set its own search can reach (see
  :meth:`TypesenseEngine._tiers`); the rest of the matches follow, newest first. ``vocab`` holds each
  item's unstemmed words so that the two parts can be told apart by filters and paged exactly.
- ``prefix*`` is expanded over ``vocab`` with ``facet_query``; ``fuzzy~`` is refused (Typesense's typo
  tolerance is switched off so that totals stay exact).

Highlights are HTML in which item text is escaped and the only tags are ``<mark>``: Typesense marks
its matches with private sentinel characters, which are turned into spans over the raw text and merged
with the spans of the stemmed words it cannot see, then rendered by ``index.highlight``.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import typesense
from typesense import exceptions as ts_errors
from whoosh import query
from whoosh.analysis import CompositeAnalyzer
from whoosh.fields import ID, KEYWORD, TEXT, Schema

from .analysis import STOP_WORDS, name_analyzer, stem_word, text_analyzer
from .errors import EngineUnavailableError, IndexMissingError, IndexVersionError, QueryError
from .highlight import mark, match_spans, window_of
from .model import FacetCount, FeedItem, Hit, Page
from .query import MAX_EXPANSIONS, MIN_PREFIX_CHARS, _require_filters, check_syntax, make_parser
from .searcher import IndexStats, Item, SearchRequest, SourceCount, check_request, from_timestamp
from .suggest import SourceSuggestion, Suggestions, TitleSuggestion, words_of
from .writer import WriteReport

ENGINE_NAME = "Typesense"
DEFAULT_COLLECTION = "feedsift_items"
IMPORT_BATCH = 500
# The server's limit_multi_searches (default 50): longer lists are sent in several requests.
MAX_MULTI_SEARCHES = 50
# Typesense 0.24 parses a filter of at most 100 tokens (clauses, operators and parentheses).
MAX_FILTER_TOKENS = 100
# Above this threshold Typesense keeps dropping words until every drop has been tried.
DROP_ALL_TOKENS = 1_000_000
# Queries with phrases rank the items holding every word first; with more words than this, by date.
MAX_STRICT_TIER_WORDS = 20
# Typesense answers at most 250 hits per page; lookups by id are chunked to fit.
MAX_PER_PAGE = 250
# Facet value caps: every source and every month must come back, or facet counts would be cut short.
MAX_SOURCES = 10_000
MAX_MONTHS = 2_400
# Private-use characters as highlight tags: Typesense copies item text raw between its tags, so ours
# must be characters that cannot be confused with markup; text that itself holds them is marked locally.
MARK_START = "\ue000"
MARK_END = "\ue001"
# Words of an item that pick its similar items (as Whoosh's more_like_this numterms).
SIMILAR_TERMS = 12
SIMILAR_CANDIDATES = 60
# Items read per top word (the newest that hold it); distinctive words are rare, so this is seldom a cut.
SIMILAR_HOLDERS = 100
TEXT_QUERY_BY = "title,summary"
_TEXT_FIELDS = {"content": TEXT_QUERY_BY, "title": "title", "summary": "summary"}
_TERM_PREFIX = {"content": ("t:", "s:"), "title": ("t:",), "summary": ("s:",)}
# Strict literal matching: no typo corrections, no prefix completion, no dropped words. Anything looser
# would make Typesense's found count disagree with the filter that defines the match set.
_STRICT = {"num_typos": 0, "typo_tokens_threshold": 0, "drop_tokens_threshold": 0, "prefix": False}

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
]
_HIT_FIELDS = "id,title,link,source,published,summary"
# The words did_you_mean may correct: bare words of three letters or more, as in the Whoosh engine.
_BARE_WORD = re.compile(r"(?<![\w:*~\"])[A-Za-z]{3,}(?![\w:*~])")
# A word of a source name, as index.suggest reads them.
_SUGGEST_WORD = re.compile(r"\w+")


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

    Built from ``index.analysis.text_analyzer`` so that tokenising follows the embedded engine's.
    """
    parts = [part for part in text_analyzer().items if not getattr(part, "is_morph", False)]
    return CompositeAnalyzer(*parts)


_STEMS = text_analyzer()
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


def _mirror_schema() -> Any:
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


def _tokens(analyzer: Any, text: str) -> list[str]:
    return [token.text for token in analyzer(text)]


def to_document(item: FeedItem, *, first_seen: int, written_at: int) -> dict[str, Any]:
    """Return the Typesense document for an item: the one place an item becomes Typesense fields."""
    published = int(item.published.timestamp()) if item.published else None
    sort_date = published if published is not None else first_seen
    terms: dict[str, None] = {}
    for prefix, text in (("t:", item.title), ("s:", item.summary)):
        for stem in _tokens(_STEMS, text):
            terms[prefix + stem] = None
    for author in item.authors:
        words = _tokens(_NAMES, author)
        for word in words:
            terms["a:" + word] = None
        # Every run of two or more words, so author:"jane doe" matches "Mary Jane Doe" as in Whoosh.
        for i in range(len(words)):
            for j in range(i + 2, len(words) + 1):
                terms["A:" + " ".join(words[i:j])] = None
    for tag in item.tags:
        terms["g:" + tag.replace(",", " ").strip().lower()] = None
    vocab = dict.fromkeys(typesense_tokens(item.title + "\n" + item.summary))
    doc: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "source": item.source,
        "source_key": item.source.strip().lower(),
        "link": item.link,
        "authors": list(item.authors),
        "tags": list(item.tags),
        "sort_date": sort_date,
        "first_seen": first_seen,
        "written_at": written_at,
        "month": datetime.fromtimestamp(sort_date, tz=UTC).strftime("%Y-%m"),
        "fingerprint": item.fingerprint(),
        "terms": list(terms),
        "vocab": list(vocab),
    }
    if published is not None:
        doc["published"] = published
    return doc


def _quote(value: str) -> str:
    """Return a filter value in backticks; Typesense has no escape for a backtick inside one."""
    if "`" in value:
        raise QueryError(f"The {ENGINE_NAME} engine cannot filter on a value containing '`': {value!r}.")
    return "`" + value + "`"


def _values(values: Iterable[str]) -> str:
    return "[" + ",".join(_quote(v) for v in values) + "]"


def _all(parts: Iterable[str | None]) -> str | None:
    kept = [p for p in parts if p]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else " && ".join(_group(p) for p in kept)


def _group(part: object) -> str:
    """Return a filter part, in parentheses only when it has operators (they count towards the limit)."""
    text = str(part)
    return f"({text})" if " && " in text or " || " in text else text


def _check_filter(text: str | None) -> None:
    """Refuse a filter longer than the server parses (it answers only "Filter expression is not valid")."""
    if not text:
        return
    operators = text.count(" && ") + text.count(" || ")
    clauses = operators + 1
    size = clauses + operators + text.count("(") + text.count(")")
    if size > MAX_FILTER_TOKENS:
        raise QueryError(
            f"The query is too complex for the {ENGINE_NAME} engine: it needs {clauses} filter clauses; "
            "use fewer words joined by AND, or the default matching (any word)."
        )


# Filters that no item passes and that every item passes (``written_at`` is always a past time).
_NOTHING = "written_at:<0"
_EVERYTHING = "written_at:>0"


@dataclass
class _Compiled:
    """A query mapped onto Typesense: the match filter, required phrases, and the words for ranking."""

    filter: str | None = None
    phrases: list[str] = field(default_factory=list)
    query_by: str = TEXT_QUERY_BY
    words: list[str] = field(default_factory=list)
    stems: set[str] = field(default_factory=set)

    @property
    def phrase_q(self) -> str:
        return " ".join(self.phrases) if self.phrases else "*"


class TypesenseEngine:
    """The Engine protocol over a Typesense collection, safe to share between the threads of a process.

    ``nodes`` are URLs such as ``http://10.0.0.1:8108``; with several, the client spreads requests
    over them and retries another node when one fails.
    """

    def __init__(
        self,
        nodes: list[str],
        api_key: str,
        collection: str = DEFAULT_COLLECTION,
        *,
        connection_timeout: float = 5.0,
        num_retries: int = 3,
        retry_interval: float = 0.5,
        healthcheck_interval: int = 2,
        import_batch: int = IMPORT_BATCH,
    ) -> None:
        if not nodes:
            raise ValueError("at least one Typesense node URL is needed")
        self.collection = collection
        self.nodes = list(nodes)
        self.import_batch = import_batch
        config: Any = {
            "nodes": self.nodes,
            "api_key": api_key,
            "connection_timeout_seconds": connection_timeout,
            "num_retries": num_retries,
            "retry_interval_seconds": retry_interval,
            "healthcheck_interval_seconds": healthcheck_interval,
        }
        with _client_deprecations():
            # The client's own types are narrower than the JSON it accepts; it is used untyped here.
            self._client: Any = typesense.Client(config)
            self._documents: Any = self._client.collections[collection].documents
        self._ready = False
        schema = _mirror_schema()
        self._parser = {match_all: make_parser(schema, match_all=match_all) for match_all in (False, True)}

    def close(self) -> None:
        self._client.api_call.close()

    # -- writing -----------------------------------------------------------------------------

    def ensure_collection(self) -> None:
        """Create the collection when it does not exist; refuse one whose fields are not ours."""
        if self._ready:
            return
        with _unavailable():
            try:
                existing = self._client.collections[self.collection].retrieve()
            except ts_errors.ObjectNotFound:
                try:
                    self._client.collections.create(collection_schema(self.collection))
                except ts_errors.ObjectAlreadyExists:
                    pass  # another writer created it first
                existing = None
        if existing is not None:
            have = {f["name"] for f in existing.get("fields", [])}
            want = {f["name"] for f in SCHEMA_FIELDS}
            if not want <= have:
                raise IndexVersionError(
                    f"Typesense collection {self.collection!r} lacks fields {sorted(want - have)}: "
                    "it was made by another schema; migrate into a fresh collection"
                )
        self._ready = True

    def drop_collection(self) -> bool:
        """Delete the collection with every item in it; return False when there was none."""
        self._ready = False
        with _unavailable():
            try:
                self._client.collections[self.collection].delete()
            except ts_errors.ObjectNotFound:
                return False
        return True

    # -- aliases: the rebuild-and-swap of `feedsift migrate` -----------------------------------------

    def alias_target(self, alias: str) -> str | None:
        """Return the collection ``alias`` points at, or None when there is no such alias."""
        with _unavailable(), _client_deprecations():
            try:
                found: dict[str, Any] = self._client.aliases[alias].retrieve()
            except ts_errors.ObjectNotFound:
                return None
        return str(found["collection_name"])

    def is_plain_collection(self, name: str) -> bool:
        """Return True when ``name`` is a collection itself rather than an alias (or nothing)."""
        if self.alias_target(name) is not None:
            return False
        with _unavailable(), _client_deprecations():
            try:
                self._client.collections[name].retrieve()
            except ts_errors.ObjectNotFound:
                return False
        return True

    def point_alias(self, alias: str) -> str | None:
        """Point ``alias`` at this engine's collection, atomically; return the collection it pointed at."""
        previous = self.alias_target(alias)
        with _unavailable(), _client_deprecations():
            self._client.aliases.upsert(alias, {"collection_name": self.collection})
        return previous

    def upsert(self, items: Iterable[FeedItem], *, first_seen: Mapping[str, int] | None = None,
               progress: Callable[[int], None] | None = None) -> WriteReport:
        """Upsert items in imports of ``import_batch``; items with an unchanged fingerprint are skipped.

        An item is in ``committed_ids`` only once Typesense acknowledged its import, which on a cluster
        means the Raft leader applied it after a quorum stored it. ``first_seen`` gives the first-seen
        time (epoch seconds) of items new to the collection, such as items moved from another engine.
        """
        self.ensure_collection()
        seen = first_seen or {}
        total = WriteReport()
        batch: list[FeedItem] = []
        for item in items:
            batch.append(item)
            if len(batch) >= self.import_batch:
                total.merge(self._write_batch(batch, seen))
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch:
            total.merge(self._write_batch(batch, seen))
            if progress is not None:
                progress(len(batch))
        return total

    def _write_batch(self, batch: list[FeedItem], seen: Mapping[str, int]) -> WriteReport:
        report = WriteReport()
        latest = {item.id: item for item in batch}  # the last copy of an id within a batch wins
        stored = self._stored_fingerprints(list(latest))
        now = int(time.time())
        docs: list[dict[str, Any]] = []
        kinds: dict[str, str] = {}
        for item in latest.values():
            old = stored.get(item.id)
            if old is not None and old[0] == item.fingerprint():
                report.unchanged += 1
                continue
            first_seen = old[1] if old is not None and old[1] else seen.get(item.id) or now
            docs.append(to_document(item, first_seen=first_seen, written_at=now))
            kinds[item.id] = "update" if old is not None else "add"
        if not docs:
            return report
        with _unavailable():
            results = self._documents.import_(docs, {"action": "upsert"})
        failed = [(d["id"], r.get("error"))
                  for d, r in zip(docs, results, strict=True) if not r.get("success")]
        if failed:
            raise EngineUnavailableError(
                f"Typesense refused {len(failed)} of {len(docs)} items: {failed[:3]}"
            )
        for doc in docs:
            if kinds[doc["id"]] == "add":
                report.added += 1
            else:
                report.updated += 1
            report.committed_ids.append(doc["id"])
        return report

    def _stored_fingerprints(self, ids: list[str]) -> dict[str, tuple[str, int]]:
        """Return (fingerprint, first_seen) of the ids already in the collection."""
        found: dict[str, tuple[str, int]] = {}
        plain = [i for i in ids if "`" not in i]
        searches = [
            {"q": "*", "filter_by": "id:" + _values(chunk), "per_page": MAX_PER_PAGE,
             "include_fields": "id,fingerprint,first_seen"}
            for chunk in _chunks(plain, MAX_PER_PAGE)
        ]
        # A node that has not yet applied the collection's creation (followers apply the Raft log a
        # moment later) has nothing stored: the items are then written as new, which upsert allows.
        for result in self._multi(searches, missing_ok=True):
            for hit in result.get("hits", []):
                doc = hit["document"]
                found[doc["id"]] = (doc.get("fingerprint", ""), int(doc.get("first_seen") or 0))
        for odd in (i for i in ids if "`" in i):
            doc = self._retrieve(odd)
            if doc is not None:
                found[odd] = (doc.get("fingerprint", ""), int(doc.get("first_seen") or 0))
        return found

    def delete(self, ids: Iterable[str]) -> int:
        """Delete items by id and return how many were in the collection."""
        deleted = 0
        wanted = list(dict.fromkeys(ids))
        with _unavailable():
            for chunk in _chunks([i for i in wanted if "`" not in i], MAX_PER_PAGE):
                try:
                    result = self._documents.delete({"filter_by": "id:" + _values(chunk)})
                except ts_errors.ObjectNotFound:
                    return 0  # no collection, so none of the items
                deleted += int(result.get("num_deleted", 0))
            for odd in (i for i in wanted if "`" in i):
                try:
                    self._documents[quote(odd, safe="")].delete()
                    deleted += 1
                except ts_errors.ObjectNotFound:
                    pass
        return deleted

    # -- reading -----------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> Page:
        """Return one page of matches with exact total, facets and escaped highlights.

        Raises QueryError for a query or parameter the engine cannot honour.
        """
        check_request(req)
        compiled = self._compile(req.q, match_all=req.match == "all") if req.q.strip() else _Compiled()
        dates = []
        if req.since is not None:
            dates.append(f"sort_date:>={int(req.since.timestamp())}")
        if req.until is not None:
            dates.append(f"sort_date:<={int(req.until.timestamp())}")
        base = _all([compiled.filter, *dates])
        wanted = sorted({s.strip().lower() for s in req.sources})
        full = _all([base, "source_key:=" + _values(wanted)]) if wanted else base
        start = (req.page - 1) * req.per_page
        count = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": full, "per_page": 0,
                 "facet_by": "month", "max_facet_values": MAX_MONTHS}
        by_source = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": base, "per_page": 0,
                     "facet_by": "source", "max_facet_values": MAX_SOURCES}
        ranked, rest = self._tiers(compiled, full) if req.sort == "relevance" else (None, None)
        if ranked is not None:
            page = self._hits_search(compiled, ranked.pop("q"), ranked.pop("filter_by"),
                                     "_text_match:desc,sort_date:desc", req.page, req.per_page)
            page.update(ranked)
        else:
            order = "sort_date:asc" if req.sort == "oldest" else "sort_date:desc"
            page = self._hits_search(compiled, compiled.phrase_q, full, order, req.page, req.per_page)
        for search in (count, by_source, page):
            _check_filter(str(search["filter_by"] or ""))
        counted, sourced, first = self._multi([count, by_source, page])
        total = int(counted.get("found", 0))
        hits = first.get("hits", [])
        if ranked is not None and len(hits) < req.per_page and total > int(first.get("found", 0)):
            offset = max(0, start - int(first.get("found", 0)))
            hits = hits + self._window(compiled, rest, offset, req.per_page - len(hits))
        return Page(
            total=total,
            page=req.page,
            per_page=req.per_page,
            hits=[self._hit(h, compiled.stems) for h in hits],
            source_facets=_source_facets(sourced),
            month_facets=_month_facets(counted),
            did_you_mean=self._did_you_mean(req.q) if req.q.strip() and total < 3 else None,
        )

    def _tiers(self, compiled: _Compiled, full: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """Split the match set into the part Typesense ranks by text match and the rest (newest first).

        Returns the ranked search's parameters (``q``, ``filter_by`` and overrides) and the rest's filter,
        or (None, None) when the query has no words to rank by. Without phrases, Typesense ranks with
        its drop-tokens search, which reaches exactly the items holding the first or the last word
        (it drops words from the right down to the first, then from the left down to the last); with
        phrases, which must not be dropped, it ranks the items holding every word.
        """
        words = list(dict.fromkeys(t for w in compiled.words for t in typesense_tokens(w)))
        if not words:
            return None, None
        if not compiled.phrases:
            ends = list(dict.fromkeys([words[0], words[-1]]))
            ranked = {"q": " ".join(words), "filter_by": _all([full, "vocab:=" + _values(ends)]),
                      "drop_tokens_threshold": DROP_ALL_TOKENS}
            return ranked, _all([full, "vocab:!=" + _values(ends)])
        if len(words) > MAX_STRICT_TIER_WORDS:
            return None, None
        every = " && ".join("vocab:=" + _quote(w) for w in words)
        ranked = {"q": " ".join([*words, *compiled.phrases]), "filter_by": _all([full, every])}
        return ranked, _all([full, " || ".join("vocab:!=" + _quote(w) for w in words)])

    def _did_you_mean(self, text: str) -> str | None:
        """Suggest the query with each unknown bare word replaced by the nearest word items hold.

        As the Whoosh engine does; the nearest word comes from a Typesense search that allows typos.
        """
        words = list(dict.fromkeys(m.group(0) for m in _BARE_WORD.finditer(text)
                                   if m.group(0) not in ("AND", "OR", "NOT")))
        if not words:
            return None
        stems = [stem_word(w) for w in words]
        known = self._multi([{"q": "*", "per_page": 0, "filter_by": "terms:=" + _values(["t:" + s, "s:" + s])}
                             for s in stems])
        unknown = [w for w, r in zip(words, known, strict=True) if not int(r.get("found", 0))]
        if not unknown:
            return None
        nearest = self._multi([{
            "q": w.lower(), "num_typos": 2, "typo_tokens_threshold": 1, "per_page": 1, "include_fields": "id",
            "highlight_fields": TEXT_QUERY_BY,
        } for w in unknown])
        fixes: dict[str, str] = {}
        for word, result in zip(unknown, nearest, strict=True):
            for hit in result.get("hits", [])[:1]:
                for marked in (hit.get("highlight") or {}).values():
                    tokens = [str(t).lower() for t in marked.get("matched_tokens", [])]
                    if tokens and tokens[0] != word.lower():
                        fixes.setdefault(word, tokens[0])
        if not fixes:
            return None
        return _BARE_WORD.sub(lambda m: fixes.get(m.group(0), m.group(0)), text)

    def _hits_search(self, compiled: _Compiled, q: str, filter_by: str | None, sort_by: str,
                     page: int, per_page: int) -> dict[str, Any]:
        return {
            "q": q, "query_by": compiled.query_by, "filter_by": filter_by, "sort_by": sort_by,
            "page": page, "per_page": per_page, "include_fields": _HIT_FIELDS,
            "highlight_fields": TEXT_QUERY_BY, "highlight_full_fields": TEXT_QUERY_BY,
            "highlight_start_tag": MARK_START, "highlight_end_tag": MARK_END,
        }

    def _window(self, compiled: _Compiled, filter_by: str | None, offset: int,
                size: int) -> list[dict[str, Any]]:
        """Return ``size`` hits from ``offset`` of the newest-first list (Typesense 0.24 has no offset)."""
        first = offset // size + 1
        searches = [
            self._hits_search(compiled, compiled.phrase_q, filter_by, "sort_date:desc", p, size)
            for p in ((first,) if offset % size == 0 else (first, first + 1))
        ]
        hits = [h for result in self._multi(searches) for h in result.get("hits", [])]
        skip = offset - (first - 1) * size
        return hits[skip:skip + size]

    def _hit(self, raw: dict[str, Any], stems: set[str]) -> Hit:
        doc = raw["document"]
        marked = raw.get("highlight") or {}
        title = doc.get("title", "")
        summary = doc.get("summary", "")
        title_spans = _spans(title, marked.get("title"), stems)
        summary_spans = _spans(summary, marked.get("summary"), stems)
        snippet, summary_html = window_of(summary, summary_spans)
        score = float(raw.get("text_match") or 0) / 1e18
        return Hit(
            id=doc["id"],
            title=title,
            link=doc.get("link", ""),
            source=doc.get("source", ""),
            published=from_timestamp(doc.get("published")),
            score=round(score, 4),
            snippet=snippet,
            highlights={
                "title": mark(title, title_spans),
                "summary": summary_html,
            },
        )

    def get(self, item_id: str) -> Item | None:
        """Return the whole item with this id, or None."""
        doc = self._retrieve(item_id)
        if doc is None:
            return None
        return Item(
            id=doc["id"],
            title=doc.get("title", ""),
            link=doc.get("link", ""),
            summary=doc.get("summary", ""),
            source=doc.get("source", ""),
            published=from_timestamp(doc.get("published")),
            authors=tuple(doc.get("authors") or ()),
            tags=tuple(doc.get("tags") or ()),
        )

    def _retrieve(self, item_id: str) -> dict[str, Any] | None:
        with _unavailable():
            try:
                doc: dict[str, Any] = self._documents[quote(item_id, safe="")].retrieve()
            except ts_errors.ObjectNotFound:
                return None
        return doc

    def similar(self, item_id: str, limit: int = 10) -> list[Hit] | None:
        """Return the items most like this one (never itself), or None when the id is unknown.

        Emulates more-like-this: the item's words are weighted by their frequency in it times their rarity
        in the collection (words no other item has are dropped), and other items score the weights of the
        top words they hold.
        """
        doc = self._retrieve(item_id)
        if doc is None:
            return None
        tf = Counter(w for w in typesense_tokens(doc.get("title", "") + "\n" + doc.get("summary", ""))
                     if w not in STOP_WORDS)
        candidates = [w for w, _ in tf.most_common(SIMILAR_CANDIDATES) if "`" not in w]
        if not candidates:
            return []
        searches = [{"q": "*", "filter_by": "vocab:=" + _quote(w), "per_page": 0} for w in candidates]
        *dfs, everything = self._multi([*searches, {"q": "*", "per_page": 0}])
        n = int(everything.get("found", 0))
        weights = {
            w: tf[w] * math.log((n + 1) / (int(r.get("found", 0)) + 0.5))
            for w, r in zip(candidates, dfs, strict=True) if int(r.get("found", 0)) > 1
        }
        top = sorted(weights, key=lambda w: (-weights[w], w))[:SIMILAR_TERMS]
        scores: dict[str, float] = {}
        holders = self._multi([
            {"q": "*", "filter_by": "vocab:=" + _quote(w), "per_page": SIMILAR_HOLDERS,
             "include_fields": "id", "sort_by": "sort_date:desc"}
            for w in top
        ])
        for word, result in zip(top, holders, strict=True):
            for hit in result.get("hits", []):
                if hit["document"]["id"] != item_id:
                    key = hit["document"]["id"]
                    scores[key] = scores.get(key, 0.0) + weights[word]
        best = [i for i in sorted(scores, key=lambda i: (-scores[i], i)) if "`" not in i][:limit]
        if not best:
            return []
        (found,) = self._multi([{"q": "*", "filter_by": "id:" + _values(best), "per_page": len(best),
                                 "include_fields": _HIT_FIELDS}])
        by_id = {h["document"]["id"]: h for h in found.get("hits", [])}
        return [
            replace(self._hit(by_id[i], set()), score=round(scores[i], 4)) for i in best if i in by_id
        ]

    def suggest(self, text: str, limit: int = 8) -> Suggestions:
        """Return titles completing what someone has typed, newest first, and matching sources.

        As ``index.suggest`` defines it: every typed word but the last appears whole in the title, the
        last (unless the text ends in a space) may be the start of a word; sources whose name holds the
        words the same way, largest first.
        """
        words, last_is_prefix = words_of(text)
        if not words:
            return Suggestions(titles=[], sources=[])
        titles = {"q": " ".join(words), "query_by": "title", "prefix": last_is_prefix,
                  # By default Typesense completes a prefix to a few words only (10 items of 64 in a test).
                  "max_candidates": MAX_EXPANSIONS, "sort_by": "sort_date:desc", "per_page": limit,
                  "include_fields": "id,title,source,published"}
        every_source = {"q": "*", "per_page": 0, "facet_by": "source", "max_facet_values": MAX_SOURCES}
        found, named = self._multi([titles, every_source])
        head, last = words[:-1], words[-1]
        sources = []
        for facet in _facet(named, "source"):
            name_words = _SUGGEST_WORD.findall(str(facet["value"]).casefold())
            if all(w in name_words for w in head) and any(
                nw.startswith(last) if last_is_prefix else nw == last for nw in name_words
            ):
                sources.append(SourceSuggestion(name=str(facet["value"]), count=int(facet["count"])))
        sources.sort(key=lambda s: (-s.count, s.name))
        return Suggestions(
            titles=[
                TitleSuggestion(id=d["id"], title=d.get("title", ""), source=d.get("source", ""),
                                published=from_timestamp(d.get("published")))
                for d in (h["document"] for h in found.get("hits", []))
            ],
            sources=sources[:limit],
        )

    def dates(self, item_ids: list[str]) -> dict[str, datetime]:
        """Return each known item's date as the newest sort sees it: published, else first seen."""
        wanted = list(dict.fromkeys(item_ids))
        searches = [{"q": "*", "filter_by": "id:" + _values(chunk), "per_page": len(chunk),
                     "include_fields": "id,sort_date"}
                    for chunk in _chunks([i for i in wanted if "`" not in i], MAX_PER_PAGE)]
        found: dict[str, datetime] = {}
        for result in self._multi(searches):
            for hit in result.get("hits", []):
                stamp = from_timestamp(hit["document"].get("sort_date"))
                if stamp is not None:
                    found[hit["document"]["id"]] = stamp
        for odd in (i for i in wanted if "`" in i):
            doc = self._retrieve(odd)
            stamp = from_timestamp(doc.get("sort_date")) if doc is not None else None
            if stamp is not None:
                found[odd] = stamp
        return found

    def sources(self, q: str | None = None) -> tuple[list[SourceCount], int]:
        """Return every source with its item count and newest date (over a query's matches if given)."""
        compiled = self._compile(q, match_all=False) if q and q.strip() else _Compiled()
        facet = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": compiled.filter,
                 "per_page": 0, "facet_by": "source", "max_facet_values": MAX_SOURCES}
        (counted,) = self._multi([facet])
        counts = {c["value"]: int(c["count"]) for c in _facet(counted, "source")}
        newest: dict[str, int] = {}
        for page in range(1, len(counts) // MAX_PER_PAGE + 2):
            (grouped,) = self._multi([{
                "q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": compiled.filter,
                "group_by": "source", "group_limit": 1, "sort_by": "sort_date:desc",
                "include_fields": "source,sort_date", "per_page": MAX_PER_PAGE, "page": page,
            }])
            for group in grouped.get("grouped_hits", []):
                for hit in group.get("hits", []):
                    newest[hit["document"]["source"]] = int(hit["document"]["sort_date"])
        rows = [SourceCount(name=name, count=count, newest=from_timestamp(newest.get(name)))
                for name, count in counts.items()]
        rows.sort(key=lambda r: (-r.count, r.name))
        return rows, int(counted.get("found", 0))

    def stats(self) -> IndexStats:
        """Return item counts overall and per source and the time of the last write.

        ``size_bytes`` is 0: Typesense reports memory and disk per server, not per collection.
        """
        rows, total = self.sources()
        (latest,) = self._multi([{"q": "*", "sort_by": "written_at:desc", "per_page": 1,
                                  "include_fields": "written_at"}])
        hits = latest.get("hits", [])
        return IndexStats(
            items=total,
            sources={r.name: r.count for r in rows},
            size_bytes=0,
            last_update=from_timestamp(hits[0]["document"].get("written_at")) if hits else None,
            path=f"typesense:{self.collection}",
        )

    def count(self) -> int:
        """Return the number of items in the collection."""
        (result,) = self._multi([{"q": "*", "per_page": 0}])
        return int(result.get("found", 0))

    def health(self) -> bool:
        """Return True when one of the nodes answers /health with ok."""
        try:
            return bool(self._client.operations.is_healthy())
        except (ts_errors.TypesenseClientError, httpx.HTTPError):
            return False

    # -- the query language --------------------------------------------------------------------

    def _compile(self, text: str, *, match_all: bool) -> _Compiled:
        """Map a query onto a Typesense filter, required phrases and ranking words, or raise QueryError."""
        check_syntax(text)
        try:
            parsed = self._parser[match_all].parse(text)
        except Exception as exc:  # the parser has no error type of its own; anything it raises is bad input
            raise QueryError(f"The query could not be parsed: {exc}") from None
        tree = _require_filters(_rewrite(parsed))
        if tree is query.NullQuery:
            raise QueryError("The query has no searchable words (only stop words or punctuation).")
        prefixes = self._expand_prefixes(tree)
        compiled = _Compiled()
        required = list(tree.subqueries) if isinstance(tree, query.And) else [tree]
        filters: list[str] = []
        for node in required:
            phrase, negated = (node.query, True) if isinstance(node, query.Not) else (node, False)
            if isinstance(phrase, query.Phrase) and phrase.fieldname in _TEXT_FIELDS:
                query_by = _TEXT_FIELDS[phrase.fieldname]
                if compiled.phrases and compiled.query_by != query_by:
                    raise QueryError(
                        f"The {ENGINE_NAME} engine cannot combine phrases on different fields in one query."
                    )
                compiled.query_by = query_by
                compiled.phrases.append(("-" if negated else "") + '"' + " ".join(phrase.words) + '"')
                if not negated:
                    compiled.stems.update(stem_word(w) for w in phrase.words)
                continue
            filters.append(_filter(node, prefixes, compiled))
        compiled.filter = _all(filters)
        return compiled

    def _expand_prefixes(self, tree: Any) -> dict[str, list[str]]:
        """Return, for each ``prefix*`` of a text field, the item words it stands for."""
        texts = sorted({str(p.text).lower() for p in _walk(tree) if isinstance(p, query.Prefix)
                        and p.fieldname in _TEXT_FIELDS})
        for text in texts:
            if len(text) < MIN_PREFIX_CHARS:
                raise QueryError(
                    f"A prefix needs at least {MIN_PREFIX_CHARS} characters before '*': '{text}*'."
                )
            if "`" in text or ":" in text:
                raise QueryError(f"The {ENGINE_NAME} engine cannot expand the prefix '{text}*'.")
        if not texts:
            return {}
        searches = [{"q": "*", "per_page": 0, "facet_by": "vocab", "facet_query": "vocab:" + text,
                     "max_facet_values": MAX_EXPANSIONS + 1} for text in texts]
        expanded: dict[str, list[str]] = {}
        for text, result in zip(texts, self._multi(searches), strict=True):
            words = [c["value"] for c in _facet(result, "vocab") if c["value"].startswith(text)]
            if len(words) > MAX_EXPANSIONS:
                raise QueryError(f"'{text}*' matches more than {MAX_EXPANSIONS} different words; "
                                 "make it more specific.")
            expanded[text] = words
        return expanded

    # -- transport -----------------------------------------------------------------------------

    def _multi(self, searches: list[dict[str, Any]], *, missing_ok: bool = False) -> list[dict[str, Any]]:
        """Run searches in one multi_search, with our strict defaults, and return their results in order.

        With ``missing_ok`` a missing collection reads as an empty one.
        """
        if not searches:
            return []
        body = []
        for search in searches:
            params = {"collection": self.collection, "query_by": TEXT_QUERY_BY,
                      "exclude_fields": "terms,vocab", **_STRICT, **search}
            body.append({k: v for k, v in params.items() if v is not None})
        results: list[dict[str, Any]] = []
        for i in range(0, len(body), MAX_MULTI_SEARCHES):
            try:
                with _unavailable():
                    response: Any = self._client.multi_search.perform(
                        {"searches": body[i:i + MAX_MULTI_SEARCHES]}, {}
                    )
            except ts_errors.RequestMalformed as exc:
                raise QueryError(f"The {ENGINE_NAME} engine refused the query: {exc}") from None
            results += response["results"]
        for result in results:
            if "error" not in result:
                continue
            code = int(result.get("code", 0))
            if code == 404 and missing_ok:
                result.clear()
            elif code == 404:
                raise IndexMissingError(
                    f"no Typesense collection {self.collection!r}: index some items first ({result['error']})"
                )
            elif code == 400:
                raise QueryError(f"The {ENGINE_NAME} engine refused the query: {result['error']}")
            else:
                raise EngineUnavailableError(f"Typesense answered {code}: {result['error']}")
        return results


def _rewrite(q: Any) -> Any:
    """Refuse what the engine cannot honour and turn ``a ANDNOT b`` into ``a AND NOT b``."""
    if isinstance(q, query.FuzzyTerm):
        raise QueryError(
            f"Fuzzy terms ('{q.text}~') are not supported by the {ENGINE_NAME} engine, which matches words "
            f"exactly so that totals stay exact; use the word itself or a prefix ('{q.text}*')."
        )
    if isinstance(q, query.Wildcard):
        raise QueryError("Only trailing '*' wildcards are supported (prefix*).")
    if isinstance(q, query.AndNot):
        return query.And([_rewrite(q.a), query.Not(_rewrite(q.b))])
    if isinstance(q, query.AndMaybe | query.Require | query.Otherwise):
        raise QueryError(f"The {ENGINE_NAME} engine does not support the operator in {q}.")
    if isinstance(q, query.CompoundQuery):
        copy = q.copy()
        copy.subqueries = [_rewrite(c) for c in q.subqueries]
        return copy.normalize()
    if isinstance(q, query.Not):
        return query.Not(_rewrite(q.query))
    return q


def _walk(q: Any) -> Iterator[Any]:
    yield q
    for child in q.children():
        yield from _walk(child)


@dataclass(frozen=True)
class _Leaf:
    """One membership test: the item's field ``name`` holds one of ``values`` (``:=``) or none (``:!=``)."""

    name: str
    op: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return self.name + self.op + _values(self.values)


def _filter(q: Any, prefixes: dict[str, list[str]], compiled: _Compiled) -> str:
    """Return the filter_by expression of a query node."""
    return str(_node(q, prefixes, compiled, False))


def _node(q: Any, prefixes: dict[str, list[str]], compiled: _Compiled, negated: bool) -> str | _Leaf:
    """Return the filter of a query node (of its negation when ``negated``), as a leaf where it is one."""
    if isinstance(q, query.Not):
        return _node(q.query, prefixes, compiled, not negated)
    if isinstance(q, query.And | query.Or):
        is_and = isinstance(q, query.And) != negated  # De Morgan
        # An OR of memberships is one membership of all their values, and an AND of exclusions one
        # exclusion: merged, because the server refuses filters of more than a few dozen clauses.
        merge_op = ":!=" if is_and else ":="
        merged: dict[str, list[str]] = {}
        others: list[str | _Leaf] = []
        for child in q.subqueries:
            part = _node(child, prefixes, compiled, negated)
            if isinstance(part, _Leaf) and part.op == merge_op:
                merged.setdefault(part.name, []).extend(part.values)
            else:
                others.append(part)
        parts = [_Leaf(f, merge_op, tuple(dict.fromkeys(v))) for f, v in merged.items()] + others
        if len(parts) == 1:
            return parts[0]
        return (" && " if is_and else " || ").join(_group(p) for p in parts)
    op = ":!=" if negated else ":="
    field_name = q.fieldname
    if isinstance(q, query.Phrase):
        if field_name in _TEXT_FIELDS:
            raise QueryError(
                f"The {ENGINE_NAME} engine supports a phrase (\"{' '.join(q.words)}\") only where the whole "
                "query requires it: use AND between it and the other parts, or match=all."
            )
        text = " ".join(q.words)
    elif isinstance(q, query.Term):
        text = str(q.text)
    elif isinstance(q, query.Prefix):
        if field_name not in _TEXT_FIELDS:
            raise QueryError(f"The {ENGINE_NAME} engine supports prefix* only in title and summary words.")
        words = prefixes.get(str(q.text).lower(), [])
        if not words:
            return _EVERYTHING if negated else _NOTHING
        stems = sorted({stem_word(w) for w in words})
        if not negated:
            compiled.stems.update(stems)
        return _Leaf("terms", op, tuple(p + s for s in stems for p in _TERM_PREFIX[field_name]))
    else:
        raise QueryError(f"The {ENGINE_NAME} engine cannot search for {q}.")
    if field_name == "source":
        return _Leaf("source_key", op, (text.strip().lower(),))
    if field_name == "tags":
        return _Leaf("terms", op, ("g:" + text.strip().lower(),))
    if field_name == "authors":
        words = text.split()
        return _Leaf("terms", op, (("A:" if len(words) > 1 else "a:") + " ".join(words),))
    if field_name in _TERM_PREFIX:
        stem = stem_word(text)
        if not negated:
            compiled.stems.add(stem)
            if field_name == "content" and text not in compiled.words:
                compiled.words.append(text)
        return _Leaf("terms", op, tuple(p + stem for p in _TERM_PREFIX[field_name]))
    raise QueryError(f"The {ENGINE_NAME} engine cannot search the field {field_name!r}.")


def _spans(text: str, marked: dict[str, Any] | None, stems: set[str]) -> list[tuple[int, int]]:
    """Return the spans to mark: Typesense's own matches and those of the stemmed words it cannot see."""
    spans = match_spans(text, stems, _STEMS) if stems else []
    value = marked.get("value") if marked else None
    if isinstance(value, str) and MARK_START not in text and MARK_END not in text:
        plain_len = 0
        start = -1
        for char in value:
            if char == MARK_START:
                start = plain_len
            elif char == MARK_END and start >= 0:
                spans.append((start, plain_len))
                start = -1
            else:
                plain_len += 1
        if value.replace(MARK_START, "").replace(MARK_END, "") != text:
            spans = match_spans(text, stems, _STEMS) if stems else []
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _facet(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    for facet in result.get("facet_counts", []):
        if facet.get("field_name") == name:
            counts: list[dict[str, Any]] = facet.get("counts", [])
            return counts
    return []


def _source_facets(result: dict[str, Any]) -> list[FacetCount]:
    pairs = [(int(c["count"]), str(c["value"])) for c in _facet(result, "source") if int(c["count"])]
    pairs.sort(key=lambda pair: (-pair[0], pair[1]))
    return [FacetCount(value=name, count=count) for count, name in pairs]


def _month_facets(result: dict[str, Any]) -> list[FacetCount]:
    pairs = sorted((str(c["value"]), int(c["count"])) for c in _facet(result, "month") if int(c["count"]))
    return [FacetCount(value=month, count=count) for month, count in pairs]


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


@contextmanager
def _client_deprecations() -> Iterator[None]:
    """Silence the client's warnings about v30+ server APIs, raised when its objects are built.

    typesense 2.x builds deprecated helpers (analytics v1, overrides, synonyms) eagerly in Client and
    Collection constructors even when they are never used; feedsift uses none of them.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Sync\w+ is deprecated on v30\+", category=DeprecationWarning
        )
        yield


@contextmanager
def _unavailable() -> Iterator[None]:
    """Turn the client's transport and server errors into EngineUnavailableError; let 4xx through."""
    try:
        yield
    except (ts_errors.ObjectNotFound, ts_errors.ObjectAlreadyExists, ts_errors.RequestMalformed):
        raise
    except ts_errors.RequestUnauthorized as exc:
        raise EngineUnavailableError(f"Typesense refused the API key: {exc}") from exc
    except (ts_errors.TypesenseClientError, httpx.HTTPError) as exc:
        raise EngineUnavailableError(f"Typesense cannot be reached or has no leader: {exc}") from exc
