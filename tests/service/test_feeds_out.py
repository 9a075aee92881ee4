"""Tests for service/search_feeds_api.py: a search as Atom and JSON Feed, read back with feedparser."""

from __future__ import annotations

import time
from calendar import timegm
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import assert_problem, response_schema_pointer, validate_against
from tests.support.copies import write_inputs
from tests.support.indexes import build_index, items_from, jsonl_items

BASE = "http://localhost"


def read(client: FlaskClient, url: str) -> Any:
    """Return the Atom feed at ``url`` as feedparser reads it, failing on anything feedparser flags."""
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.get_data())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def read_json(client: FlaskClient, url: str) -> dict[str, Any]:
    """Return the JSON Feed at ``url``, checked against the JSON Feed 1.1 schema in openapi.yaml.

    feedparser 6.0 (the version the indexer pins) reads no JSON Feed; its 1.1 schema is checked instead.
    """
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/feed+json"
    body: dict[str, Any] = response.get_json(force=True)
    validate_against(response_schema_pointer("/v1/search.json", "GET", 200, "application/feed+json"), body)
    return body


def entries(client: FlaskClient, url: str) -> list[dict[str, Any]]:
    """Return (id, title, link, updated, published) of each entry of either feed, in feed order."""
    if ".atom" in url:
        return [{"id": e.id, "title": e.title, "link": e.link, "updated": stamp(e.updated_parsed),
                 "published": stamp(e.published_parsed) if "published_parsed" in e else None}
                for e in read(client, url).entries]
    return [{"id": i["id"], "title": i["title"], "link": i["url"], "updated": api_date(i["date_modified"]),
             "published": api_date(i["date_published"]) if "date_published" in i else None}
            for i in read_json(client, url)["items"]]


def stamp(struct: Any) -> datetime:
    return datetime.fromtimestamp(timegm(struct), UTC)


def api_date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("suffix", ["atom", "json"])
def test_feed_entries_match_the_search_newest_first(client: FlaskClient, suffix: str) -> None:
    query = "q=learning&source=Gradient+Notes&source=huggingface.co"
    found = entries(client, f"/v1/search.{suffix}?{query}")
    api = client.get(f"/v1/search?{query}&sort=newest&per_page=20").get_json()
    assert [e["id"] for e in found] == [f"{BASE}/items/{hit['id']}" for hit in api["hits"]]
    assert [e["title"] for e in found] == [hit["title"] for hit in api["hits"]]
    assert [e["link"] for e in found] == [hit["link"] or f"{BASE}/items/{hit['id']}" for hit in api["hits"]]


def test_atom_feed_title_and_links(client: FlaskClient) -> None:
    url = "/v1/search.atom?q=learning&source=Gradient+Notes&source=huggingface.co"
    feed = read(client, url).feed
    assert feed.title == "feedsift: learning (from Gradient Notes, huggingface.co)"
    assert [link.href for link in feed.links if link.rel == "self"] == [BASE + url]
    assert [link.href for link in feed.links if link.rel == "alternate"] == [
        f"{BASE}/?q=learning&source=Gradient+Notes&source=huggingface.co"]


def test_json_feed_title_and_links(client: FlaskClient) -> None:
    url = "/v1/search.json?q=learning&source=Gradient+Notes"
    body = read_json(client, url)
    assert body["title"] == "feedsift: learning (from Gradient Notes)"
    assert body["feed_url"] == BASE + url
    assert body["home_page_url"] == f"{BASE}/?q=learning&source=Gradient+Notes"


@pytest.mark.parametrize("suffix", ["atom", "json"])
def test_dates_are_the_items_and_the_feed_is_as_new_as_its_newest_entry(client: FlaskClient,
                                                                         suffix: str) -> None:
    found = entries(client, f"/v1/search.{suffix}?q=learning")
    api = client.get("/v1/search?q=learning&sort=newest&per_page=20").get_json()
    updated = [e["updated"] for e in found]
    assert updated == sorted(updated, reverse=True)
    for entry, hit in zip(found, api["hits"], strict=True):
        if hit["published"] is not None:
            assert entry["updated"] == entry["published"] == api_date(hit["published"])
    response = client.get(f"/v1/search.{suffix}?q=learning")
    assert response.last_modified is not None and response.last_modified >= updated[0]
    if suffix == "atom":
        assert stamp(read(client, "/v1/search.atom?q=learning").feed.updated_parsed) == updated[0]


@pytest.mark.parametrize("suffix", ["atom", "json"])
def test_undated_items_are_dated_when_first_seen(client: FlaskClient, suffix: str) -> None:
    api = client.get("/v1/search?sort=newest&per_page=100").get_json()
    undated = [hit for hit in api["hits"] if hit["published"] is None]
    assert undated, "the samples have undated digest items"
    by_id = {e["id"]: e for e in entries(client, f"/v1/search.{suffix}?per_page=100")}
    for hit in undated:
        entry = by_id[f"{BASE}/items/{hit['id']}"]
        assert entry["published"] is None
        assert datetime(2020, 1, 1, tzinfo=UTC) < entry["updated"] <= datetime.now(UTC)


def test_content_is_the_plain_text_summary_escaped(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    summary = "Wombats dig <burrows> & \"tunnels\" ]]> quickly; 5 < 6."
    build_index(tmp_path / "index", jsonl_items([{
        "id": "wombat-1", "title": "Wombat &lt;engineering&gt; &amp; co",
        "summary": summary.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), "link": "https://example.org/wombat",
        "source": "Marsupial <News>", "published": "2026-03-01T00:00:00Z", "authors": ["Ann & Bo Digger"]}]))
    client = make_app(tmp_path / "index").test_client()
    atom = read(client, "/v1/search.atom?q=wombat")
    json_feed = read_json(client, "/v1/search.json?q=wombat")
    item = client.get("/v1/items/wombat-1").get_json()
    assert item["summary"] == summary
    assert atom.entries[0].summary == summary
    assert atom.entries[0].title == "Wombat <engineering> & co"
    assert atom.entries[0].author == "Ann & Bo Digger"
    assert json_feed["items"][0]["content_text"] == summary
    assert json_feed["items"][0]["authors"] == [{"name": "Ann & Bo Digger"}]
    assert b"<burrows>" not in client.get("/v1/search.atom?q=wombat").get_data()


def test_paging_and_per_page(client: FlaskClient) -> None:
    first = entries(client, "/v1/search.atom?per_page=3")
    second = entries(client, "/v1/search.atom?per_page=3&page=2")
    api = client.get("/v1/search?sort=newest&per_page=6").get_json()
    assert [e["id"] for e in first + second] == [f"{BASE}/items/{h['id']}" for h in api["hits"]]
    assert len(entries(client, "/v1/search.json")) == min(20, api["total"])


def test_an_empty_result_is_a_valid_feed(client: FlaskClient) -> None:
    feed = read(client, "/v1/search.atom?q=zzyzxnothing")
    assert feed.entries == [] and feed.feed.updated_parsed
    assert read_json(client, "/v1/search.json?q=zzyzxnothing")["items"] == []


def test_an_item_indexed_late_with_an_old_date_changes_the_feed(
        built_index: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(built_index, reopen_interval=0).test_client()
    first = client.get("/v1/search.atom?q=learning")
    old = jsonl_items([{"id": "late-1", "title": "Learning late", "summary": "Backfilled.",
                        "link": "https://example.org/late", "source": "Late Feed",
                        "published": "2001-01-01T00:00:00Z"}])
    time.sleep(1.1)  # Last-Modified has whole seconds
    build_index(built_index, old)
    again = client.get("/v1/search.atom?q=learning&per_page=100",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 200
    assert b"late-1" in again.get_data()


def test_readers_can_ask_if_modified(client: FlaskClient) -> None:
    first = client.get("/v1/search.atom?q=learning")
    assert first.headers["Last-Modified"] and first.headers["ETag"]
    assert client.get("/v1/search.atom?q=learning",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get("/v1/search.atom?q=learning",
                      headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304


@pytest.mark.parametrize("suffix", ["atom", "json"])
def test_bad_parameters_are_problems(client: FlaskClient, suffix: str) -> None:
    assert_problem(client.get(f"/v1/search.{suffix}?q=%22open"), 400, "invalid-query", param="q")
    assert_problem(client.get(f"/v1/search.{suffix}?per_page=500"), 400, "invalid-parameters",
                   param="per_page")


def test_a_missing_index_is_a_503_problem(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(tmp_path / "missing").test_client()
    for suffix in ("atom", "json"):
        assert_problem(client.get(f"/v1/search.{suffix}"), 503, "index-unavailable")


def test_a_work_is_one_entry_unless_every_copy_is_asked_for(tmp_path: Path,
                                                           make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", items_from(write_inputs(tmp_path / "inputs").paths))
    client = make_app(tmp_path / "index").test_client()
    # Only the lab post and its repost say "lied"; the feed shows the newest copy, the repost.
    assert [e.link for e in read(client, "/v1/search.atom?q=lied").entries] == [
        "https://medium.com/@lab/why-our-evaluation-numbers-lied-3f2a"]
    assert len(read_json(client, "/v1/search.json?q=lied&collapse=false")["items"]) == 2
