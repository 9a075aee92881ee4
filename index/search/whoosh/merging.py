"""Which segments a commit merges: a tier of small segments of like size at a time, never a large share.

Whoosh's default policy merges the smallest segments up to a point found by Fibonacci numbers. On an
index of many equal segments, as a large load leaves (a million items commit a hundred segments of
10,000), that point falls a quarter of the way up: a commit of 20 new items would first merge 240,000
old ones, minutes of work holding the write lock. Like Lucene's tiered policy, this one groups
segments by size (tiers a factor of ten apart) and merges only a full tier of small segments, so
what a commit merges is bounded by :data:`MAX_MERGED` items, and the count of segments stays
bounded for an index fed by many small polls. Segments larger than a merge may write are left as
they are; ``feedsift rebuild`` writes one segment of everything.
"""

from __future__ import annotations

import math
from typing import Any

from whoosh.reading import SegmentReader

# Segments of fewer live items than this are one tier; above it, each factor of TIER_FACTOR is a tier.
SMALLEST_TIER = 1_000
TIER_FACTOR = 10
# A tier is merged into one segment once it holds this many segments.
MERGE_AT = 8
# Live items one commit's merge may write at most: a merge writes ~500-1,000 items a second.
MAX_MERGED = 50_000


def tier(live: int) -> int:
    """Return the size tier of a segment of ``live`` items."""
    if live < SMALLEST_TIER:
        return 0
    return 1 + int(math.log(live / SMALLEST_TIER, TIER_FACTOR))


def choose(segments: list[Any]) -> list[Any]:
    """Return the segments to merge now: the smallest full tier within :data:`MAX_MERGED`, or none."""
    tiers: dict[int, list[Any]] = {}
    for segment in sorted(segments, key=lambda s: s.doc_count()):
        if segment.doc_count() > 0:
            tiers.setdefault(tier(segment.doc_count()), []).append(segment)
    for number in sorted(tiers):
        group = tiers[number][:MERGE_AT]
        if len(group) == MERGE_AT and sum(s.doc_count() for s in group) <= MAX_MERGED:
            return group
    return []


def merge_tiered(writer: Any, segments: list[Any]) -> list[Any]:
    """A Whoosh merge policy: merge what :func:`choose` picks into the writer's segment, and drop
    segments whose every item was deleted; return the segments kept as they are."""
    chosen = choose(segments)
    for segment in chosen:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    merged = {id(segment) for segment in chosen}
    return [s for s in segments if id(s) not in merged and s.doc_count() > 0]
