"""Works on Typesense: each written item's work key and its work's month, and the copies of a work.

The work key is resolved as the Whoosh writer resolves it (``index.search.batch.resolve_works``), with
the items of the same long title looked up by a ``title_key`` filter. Every copy of a work also carries
``work_month``, the month of the work's newest copy: grouped by work, Typesense's facet counts are
counts of works, so a histogram over ``work_month`` counts each work once, in the same month as the
Whoosh engine does. A write or delete that changes a work's newest copy updates that field on the
work's other copies (a partial update of one field).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from index.ingest.works import Titled, WorkTitles, title_key
from index.model import Copy, Hit, from_timestamp
from index.search.batch import PlannedWrite, resolve_works
from index.search.typesense.documents import month_of

# Values per ``field:=[...]`` filter, and documents per page of a lookup (Typesense's page limit).
LOOKUP_CHUNK = 100
LOOKUP_PAGE = 250
COPY_FIELDS = "id,source,link,published,sort_date,work,work_month"
# Copies a grouped search returns per work: enough to find the newest matching one for ``oldest``.
GROUP_LIMIT = 99

Search = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def grouping(collapse: bool, sort: str) -> tuple[dict[str, Any], str, bool]:
    """Return a search's grouping parameters, the month field its histogram counts, and whether each
    group's newest copy leads (rather than its first).

    Grouped by work, Typesense counts works: the total, and each facet value once per work. Oldest
    first places a work by its oldest matching copy but shows its newest, which needs them all.
    """
    if not collapse:
        return {}, "month", False
    oldest = sort == "oldest"
    return {"group_by": "work", "group_limit": GROUP_LIMIT if oldest else 1}, "work_month", oldest


def best_per_work(scores: dict[str, float], work_of: dict[str, str], limit: int) -> list[str]:
    """Return the ids of the best-scoring copy of each work, best first, at most ``limit`` of them."""
    per_work: dict[str, str] = {}
    for key in sorted(scores, key=lambda i: (-scores[i], i)):
        if "`" not in key and len(per_work) < limit:
            per_work.setdefault(work_of[key], key)
    return list(per_work.values())


class TypesenseWorks:
    """The work lookups a Typesense engine makes; ``search`` runs a list of searches (its multi_search)."""

    def __init__(self, search: Search) -> None:
        self._search = search

    def _all(self, field: str, values: Iterable[str], include: str) -> Iterator[dict[str, Any]]:
        """Yield every document whose ``field`` is one of ``values``."""
        # Filter values sit in backticks and cannot hold one: a key with one is looked up by nothing.
        wanted = sorted({v for v in values if v and "`" not in v})
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = "[" + ",".join(f"`{v}`" for v in wanted[i:i + LOOKUP_CHUNK]) + "]"
            page = 1
            while True:
                (result,) = self._search([{"q": "*", "filter_by": f"{field}:={chunk}",
                                           "per_page": LOOKUP_PAGE, "page": page, "include_fields": include}])
                hits = result.get("hits", [])
                yield from (hit["document"] for hit in hits)
                if len(hits) < LOOKUP_PAGE:
                    break
                page += 1

    def copies(self, works: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Return the documents (``COPY_FIELDS``) of each of ``works``."""
        found: dict[str, list[dict[str, Any]]] = {}
        for doc in self._all("work", works, COPY_FIELDS):
            found.setdefault(str(doc.get("work", "")), []).append(doc)
        return found

    def also(self, docs: list[dict[str, Any]]) -> dict[str, tuple[Copy, ...]]:
        """Return, by id, the other copies of each document's work, newest first."""
        copies = self.copies(str(doc.get("work", "")) for doc in docs)
        found = {}
        for doc in docs:
            others = [c for c in copies.get(str(doc.get("work", "")), []) if c["id"] != doc["id"]]
            others.sort(key=lambda c: (-int(c.get("sort_date") or 0), c["id"]))
            found[doc["id"]] = tuple(
                Copy(id=c["id"], source=c.get("source", ""), link=c.get("link", ""),
                     published=from_timestamp(c.get("published")))
                for c in others
            )
        return found

    def with_copies(self, hits: list[Hit], raw: list[dict[str, Any]]) -> list[Hit]:
        """Return the hits (made from the search's raw hits ``raw``) with their works' other copies."""
        also = self.also([h["document"] for h in raw])
        return [replace(hit, also=also.get(hit.id, ())) for hit in hits]

    def resolve(self, writes: list[PlannedWrite]) -> dict[str, str]:
        """Return the work key of each item of one write, by item id."""
        titled = {title_key(write.item.title) for write in writes} - {""}
        known: dict[str, list[Titled]] = {}
        for doc in self._all("title_key", titled, "id,source,sort_date,work,title_key"):
            known.setdefault(str(doc["title_key"]), []).append(
                Titled(id=doc["id"], source=str(doc.get("source", "")), date=int(doc.get("sort_date") or 0),
                       work=str(doc.get("work", ""))))
        return resolve_works(writes, WorkTitles(lambda key: known.get(key, [])))

    def months(self, docs: list[dict[str, Any]], touched: Iterable[str] = (),
               gone: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Set ``work_month`` on ``docs`` (to be written); return the partial updates of the other copies.

        ``touched`` names more works whose newest copy may have changed (the old works of rewritten
        items, the works of deleted ones); ``gone`` names deleted ids.
        """
        writing = {doc["id"]: doc for doc in docs}
        skip = set(writing) | set(gone)
        works = {str(doc["work"]) for doc in docs} | set(touched)
        stored = [doc for copies in self.copies(works).values() for doc in copies if doc["id"] not in skip]
        newest: dict[str, int] = {}
        for doc in [*stored, *docs]:
            work, date = str(doc.get("work", "")), int(doc.get("sort_date") or 0)
            newest[work] = max(newest.get(work, date), date)
        for doc in docs:
            doc["work_month"] = month_of(newest[str(doc["work"])])
        return [
            {"id": doc["id"], "work_month": month_of(newest[str(doc["work"])])}
            for doc in stored if doc.get("work_month") != month_of(newest[str(doc["work"])])
        ]
