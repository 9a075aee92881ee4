"""Reading Typesense's answers: facet counts, and highlight spans from its private match markers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from index.model import FacetCount
from index.search.highlight import match_spans
from index.search.typesense.documents import STEMS

# Private-use characters as highlight tags: Typesense copies item text raw between its tags, so ours
# must be characters that cannot be confused with markup; text that itself holds them is marked locally.
MARK_START = "\ue000"

MARK_END = "\ue001"

def spans(text: str, marked: dict[str, Any] | None, stems: set[str]) -> list[tuple[int, int]]:
    """Return the spans to mark: Typesense's own matches and those of the stemmed words it cannot see."""
    spans = match_spans(text, stems, STEMS) if stems else []
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
            spans = match_spans(text, stems, STEMS) if stems else []
    return _merged(spans)

def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out

def facet_values(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    for facet in result.get("facet_counts", []):
        if facet.get("field_name") == name:
            counts: list[dict[str, Any]] = facet.get("counts", [])
            return counts
    return []

def source_facets(result: dict[str, Any]) -> list[FacetCount]:
    pairs = [(int(c["count"]), str(c["value"])) for c in facet_values(result, "source") if int(c["count"])]
    pairs.sort(key=lambda pair: (-pair[0], pair[1]))
    return [FacetCount(value=name, count=count) for count, name in pairs]

def month_facets(result: dict[str, Any], name: str = "month") -> list[FacetCount]:
    pairs = sorted((str(c["value"]), int(c["count"]))
                   for c in facet_values(result, name) if int(c["count"]))
    return [FacetCount(value=month, count=count) for month, count in pairs]

def leads(result: dict[str, Any], *, newest: bool = False) -> list[dict[str, Any]]:
    """Return a search's hits; grouped by work, each group's first (or, with ``newest``, newest) hit."""
    if "grouped_hits" not in result:
        hits: list[dict[str, Any]] = result.get("hits", [])
        return hits
    groups = [group["hits"] for group in result["grouped_hits"] if group.get("hits")]
    if newest:
        return [max(group, key=lambda h: int(h["document"].get("sort_date") or 0)) for group in groups]
    return [group[0] for group in groups]

def chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]
