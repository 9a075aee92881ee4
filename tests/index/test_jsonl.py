"""Tests for index/ingest/jsonl.py: good lines go in, bad lines are reported by number and skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from index.ingest.jsonl import parse_jsonl
from tests.support.paths import SAMPLES


def test_sample_jsonl() -> None:
    parsed = parse_jsonl((SAMPLES / "extra.jsonl").read_text("utf-8"))
    assert len(parsed.items) == 6 and not parsed.errors


def test_fields_ids_and_defaults() -> None:
    text = "\n".join([
        '{"title": "T1", "summary": "<p>S</p>", "link": "https://www.a.example/1", "id": "doc-1",'
        ' "published": "2026-02-03T04:05:06+02:00", "authors": ["A", "B"], "tags": "one"}',
        '{"title": "T2", "link": "https://b.example/2", "source": "Custom"}',
        '{"title": "T3", "id": 42}',
    ])
    items = parse_jsonl(text).items
    assert [i.id for i in items][0] == "doc-1"
    assert items[0].summary == "S" and items[0].source == "a.example"
    assert items[0].published == datetime(2026, 2, 3, 2, 5, 6, tzinfo=UTC)
    assert items[0].authors == ("A", "B") and items[0].tags == ("one",)
    assert items[1].source == "Custom" and items[1].summary == ""
    assert items[2].id == "42" and items[2].source == "unknown"


def test_bad_lines_are_reported_with_their_number_and_skipped() -> None:
    text = "\n".join([
        '{"title": "good one", "link": "https://a.example/1"}',
        "{not json",
        '{"summary": "no title"}',
        "[1, 2]",
        '{"title": "bad id", "id": "a/b"}',
        '{"title": "bad date", "published": "yesterday"}',
        "",
        '{"title": "good two", "link": "https://a.example/2"}',
    ])
    parsed = parse_jsonl(text)
    assert [i.title for i in parsed.items] == ["good one", "good two"]
    assert [e.split(":")[0] for e in parsed.errors] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "not valid JSON" in parsed.errors[0]
    assert "title" in parsed.errors[1]


def test_source_override_applies_to_every_line() -> None:
    parsed = parse_jsonl('{"title": "x", "source": "A"}\n{"title": "y"}', source="Forced")
    assert {i.source for i in parsed.items} == {"Forced"}


def test_lines_end_only_at_newlines() -> None:
    # JSON allows U+2028 and U+0085 unescaped in strings; str.splitlines() would cut such a record in two.
    text = '{"title": "One\u2028two\u0085three"}\r\n{"title": "Four"}\n'
    parsed = parse_jsonl(text)
    assert not parsed.errors
    assert [item.title for item in parsed.items] == ["One two three", "Four"]


def test_title_of_markup_alone_is_reported() -> None:
    parsed = parse_jsonl('{"title": "<svg onload=alert(1)></svg>", "summary": "x"}\n{"title": "ok"}')
    assert [i.title for i in parsed.items] == ["ok"]
    assert parsed.errors == ["line 1: 'title' has no text once its HTML is removed"]


def test_unknown_keys_are_reported_once_per_input_and_the_items_kept() -> None:
    parsed = parse_jsonl("\n".join([
        json.dumps({"title": "One", "url": "https://x.example/1", "tag": "a"}),
        json.dumps({"title": "Two", "url": "https://x.example/2"}),
        json.dumps({"title": "Three", "body": "text"}),
    ]))
    assert [i.title for i in parsed.items] == ["One", "Two", "Three"]
    assert not parsed.errors
    assert len(parsed.warnings) == 1
    warning = parsed.warnings[0]
    assert warning.startswith("ignored keys that are not item fields: ")
    assert "'url' (line 1)" in warning and "'tag' (line 1)" in warning and "'body' (line 3)" in warning
    assert warning.count("'url'") == 1
    assert warning.endswith("the fields are authors, guid, id, link, published, source, summary, tags, title")


def test_documented_keys_give_no_warning() -> None:
    record = {"id": "k-1", "guid": "g", "title": "T", "summary": "S", "link": "https://x.example/",
              "source": "S", "published": "2026-01-01", "authors": ["A"], "tags": ["t"]}
    assert parse_jsonl(json.dumps(record)).warnings == []


def test_comma_separated_tags_are_split() -> None:
    lines = [{"title": "A", "tags": "x,y"}, {"title": "B", "tags": " ml , nlp ,, "},
             {"title": "C", "tags": ["x,y", "z"]}, {"title": "D", "tags": "single"}]
    parsed = parse_jsonl("\n".join(json.dumps(r) for r in lines))
    assert [list(i.tags) for i in parsed.items] == [["x", "y"], ["ml", "nlp"], ["x", "y", "z"], ["single"]]
