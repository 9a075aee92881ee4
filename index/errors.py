"""The exceptions of the engine, all rooted at :class:`FeedsiftError`.

    FeedsiftError
    +-- InputError            an input could not be read or parsed (one file, URL or stream)
    |   +-- FetchError        an http(s) fetch failed: scheme, address, status, size, time
    +-- IndexError_           the index cannot be used as asked
    |   +-- IndexMissingError     no index at the configured place
    |   +-- IndexVersionError     built by an incompatible schema: rebuild needed
    |   +-- IndexLockedError      another writer holds the lock past the wait
    |   +-- IndexWriteError       the OS refused a write (disk full, read-only): nothing committed is lost
    |   +-- EngineUnavailableError  the engine's servers could not be reached or refused (Typesense)
    +-- QueryError            a query string or search parameter the engine cannot honour
    +-- RegistryError         the feed registry cannot do as asked (or its database is unusable)
        +-- FeedURLError          not an http(s) URL with a host
        +-- DuplicateFeedError    that URL is registered already
        +-- FeedNotFoundError     no feed with that id or URL
        +-- AlertError            an alert cannot be stored or delivered as asked
            +-- WebhookURLError       not an http(s) URL, or one on a private address when those are refused
            +-- AlertNotFoundError    no alert with that id
"""

from __future__ import annotations


class FeedsiftError(Exception):
    """Root of every error the engine raises on purpose."""


class InputError(FeedsiftError):
    """An input (file, URL, stdin) could not be read or parsed."""


class FetchError(InputError):
    """An http(s) fetch failed; ``reason`` is a short machine-readable class of the failure."""

    def __init__(self, message: str, *, reason: str = "fetch", status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class IndexError_(FeedsiftError):  # noqa: N801 - trailing underscore avoids shadowing the builtin
    """The index cannot be used as asked."""


class IndexMissingError(IndexError_):
    """There is no index at the configured place."""


class IndexVersionError(IndexError_):
    """The index was built with an incompatible schema version; it must be rebuilt."""


class IndexLockedError(IndexError_):
    """Another writer held the index lock for longer than we were willing to wait."""


class IndexWriteError(IndexError_):
    """The operating system refused a write to the index (disk full, read-only); what was committed stays."""


class EngineUnavailableError(IndexError_):
    """The engine's servers could not be reached or refused the request (no leader, overloaded, down).

    A subclass of IndexError_, so callers that turn a missing index into a 503 do the same here.
    """


class QueryError(FeedsiftError):
    """A query the engine cannot honour; ``param`` names the request parameter at fault."""

    def __init__(self, message: str, *, param: str = "q") -> None:
        super().__init__(message)
        self.param = param


class RegistryError(FeedsiftError):
    """The feed registry cannot do as asked, or its database cannot be used."""


class FeedURLError(RegistryError):
    """A feed URL that is not http(s) with a host."""


class DuplicateFeedError(RegistryError):
    """The URL is already registered; ``feed_id`` names the feed that has it."""

    def __init__(self, message: str, *, feed_id: int) -> None:
        super().__init__(message)
        self.feed_id = feed_id


class FeedNotFoundError(RegistryError):
    """No registered feed has the id or URL asked for."""


class AlertError(RegistryError):
    """An alert (a stored query that pushes to a webhook) cannot be stored or found as asked."""


class WebhookURLError(AlertError):
    """A webhook URL that is not http(s) with a host, or that reaches an address we may not send to."""


class AlertNotFoundError(AlertError):
    """No alert has the id asked for."""
