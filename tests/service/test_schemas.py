"""Tests for service/schemas.py: reading dates and query strings, writing timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from index.model import Copy, FacetCount, Hit, Page, SearchRequest
from index.search.whoosh.reader import SearchIndex
from service.schemas import (
    HitSchema,
    ItemSchema,
    PageSchema,
    SearchArgs,
    UtcDateTime,
    dump_hit,
    dump_page,
    load_args,
)


@pytest.mark.parametrize(("text", "end_of_day", "expected"), [
    ("2026-03-01", False, datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01", True, datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)),
    ("20260301", True, datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2026-03-01T09:30:00Z", True, datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    ("2026-03-01T09:30:00+02:00", False, datetime(2026, 3, 1, 7, 30, tzinfo=UTC)),
    ("2026-03-01T09:30", False, datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
])
def test_dates_in(text: str, end_of_day: bool, expected: datetime) -> None:
    assert UtcDateTime(end_of_day=end_of_day).deserialize(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-03", "", "1709251200"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        UtcDateTime().deserialize(text)


def test_timestamps_out_are_utc_with_z() -> None:
    paris = timezone(timedelta(hours=1))
    item = {"published": datetime(2026, 3, 11, 8, 30, 15, 500, tzinfo=paris)}
    assert ItemSchema(only=("published",)).dump(item) == {"published": "2026-03-11T07:30:15Z"}
    assert ItemSchema(only=("published",)).dump({"published": None}) == {"published": None}


def test_search_args_become_a_search_request() -> None:
    args = MultiDict([("q", "diffusion"), ("source", "A"), ("source", "B"), ("until", "2026-03-01"),
                      ("sort", "newest"), ("match", "all"), ("page", "2"), ("per_page", "20")])
    assert load_args(SearchArgs(), args) == SearchRequest(
        q="diffusion", sources=("A", "B"), since=None,
        until=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC), sort="newest", match="all", page=2,
        per_page=20,
    )


def test_search_args_defaults() -> None:
    assert load_args(SearchArgs(), MultiDict()) == SearchRequest()


def test_every_bad_parameter_is_reported_together() -> None:
    with pytest.raises(ValidationError) as caught:
        load_args(SearchArgs(), MultiDict([("page", "1"), ("page", "2"), ("per_page", "0"), ("x", "1")]))
    assert set(caught.value.messages) == {"page", "per_page", "x"}


def test_a_hit_carries_its_first_seen_date() -> None:
    paris = timezone(timedelta(hours=1))
    hits = [
        Hit(id="a", title="T", link="https://x.example/a", source="S", published=None, score=3,
            snippet="s", highlights={"title": "T"}, first_seen=datetime(2026, 1, 3, tzinfo=paris)),
        Hit(id="b", title="U", link="https://x.example/b", source="S", published=None, score=1,
            snippet="s", highlights={"title": "U"}),
    ]
    dumped = HitSchema(many=True).dump(hits)
    assert dumped[0]["first_seen"] == "2026-01-02T23:00:00Z"
    assert dumped[1]["first_seen"] is None
    assert list(dumped[0])[4:6] == ["published", "first_seen"]  # in the order openapi.yaml documents


@pytest.mark.parametrize("request_", [
    SearchRequest(q="search"), SearchRequest(q="model OR data", per_page=50), SearchRequest(),
    SearchRequest(q="\"neural network\" OR attention", sort="newest"), SearchRequest(q="zzqx nothing"),
])
def test_pages_are_dumped_as_the_page_schema_dumps_them(sample_index: Path, request_: SearchRequest) -> None:
    index = SearchIndex(sample_index)
    try:
        page = index.search(request_)
    finally:
        index.close()
    assert dump_page(page) == PageSchema().dump(page)


def test_odd_hits_are_dumped_as_the_hit_schema_dumps_them() -> None:
    paris = timezone(timedelta(hours=1))
    hits = [
        Hit(id="a", title="<b>T</b>", link="javascript:alert(1)", source="S", published=None, score=3,
            snippet="s", highlights={"title": "<mark>T</mark>"}),
        Hit(id="b", title="", link="HTTPS://x.example/1", source="",
            published=datetime(2026, 1, 2, 0, 30, tzinfo=paris), score=0.12345, snippet="",
            highlights={"summary": "x", "title": "y", "other": "z"},
            first_seen=datetime(2026, 1, 1, tzinfo=paris),
            also=(Copy(id="c", source="T", link="data:x", published=None),
                  Copy(id="d", source="U", link="https://y.example/2",
                       published=datetime(2026, 2, 1, tzinfo=paris)))),
    ]
    page = Page(total=2, page=1, per_page=10, hits=hits, source_facets=[FacetCount("S", 2)],
                month_facets=[FacetCount("2026-01", 1)], did_you_mean="models")
    assert [dump_hit(hit) for hit in hits] == HitSchema(many=True).dump(hits)
    assert dump_page(page) == PageSchema().dump(page)
    assert dump_hit(hits[1])["published"] == "2026-01-01T23:30:00Z"
    # The response's keys come out in the order openapi.yaml documents (the JSON provider keeps order).
    assert list(dump_page(page)) == list(PageSchema().dump(page))
    assert list(dump_hit(hits[1])) == list(HitSchema().dump(hits[1]))
