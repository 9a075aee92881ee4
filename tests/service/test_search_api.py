"""Tests for service/search_api.py: /v1/search and /v1/sources over a real index of the samples."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import assert_problem
from tests.support.indexes import build_index, jsonl_items


def search(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def all_ids(client: FlaskClient, **params: Any) -> list[str]:
    """Return the ids of every match by walking the pages one by one."""
    ids: list[str] = []
    page = 1
    while True:
        body = search(client, page=page, per_page=3, **params)
        if not body["hits"]:
            return ids
        ids.extend(hit["id"] for hit in body["hits"])
        page += 1


# --- the response ------------------------------------------------------------------------------------


def test_search_returns_ranked_hits_with_facets_and_highlights(client: FlaskClient) -> None:
    body = search(client, q="reinforcement learning")
    assert list(body) == ["total", "page", "per_page", "hits", "facets", "did_you_mean", "took_ms"]
    assert body["page"] == 1 and body["per_page"] == 10
    assert body["total"] >= 5
    hits = body["hits"]
    assert list(hits[0]) == ["id", "title", "link", "source", "published", "first_seen", "score", "snippet",
                             "highlights", "also"]
    assert "Reinforcement Learning" in hits[0]["title"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert "<mark>Reinforcement</mark> <mark>Learning</mark>" in hits[0]["highlights"]["title"]
    assert "<mark>" not in hits[0]["snippet"]
    assert sum(f["count"] for f in body["facets"]["source"]) == body["total"]
    assert sum(f["count"] for f in body["facets"]["published"]) == body["total"]
    assert body["did_you_mean"] is None
    assert isinstance(body["took_ms"], float)


def test_items_with_every_word_rank_above_items_with_some(client: FlaskClient) -> None:
    hits = search(client, q="reinforcement learning", per_page=100)["hits"]
    both = ["reinforcement" in (h["title"] + h["snippet"]).lower() for h in hits]
    # Once an item lacking "reinforcement" appears, no item with it follows.
    assert both == sorted(both, reverse=True)
    assert True in both and False in both


def test_match_all_keeps_only_items_with_every_word(client: FlaskClient) -> None:
    any_total = search(client, q="reinforcement learning")["total"]
    all_body = search(client, q="reinforcement learning", match="all")
    assert 0 < all_body["total"] < any_total
    for hit in all_body["hits"]:
        assert "reinforcement" in hit["highlights"]["title"].lower() + hit["highlights"]["summary"].lower()


def test_a_sentence_still_finds_what_it_is_about(client: FlaskClient) -> None:
    body = search(client, q="how do telescopes decide which fields to observe when the weather is uncertain?")
    assert body["hits"] and "Telescope" in body["hits"][0]["title"]


def test_dates_are_utc_with_z(client: FlaskClient) -> None:
    for hit in search(client, per_page=100)["hits"]:
        assert hit["published"] is None or hit["published"].endswith("Z")


def test_no_query_browses_everything_newest_first(client: FlaskClient) -> None:
    body = search(client, per_page=100)
    assert body["total"] == 40
    dated = [h["published"] for h in body["hits"] if h["published"]]
    assert dated == sorted(dated, reverse=True)
    assert body["did_you_mean"] is None


def test_empty_query_is_the_same_as_none(client: FlaskClient) -> None:
    assert search(client, q="  ")["total"] == search(client)["total"] == 40


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_sort_by_date(client: FlaskClient, sort: str) -> None:
    dates = [h["published"] for h in search(client, q="learning", sort=sort, per_page=100)["hits"]
             if h["published"]]
    assert dates == sorted(dates, reverse=sort == "newest")


def test_query_syntax_reaches_the_engine(client: FlaskClient) -> None:
    assert search(client, q='"reinforcement learning"')["total"] >= 3
    assert search(client, q='source:"gradient notes" augmentation')["hits"][0]["source"] == "Gradient Notes"
    assert search(client, q="reinforc*")["total"] >= 3
    assert search(client, q="telescpe~")["total"] >= 1


# --- totals, paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["learning NOT reinforcement", "learning -model", "NOT reinforcement",
                               "learning AND NOT source:\"Gradient Notes\""])
def test_total_is_exact_for_negations(client: FlaskClient, q: str) -> None:
    total = search(client, q=q)["total"]
    ids = all_ids(client, q=q)
    assert len(ids) == len(set(ids)) == total
    assert total > 0


def test_negation_total_is_the_difference(client: FlaskClient) -> None:
    everything = search(client)["total"]
    positive = search(client, q="reinforcement")["total"]
    assert search(client, q="NOT reinforcement")["total"] == everything - positive


def test_page_past_the_last_is_empty_but_ok(client: FlaskClient) -> None:
    first = search(client, q="learning")
    body = search(client, q="learning", page=50)
    assert body["hits"] == []
    assert body["total"] == first["total"]
    assert body["page"] == 50
    assert body["facets"] == first["facets"]


def test_pages_do_not_overlap_and_cover_the_matches(client: FlaskClient) -> None:
    ids = all_ids(client, q="model")
    assert len(ids) == len(set(ids)) == search(client, q="model")["total"]


def test_the_largest_allowed_window_is_served(client: FlaskClient) -> None:
    body = search(client, page=100, per_page=100)
    assert body["hits"] == [] and body["total"] == 40


# --- filters and facets -----------------------------------------------------------------------------


def test_source_facet_counts_as_if_the_source_filter_were_absent(client: FlaskClient) -> None:
    unfiltered = search(client, q="learning")
    filtered = search(client, q="learning", source="Gradient Notes")
    assert filtered["facets"]["source"] == unfiltered["facets"]["source"]
    counts = {f["value"]: f["count"] for f in unfiltered["facets"]["source"]}
    assert filtered["total"] == counts["Gradient Notes"]
    assert {h["source"] for h in filtered["hits"]} == {"Gradient Notes"}
    assert sum(f["count"] for f in filtered["facets"]["published"]) == filtered["total"]


def test_source_filter_is_repeatable_and_case_insensitive(client: FlaskClient) -> None:
    counts = {f["value"]: f["count"] for f in search(client)["facets"]["source"]}
    body = search(client, source=["gradient notes", "Sky Survey Preprints"], per_page=100)
    assert body["total"] == counts["Gradient Notes"] + counts["Sky Survey Preprints"]
    assert {h["source"] for h in body["hits"]} == {"Gradient Notes", "Sky Survey Preprints"}


def test_unknown_source_matches_nothing(client: FlaskClient) -> None:
    body = search(client, source="No Such Feed")
    assert body["total"] == 0 and body["hits"] == []
    assert body["facets"]["source"]  # the other sources are still counted


def test_facets_by_month_are_sorted_months(client: FlaskClient) -> None:
    months = search(client)["facets"]["published"]
    values = [m["value"] for m in months]
    assert values == sorted(values)
    assert all(len(v) == 7 and v[4] == "-" for v in values)
    assert sum(m["count"] for m in months) == 40


def test_since_and_until_filter_by_publication_date(client: FlaskClient) -> None:
    body = search(client, since="2026-01-01", until="2026-03-31T23:59:59Z", per_page=100)
    assert body["total"] > 0
    for hit in body["hits"]:
        assert "2026-01-01" <= hit["published"][:10] <= "2026-03-31"


def test_a_date_only_until_includes_that_whole_day(tmp_path: Path,
                                                   make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "ix", jsonl_items([
        {"id": "early", "title": "Morning item", "published": "2026-03-01T00:00:00Z"},
        {"id": "late", "title": "Evening item", "published": "2026-03-01T23:59:59Z"},
        {"id": "next", "title": "Next day item", "published": "2026-03-02T00:00:00Z"},
    ]))
    client = make_app(tmp_path / "ix").test_client()
    assert {h["id"] for h in search(client, until="2026-03-01")["hits"]} == {"early", "late"}
    one_day = search(client, since="2026-03-01", until="2026-03-01")
    assert {h["id"] for h in one_day["hits"]} == {"early", "late"}
    assert {h["id"] for h in search(client, since="2026-03-02")["hits"]} == {"next"}
    assert {h["id"] for h in search(client, since="2026-03-01T23:00:00+01:00")["hits"]} == {"late", "next"}


def test_did_you_mean_suggests_a_correction_when_little_is_found(client: FlaskClient) -> None:
    body = search(client, q="telescoep")
    assert body["did_you_mean"] == "telescope"


# --- sources -------------------------------------------------------------------------------------------


def test_sources_lists_every_source_largest_first(client: FlaskClient) -> None:
    response = client.get("/v1/sources")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["sources", "total"]
    assert body["total"] == 40
    assert sum(s["count"] for s in body["sources"]) == 40
    counts = [s["count"] for s in body["sources"]]
    assert counts == sorted(counts, reverse=True)
    assert {"name": "Eval Lab Notes", "count": 3, "newest": "2026-05-30T12:00:00Z"} in body["sources"]


def test_sources_over_a_query_count_its_matches(client: FlaskClient) -> None:
    body = client.get("/v1/sources", query_string={"q": "reinforcement"}).get_json()
    assert body["total"] == search(client, q="reinforcement")["total"]
    facets = search(client, q="reinforcement")["facets"]["source"]
    assert [(s["name"], s["count"]) for s in body["sources"]] == [(f["value"], f["count"]) for f in facets]


# --- item text is never markup -------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag + "/", attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", []))


def parse_html(fragment: str) -> _Tags:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser


XSS = {
    "id": "xss-1",
    "title": "Kalman <script>alert(1)</script> filters &lt;b&gt;bold&lt;/b&gt; <img src=x onerror=alert(2)> "
             "tracking &lt;script&gt;alert(5)&lt;/script&gt; 3 &lt; 4 &amp; 5 &gt; 2",
    "summary": "Kalman tracking &lt;script&gt;alert(3)&lt;/script&gt; and &lt;img src=x onerror=alert(4)&gt; "
               "with <img src=x onerror=alert(6)> kalman <b>bold</b> &amp;lt; kalman "
               "&lt;mark&gt;fake&lt;/mark&gt;",
    "source": "Evil <b>Feed</b>",
    "link": "https://evil.example.com/x",
}


def test_highlights_carry_no_markup_but_mark(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "ix", jsonl_items([XSS]))
    client = make_app(tmp_path / "ix").test_client()
    body = search(client, q="kalman tracking")
    hit = body["hits"][0]
    # The stored text really holds what a browser would run, so escaping is what stands in its way.
    assert "<script>" in hit["title"] and "<script>" in hit["snippet"] and "<img" in hit["snippet"]
    for field in ("title", "summary"):
        html = hit["highlights"][field]
        parsed = parse_html(html)
        assert parsed.tags, html
        assert {tag for tag, _ in parsed.tags} == {"mark", "/mark"}, html
        assert all(attrs == [] for _, attrs in parsed.tags)
        # Unescaped, the highlight is exactly the item's text: nothing was lost or added but the marks.
        plain = hit["title"] if field == "title" else hit["snippet"]
        assert "".join(parsed.text) == plain
    assert "<mark>fake</mark>" not in hit["highlights"]["summary"]
    assert "&amp;lt;" in hit["highlights"]["summary"]


def test_similar_and_browse_highlights_are_escaped_too(tmp_path: Path,
                                                       make_app: Callable[..., Flask]) -> None:
    twin = {**XSS, "id": "xss-2", "link": "https://evil.example.com/y"}
    build_index(tmp_path / "ix", jsonl_items([XSS, twin]))
    client = make_app(tmp_path / "ix").test_client()
    hits = search(client)["hits"] + client.get("/v1/items/xss-1/similar").get_json()["hits"]
    assert len(hits) == 3
    for hit in hits:
        for html in hit["highlights"].values():
            assert parse_html(html).tags == []


# --- POST /v1/search: the same search, for questions too long for a URL -------------------------------

GENERAL = "I have been reading about reinforcement learning for recommendation and what actually transfers. "
SPECIFIC = "What I need now is how telescopes decide which fields to observe when the weather is uncertain. "


def posted(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    answer: dict[str, Any] = response.get_json()
    return answer


def without_time(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "took_ms"}


@pytest.mark.parametrize("params", [
    {"q": "reinforcement learning"},
    {"q": "reinforcement learning", "source": ["Gradient Notes", "huggingface.co"], "since": "2025-01-01",
     "until": "2026-12-31", "sort": "newest", "match": "all", "page": 2, "per_page": 3},
    {"q": "learning NOT reinforcement", "per_page": 100},
    {"q": "telescop*", "sort": "oldest"},
    {},
])
def test_a_post_answers_exactly_as_the_get_of_the_same_fields(client: FlaskClient,
                                                               params: dict[str, Any]) -> None:
    assert without_time(posted(client, params)) == without_time(search(client, **params))


def test_a_2000_character_question_is_ranked_by_its_whole_text(client: FlaskClient) -> None:
    question = GENERAL * 11 + SPECIFIC * 10
    assert 2000 <= len(question) <= 2100
    hits = posted(client, {"q": question, "per_page": 5})["hits"]
    assert "Telescope" in hits[0]["title"]
    # What a GET can carry, the first 1,000 characters, is about something else.
    first = question[:1000].rsplit(" ", 1)[0]
    assert "Telescope" not in search(client, q=first, per_page=1)["hits"][0]["title"]


def test_a_question_over_10000_characters_is_a_400_problem(client: FlaskClient) -> None:
    body = assert_problem(client.post("/v1/search", json={"q": "x" * 10_001}), 400, "invalid-parameters",
                          param="q")
    assert "10000" in body["errors"]["q"][0]
    assert client.post("/v1/search", json={"q": "telescope " * 1000}).status_code == 200  # 10,000 exactly


def test_a_post_body_is_a_json_object_of_known_members(client: FlaskClient) -> None:
    body = assert_problem(client.post("/v1/search", json={"q": "x", "limit": 5}), 400, "invalid-parameters",
                          param="limit")
    assert "per_page" in body["errors"]["limit"][0]
    assert_problem(client.post("/v1/search", json=["q", "x"]), 400, "invalid-body")
    assert_problem(client.post("/v1/search", json={"q": 5}), 400, "invalid-parameters", param="q")
    assert_problem(client.post("/v1/search", json={"source": "Gradient Notes"}), 400, "invalid-parameters",
                   param="source")
    assert_problem(client.post("/v1/search", data="q=x", content_type="application/x-www-form-urlencoded"),
                   415, "unsupported-media-type")


def test_an_undated_item_is_placed_by_its_first_seen_date_which_its_hit_carries(
        tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path, jsonl_items([
        {"id": "dated", "title": "Heron nesting season", "published": "2020-04-01T00:00:00Z"},
        {"id": "undated", "title": "Heron feeding habits"},
    ]))
    client = make_app(tmp_path).test_client()
    today = datetime.now(UTC).date()
    hits = {h["id"]: h for h in search(client, q="heron")["hits"]}
    assert hits["dated"]["published"] == "2020-04-01T00:00:00Z"
    assert hits["undated"]["published"] is None
    seen = datetime.fromisoformat(hits["undated"]["first_seen"])
    assert seen.date() == today and hits["dated"]["first_seen"].startswith(today.isoformat())
    # What openapi.yaml documents: the undated item is placed by its first-seen date.
    assert all_ids(client, q="heron", since=today.isoformat()) == ["undated"]
    assert all_ids(client, q="heron", sort="newest") == ["undated", "dated"]
    months = search(client, q="heron")["facets"]["published"]
    assert {m["value"] for m in months} == {"2020-04", today.strftime("%Y-%m")}


@pytest.mark.parametrize("member", ["since", "until", "q", "sort", "page", "collapse"])
def test_a_post_member_given_as_null_is_refused(client: FlaskClient, member: str) -> None:
    assert_problem(client.post("/v1/search", json={member: None}), 400, "invalid-parameters", param=member)
