"""The connection to one Typesense collection: the client, collection and alias administration, writes and
multi-searches."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import quote

import httpx
import typesense
from typesense import exceptions as ts_errors

from index.errors import EngineUnavailableError, IndexMissingError, IndexVersionError, QueryError
from index.model import FeedItem, WriteReport
from index.search.batch import CommitWatcher, plan_batch, report_of
from index.search.querylang import make_parser
from index.search.typesense.compile import TEXT_QUERY_BY, values
from index.search.typesense.documents import (
    ENGINE_NAME,
    SCHEMA_FIELDS,
    collection_schema,
    mirror_schema,
    to_document,
)
from index.search.typesense.results import chunks
from index.search.typesense.works import TypesenseWorks

DEFAULT_COLLECTION = "feedsift_items"

IMPORT_BATCH = 500

# The server's limit_multi_searches (default 50): longer lists are sent in several requests.
MAX_MULTI_SEARCHES = 50

# Strict literal matching: no typo corrections, no prefix completion, no dropped words. Anything looser
# would make Typesense's found count disagree with the filter that defines the match set.
STRICT = {"num_typos": 0, "typo_tokens_threshold": 0, "drop_tokens_threshold": 0, "prefix": False}

# Typesense answers at most 250 hits per page; lookups by id are chunked to fit.
MAX_PER_PAGE = 250


class TypesenseCollection:
    """One Typesense collection through the official client: creation, aliases, imports, deletes, searches.

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
        watcher: CommitWatcher | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("at least one Typesense node URL is needed")
        self.watcher = watcher
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
        with client_deprecations():
            # The client's own types are narrower than the JSON it accepts; it is used untyped here.
            self._client: Any = typesense.Client(config)
            self._documents: Any = self._client.collections[collection].documents
        self._ready = False
        schema = mirror_schema()
        self._parser = {match_all: make_parser(schema, match_all=match_all) for match_all in (False, True)}
        # A node that has not yet applied the collection's creation has no copies of anything yet.
        self.works = TypesenseWorks(lambda searches: self._multi(searches, missing_ok=True))

    def close(self) -> None:
        self._client.api_call.close()

    def ensure_collection(self) -> None:
        """Create the collection when it does not exist; refuse one whose fields are not ours."""
        if self._ready:
            return
        with unavailable():
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
        with unavailable():
            try:
                self._client.collections[self.collection].delete()
            except ts_errors.ObjectNotFound:
                return False
        return True

    def alias_target(self, alias: str) -> str | None:
        """Return the collection ``alias`` points at, or None when there is no such alias."""
        with unavailable(), client_deprecations():
            try:
                found: dict[str, Any] = self._client.aliases[alias].retrieve()
            except ts_errors.ObjectNotFound:
                return None
        return str(found["collection_name"])

    def is_plain_collection(self, name: str) -> bool:
        """Return True when ``name`` is a collection itself rather than an alias (or nothing)."""
        if self.alias_target(name) is not None:
            return False
        with unavailable(), client_deprecations():
            try:
                self._client.collections[name].retrieve()
            except ts_errors.ObjectNotFound:
                return False
        return True

    def point_alias(self, alias: str) -> str | None:
        """Point ``alias`` at this engine's collection, atomically; return the collection it pointed at."""
        previous = self.alias_target(alias)
        with unavailable(), client_deprecations():
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
        now = int(time.time())
        stored = self._stored_fingerprints(list(dict.fromkeys(item.id for item in batch)))
        writes, unchanged = plan_batch(batch, lambda i: stored[i][:2] if i in stored else None, now=now,
                                       seen=seen)
        if not writes:
            return WriteReport(unchanged=unchanged)
        works = self.works.resolve(writes)
        docs = [to_document(w.item, first_seen=w.first_seen, written_at=now, work=works[w.item.id])
                for w in writes]
        # A rewritten item may leave a work, whose newest copy may then be another.
        updates = self.works.months(docs, touched=[stored[w.item.id][2] for w in writes if w.update])
        # An import is not atomic: after a crash, the watcher's recovery checks each item's fingerprint.
        watching = (self.watcher.committing(lambda: [w.item for w in writes]) if self.watcher is not None
                    else nullcontext())
        with watching:
            with unavailable():
                results = self._documents.import_(docs, {"action": "upsert"})
            failed = [(d["id"], r.get("error"))
                      for d, r in zip(docs, results, strict=True) if not r.get("success")]
            if failed:
                raise EngineUnavailableError(
                    f"Typesense refused {len(failed)} of {len(docs)} items: {failed[:3]}"
                )
        self._update_months(updates)
        return report_of(writes, unchanged)

    def fingerprints(self, item_ids: list[str]) -> dict[str, str]:
        """Return the stored fingerprint of each of these ids the collection holds."""
        return {item_id: found[0] for item_id, found in self._stored_fingerprints(item_ids).items()}

    def _update_months(self, updates: list[dict[str, Any]]) -> None:
        """Write the work months of other copies that a write or delete changed (one field each)."""
        if not updates:
            return
        with unavailable():
            results = self._documents.import_(updates, {"action": "update"})
        failed = [r.get("error") for r in results if not r.get("success")]
        if failed:
            raise EngineUnavailableError(f"Typesense refused {len(failed)} work-month updates: {failed[:3]}")

    def _stored_fingerprints(self, ids: list[str]) -> dict[str, tuple[str, int, str]]:
        """Return (fingerprint, first_seen, work) of the ids already in the collection."""
        found: dict[str, tuple[str, int, str]] = {}
        plain = [i for i in ids if "`" not in i]
        searches = [
            {"q": "*", "filter_by": "id:" + values(chunk), "per_page": MAX_PER_PAGE,
             "include_fields": "id,fingerprint,first_seen,work"}
            for chunk in chunks(plain, MAX_PER_PAGE)
        ]
        # A node that has not yet applied the collection's creation (followers apply the Raft log a
        # moment later) has nothing stored: the items are then written as new, which upsert allows.
        for result in self._multi(searches, missing_ok=True):
            for hit in result.get("hits", []):
                doc = hit["document"]
                found[doc["id"]] = _stored(doc)
        for odd in (i for i in ids if "`" in i):
            doc = self._retrieve(odd)
            if doc is not None:
                found[odd] = _stored(doc)
        return found

    def delete(self, ids: Iterable[str]) -> int:
        """Delete items by id and return how many were in the collection."""
        wanted = list(dict.fromkeys(ids))
        works = {stored[2] for stored in self._stored_fingerprints(wanted).values()}
        deleted = self._delete(wanted)
        if deleted:
            # A deleted copy may have been its work's newest: the others take the next newest's month.
            self._update_months(self.works.months([], touched=works, gone=wanted))
        return deleted

    def _delete(self, wanted: list[str]) -> int:
        deleted = 0
        with unavailable():
            for chunk in chunks([i for i in wanted if "`" not in i], MAX_PER_PAGE):
                try:
                    result = self._documents.delete({"filter_by": "id:" + values(chunk)})
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

    def _retrieve(self, item_id: str) -> dict[str, Any] | None:
        with unavailable():
            try:
                doc: dict[str, Any] = self._documents[quote(item_id, safe="")].retrieve()
            except ts_errors.ObjectNotFound:
                return None
        return doc

    def _multi(self, searches: list[dict[str, Any]], *, missing_ok: bool = False) -> list[dict[str, Any]]:
        """Run searches in one multi_search, with our strict defaults, and return their results in order.

        With ``missing_ok`` a missing collection reads as an empty one.
        """
        if not searches:
            return []
        body = []
        for search in searches:
            params = {"collection": self.collection, "query_by": TEXT_QUERY_BY,
                      "exclude_fields": "terms,vocab", **STRICT, **search}
            body.append({k: v for k, v in params.items() if v is not None})
        results: list[dict[str, Any]] = []
        for i in range(0, len(body), MAX_MULTI_SEARCHES):
            try:
                with unavailable():
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


def _stored(doc: dict[str, Any]) -> tuple[str, int, str]:
    return doc.get("fingerprint", ""), int(doc.get("first_seen") or 0), str(doc.get("work", ""))


@contextmanager
def client_deprecations() -> Iterator[None]:
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
def unavailable() -> Iterator[None]:
    """Turn the client's transport and server errors into EngineUnavailableError; let 4xx through."""
    try:
        yield
    except (ts_errors.ObjectNotFound, ts_errors.ObjectAlreadyExists, ts_errors.RequestMalformed):
        raise
    except ts_errors.RequestUnauthorized as exc:
        raise EngineUnavailableError(f"Typesense refused the API key: {exc}") from exc
    except (ts_errors.TypesenseClientError, httpx.HTTPError) as exc:
        raise EngineUnavailableError(f"Typesense cannot be reached or has no leader: {exc}") from exc
