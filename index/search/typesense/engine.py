"""TypesenseEngine: the Engine protocol served by a Typesense node or cluster through the official client.

The query language is parsed by the same Whoosh parser as the embedded engine
(``index.search.querylang``), over a mirror schema whose analyzers do not stem, and the parsed tree
is mapped onto Typesense parameters:

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
with the spans of the stemmed words it cannot see, then rendered by ``index.search.highlight``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from typesense import exceptions as ts_errors
from whoosh import query

from index.errors import EngineUnavailableError, QueryError
from index.model import (
    FeedItem,
    Hit,
    IndexStats,
    Page,
    SearchRequest,
    SourceCount,
    SourceSuggestion,
    Suggestions,
    TitleSuggestion,
    check_request,
    from_timestamp,
)
from index.search.analysis import STOP_WORDS, stem_word
from index.search.expansion import MAX_EXPANSIONS, MIN_PREFIX_CHARS
from index.search.highlight import mark, window_of
from index.search.querylang import (
    no_words,
    prepare_text,
    require_filters,
    rewrite_tree,
    unparsable,
)
from index.search.suggestions import (
    MAX_CORRECTED_CHARS,
    bare_words,
    correctable,
    source_matches,
    with_corrections,
    words_of,
)
from index.search.typesense.collection import MAX_PER_PAGE, TypesenseCollection
from index.search.typesense.compile import (
    TEXT_FIELDS,
    TEXT_QUERY_BY,
    Compiled,
    all_of,
    check_filter,
    filter_of,
    quote_value,
    refuse_unsupported,
    values,
    walk,
)
from index.search.typesense.documents import ENGINE_NAME, HIT_FIELDS, typesense_tokens
from index.search.typesense.results import (
    MARK_END,
    MARK_START,
    chunks,
    facet_values,
    leads,
    month_facets,
    source_facets,
    spans,
)
from index.search.typesense.works import best_per_work, grouping

# Above this threshold Typesense keeps dropping words until every drop has been tried.
DROP_ALL_TOKENS = 1_000_000

# Queries with phrases rank the items holding every word first; with more words than this, by date.
MAX_STRICT_TIER_WORDS = 20


# Facet value caps: every source and every month must come back, or facet counts would be cut short.
MAX_SOURCES = 10_000

MAX_MONTHS = 2_400

# Words of an item that pick its similar items (as Whoosh's more_like_this numterms).
SIMILAR_TERMS = 12

SIMILAR_CANDIDATES = 60

# Items read per top word (the newest that hold it); distinctive words are rare, so this is seldom a cut.
SIMILAR_HOLDERS = 100



class TypesenseEngine(TypesenseCollection):
    """The Engine protocol over a Typesense collection, safe to share between the threads of a process."""

    def search(self, req: SearchRequest) -> Page:
        """Return one page of matches with exact total, facets and escaped highlights.

        Raises QueryError for a query or parameter the engine cannot honour.
        """
        check_request(req)
        compiled = self._compile(req.q, match_all=req.match == "all") if req.q.strip() else Compiled()
        dates = []
        if req.since is not None:
            dates.append(f"sort_date:>={int(req.since.timestamp())}")
        if req.until is not None:
            dates.append(f"sort_date:<={int(req.until.timestamp())}")
        base = all_of([compiled.filter, *dates])
        wanted = sorted({s.strip().lower() for s in req.sources})
        full = all_of([base, "source_key:=" + values(wanted)]) if wanted else base
        start = (req.page - 1) * req.per_page
        works, months, newest_of_group = grouping(req.collapse, req.sort)
        count = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": full, "per_page": 0,
                 "facet_by": months, "max_facet_values": MAX_MONTHS, **works}
        by_source = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": base, "per_page": 0,
                     "facet_by": "source", "max_facet_values": MAX_SOURCES, **works}
        ranked, rest = self._tiers(compiled, full) if req.sort == "relevance" else (None, None)
        if ranked is not None:
            page = self._hits_search(compiled, ranked.pop("q"), ranked.pop("filter_by"),
                                     "_text_match:desc,sort_date:desc", req.page, req.per_page)
            page.update(ranked)
        else:
            order = "sort_date:asc" if req.sort == "oldest" else "sort_date:desc"
            page = self._hits_search(compiled, compiled.phrase_q, full, order, req.page, req.per_page)
        page.update(works)
        for search in (count, by_source, page):
            check_filter(str(search["filter_by"] or ""))
        counted, sourced, first = self._multi([count, by_source, page])
        total = int(counted.get("found", 0))
        hits = leads(first, newest=newest_of_group)
        if ranked is not None and len(hits) < req.per_page and total > int(first.get("found", 0)):
            offset = max(0, start - int(first.get("found", 0)))
            hits = hits + self._window(compiled, rest, offset, req.per_page - len(hits), works)
        return Page(
            total=total,
            page=req.page,
            per_page=req.per_page,
            hits=self.works.with_copies([self._hit(h, compiled.stems) for h in hits], hits),
            source_facets=source_facets(sourced),
            month_facets=month_facets(counted, months),
            did_you_mean=self._did_you_mean(req.q) if req.q.strip() and total < 3 else None,
        )

    def _tiers(self, compiled: Compiled, full: str | None) -> tuple[dict[str, Any] | None, str | None]:
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
            ranked = {"q": " ".join(words), "filter_by": all_of([full, "vocab:=" + values(ends)]),
                      "drop_tokens_threshold": DROP_ALL_TOKENS}
            return ranked, all_of([full, "vocab:!=" + values(ends)])
        if len(words) > MAX_STRICT_TIER_WORDS:
            return None, None
        every = " && ".join("vocab:=" + quote_value(w) for w in words)
        ranked = {"q": " ".join([*words, *compiled.phrases]), "filter_by": all_of([full, every])}
        return ranked, all_of([full, " || ".join("vocab:!=" + quote_value(w) for w in words)])

    def _did_you_mean(self, text: str) -> str | None:
        """Suggest the query with each unknown bare word replaced by the nearest word items hold.

        As the Whoosh engine does, within the same budget (``suggestions.correctable``); the nearest
        word comes from a Typesense search that allows typos.
        """
        words = [w for w in bare_words(text) if len(w) <= MAX_CORRECTED_CHARS]
        if not words:
            return None
        stems = [stem_word(w) for w in words]
        known = self._multi([{"q": "*", "per_page": 0, "filter_by": "terms:=" + values(["t:" + s, "s:" + s])}
                             for s in stems])
        found = {w for w, r in zip(words, known, strict=True) if int(r.get("found", 0))}
        unknown = correctable(words, found.__contains__)
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
        return with_corrections(text, fixes)

    def _hits_search(self, compiled: Compiled, q: str, filter_by: str | None, sort_by: str,
                     page: int, per_page: int) -> dict[str, Any]:
        return {
            "q": q, "query_by": compiled.query_by, "filter_by": filter_by, "sort_by": sort_by,
            "page": page, "per_page": per_page, "include_fields": HIT_FIELDS,
            "highlight_fields": TEXT_QUERY_BY, "highlight_full_fields": TEXT_QUERY_BY,
            "highlight_start_tag": MARK_START, "highlight_end_tag": MARK_END,
        }

    def _window(self, compiled: Compiled, filter_by: str | None, offset: int,
                size: int, works: dict[str, Any]) -> list[dict[str, Any]]:
        """Return ``size`` hits from ``offset`` of the newest-first list (Typesense 0.24 has no offset)."""
        first = offset // size + 1
        searches = [
            {**self._hits_search(compiled, compiled.phrase_q, filter_by, "sort_date:desc", p, size), **works}
            for p in ((first,) if offset % size == 0 else (first, first + 1))
        ]
        hits = [h for result in self._multi(searches) for h in leads(result)]
        skip = offset - (first - 1) * size
        return hits[skip:skip + size]

    def _hit(self, raw: dict[str, Any], stems: set[str]) -> Hit:
        doc = raw["document"]
        marked = raw.get("highlight") or {}
        title = doc.get("title", "")
        summary = doc.get("summary", "")
        title_spans = spans(title, marked.get("title"), stems)
        summary_spans = spans(summary, marked.get("summary"), stems)
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
            first_seen=from_timestamp(doc.get("first_seen")),
        )

    def get(self, item_id: str) -> FeedItem | None:
        """Return the whole item with this id (its work's other copies in ``also``), or None."""
        doc = self._retrieve(item_id)
        if doc is None:
            return None
        return FeedItem(
            work=str(doc.get("work", "")),
            also=self.works.also([doc])[item_id],
            id=doc["id"],
            title=doc.get("title", ""),
            link=doc.get("link", ""),
            summary=doc.get("summary", ""),
            source=doc.get("source", ""),
            published=from_timestamp(doc.get("published")),
            authors=tuple(doc.get("authors") or ()),
            tags=tuple(doc.get("tags") or ()),
        )

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
        searches = [{"q": "*", "filter_by": "vocab:=" + quote_value(w), "per_page": 0} for w in candidates]
        *dfs, everything = self._multi([*searches, {"q": "*", "per_page": 0}])
        n = int(everything.get("found", 0))
        weights = {
            w: tf[w] * math.log((n + 1) / (int(r.get("found", 0)) + 0.5))
            for w, r in zip(candidates, dfs, strict=True) if int(r.get("found", 0)) > 1
        }
        top = sorted(weights, key=lambda w: (-weights[w], w))[:SIMILAR_TERMS]
        scores: dict[str, float] = {}
        work_of: dict[str, str] = {}
        holders = self._multi([
            {"q": "*", "filter_by": "vocab:=" + quote_value(w), "per_page": SIMILAR_HOLDERS,
             "include_fields": "id,work", "sort_by": "sort_date:desc"}
            for w in top
        ])
        for word, result in zip(top, holders, strict=True):
            for hit in result.get("hits", []):
                # Never the item's own work, and one hit per work among the rest (its best-scoring copy).
                if hit["document"].get("work") != doc.get("work"):
                    key = hit["document"]["id"]
                    scores[key] = scores.get(key, 0.0) + weights[word]
                    work_of[key] = str(hit["document"].get("work", ""))
        best = best_per_work(scores, work_of, limit)
        if not best:
            return []
        (found,) = self._multi([{"q": "*", "filter_by": "id:" + values(best), "per_page": len(best),
                                 "include_fields": HIT_FIELDS}])
        by_id = {h["document"]["id"]: h for h in found.get("hits", [])}
        raw = [by_id[i] for i in best if i in by_id]
        return self.works.with_copies(
            [replace(self._hit(h, set()), score=round(scores[h["document"]["id"]], 4)) for h in raw], raw)

    def suggest(self, text: str, limit: int = 8) -> Suggestions:
        """Return titles completing what someone has typed, newest first, and matching sources.

        As the Whoosh engine's suggest defines it: every typed word but the last appears whole in the
        title, the last (unless the text ends in a space) may be the start of a word; sources whose name
        holds the words the same way, largest first.
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
        sources = []
        for facet in facet_values(named, "source"):
            if source_matches(str(facet["value"]), words, last_is_prefix):
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
        searches = [{"q": "*", "filter_by": "id:" + values(chunk), "per_page": len(chunk),
                     "include_fields": "id,sort_date"}
                    for chunk in chunks([i for i in wanted if "`" not in i], MAX_PER_PAGE)]
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
        compiled = self._compile(q, match_all=False) if q and q.strip() else Compiled()
        facet = {"q": compiled.phrase_q, "query_by": compiled.query_by, "filter_by": compiled.filter,
                 "per_page": 0, "facet_by": "source", "max_facet_values": MAX_SOURCES}
        (counted,) = self._multi([facet])
        counts = {c["value"]: int(c["count"]) for c in facet_values(counted, "source")}
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
        (grouped,) = self._multi([{"q": "*", "per_page": 0, "group_by": "work", "group_limit": 1}])
        return IndexStats(
            items=total,
            works=int(grouped.get("found", 0)),
            sources={r.name: r.count for r in rows},
            size_bytes=0,
            last_update=from_timestamp(hits[0]["document"].get("written_at")) if hits else None,
            path=f"typesense:{self.collection}",
        )

    def count(self) -> int:
        """Return the number of items in the collection."""
        (result,) = self._multi([{"q": "*", "per_page": 0}])
        return int(result.get("found", 0))

    def generation(self) -> str | None:
        """Return None: a collection is only ever written in place (`feedsift migrate` copies every item
        into a new one), so validators never describe items it lacks."""
        return None

    def check_health(self) -> None:
        """Return when a node answers /health with ok and the collection is readable; else raise
        EngineUnavailableError (no node is healthy) or IndexMissingError (no collection yet)."""
        try:
            healthy = bool(self._client.operations.is_healthy())
        except (ts_errors.TypesenseClientError, httpx.HTTPError):
            healthy = False
        if not healthy:
            raise EngineUnavailableError(
                f"no {ENGINE_NAME} node answers its health check ({', '.join(self.nodes)})"
            )
        self.count()

    def _compile(self, text: str, *, match_all: bool) -> Compiled:
        """Map a query onto a Typesense filter, required phrases and ranking words, or raise QueryError."""
        text = prepare_text(text)
        try:
            parsed = self._parser[match_all].parse(text)
        except Exception as exc:  # the parser has no error type of its own; anything it raises is bad input
            raise unparsable(exc) from None
        tree = require_filters(rewrite_tree(parsed, refuse_unsupported))
        if tree is query.NullQuery:
            raise no_words(text)
        prefixes = self._expand_prefixes(tree)
        compiled = Compiled()
        required = list(tree.subqueries) if isinstance(tree, query.And) else [tree]
        filters: list[str] = []
        for node in required:
            phrase, negated = (node.query, True) if isinstance(node, query.Not) else (node, False)
            if isinstance(phrase, query.Phrase) and phrase.fieldname in TEXT_FIELDS:
                query_by = TEXT_FIELDS[phrase.fieldname]
                if compiled.phrases and compiled.query_by != query_by:
                    raise QueryError(
                        f"The {ENGINE_NAME} engine cannot combine phrases on different fields in one query."
                    )
                compiled.query_by = query_by
                compiled.phrases.append(("-" if negated else "") + '"' + " ".join(phrase.words) + '"')
                if not negated:
                    compiled.stems.update(stem_word(w) for w in phrase.words)
                continue
            filters.append(filter_of(node, prefixes, compiled))
        compiled.filter = all_of(filters)
        return compiled

    def _expand_prefixes(self, tree: Any) -> dict[str, list[str]]:
        """Return, for each ``prefix*`` of a text field, the item words it stands for."""
        texts = sorted({str(p.text).lower() for p in walk(tree) if isinstance(p, query.Prefix)
                        and p.fieldname in TEXT_FIELDS})
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
        total = 0  # the whole query's budget, as the Whoosh engine counts it
        for text, result in zip(texts, self._multi(searches), strict=True):
            words = [c["value"] for c in facet_values(result, "vocab") if c["value"].startswith(text)]
            total += len(words)
            if total > MAX_EXPANSIONS:
                whole = "" if len(words) == total else " with the query's other prefixes"
                raise QueryError(f"'{text}*' matches more than {MAX_EXPANSIONS} different words{whole}; "
                                 "make it more specific.")
            expanded[text] = words
        return expanded
