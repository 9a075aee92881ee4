"""What parsing one input produced: its items plus the warnings and per-record errors met on the way."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import FeedItem


@dataclass
class ParsedInput:
    """The outcome of parsing one input; every parser returns this one type.

    ``errors`` name records that were skipped (with a line number where there is one); ``warnings``
    name problems that did not cost any item. ``ttl_minutes`` is a feed's own ``<ttl>``, if any.
    """

    items: list[FeedItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    title: str | None = None
    ttl_minutes: int | None = None
