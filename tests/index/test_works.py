"""Work keys and the long-title rule (index/ingest/works.py), and the work the writer stores per item."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.ingest.works import Titled, WorkTitles, tie, title_key, work_key
from index.search.whoosh.store import IndexStore
from tests.support.indexes import build_index, jsonl_items

DAY = 86_400


@pytest.mark.parametrize(("link", "guid", "key"), [
    ("https://arxiv.org/abs/2401.01234", None, "arxiv:2401.01234"),
    ("https://arxiv.org/abs/2401.01234v3", None, "arxiv:2401.01234"),
    ("http://export.arxiv.org/abs/2401.01234v2", None, "arxiv:2401.01234"),
    ("https://arxiv.org/pdf/2401.01234v2", None, "arxiv:2401.01234"),
    ("https://arxiv.org/pdf/2401.01234v2.pdf", None, "arxiv:2401.01234"),
    ("https://arxiv.org/pdf/2401.01234.pdf", None, "arxiv:2401.01234"),
    ("https://www.arxiv.org/abs/2401.01234", None, "arxiv:2401.01234"),
    ("https://huggingface.co/papers/2401.01234", None, "arxiv:2401.01234"),
    ("https://www.alphaxiv.org/abs/2401.01234v1", None, "arxiv:2401.01234"),
    ("https://blog.example.org/p/1", "oai:arXiv.org:2401.01234v2", "arxiv:2401.01234"),
    ("https://doi.org/10.48550/arXiv.2401.01234", None, "arxiv:2401.01234"),
    ("https://mentions.example.org/1", "doi:10.48550/ARXIV.2401.01234", "arxiv:2401.01234"),
    ("https://arxiv.org/abs/hep-th/9901001v1", None, "arxiv:hep-th/9901001"),
    ("https://arxiv.org/abs/MATH.gt/0309136", None, "arxiv:math.GT/0309136"),
    ("https://arxiv.org/abs/1501.0123", None, "arxiv:1501.0123"),
    ("https://doi.org/10.1038/NATURE14539", None, "doi:10.1038/nature14539"),
    ("https://dx.doi.org/10.1038/nature14539", None, "doi:10.1038/nature14539"),
    ("https://journal.example.org/a/9", "https://doi.org/10.1038/Nature14539", "doi:10.1038/nature14539"),
    ("https://journal.example.org/article/9", "10.1038/nature14539", "doi:10.1038/nature14539"),
    ("https://www.blog.example.org/posts/a/", None, "link://blog.example.org/posts/a"),
    ("http://blog.example.org/posts/a", None, "link://blog.example.org/posts/a"),
    ("https://blog.example.org/posts/a?id=3", None, "link://blog.example.org/posts/a?id=3"),
    # A home page names a site, not a work: feeds that link every item to it must not make one work.
    ("https://blog.example.org/", None, ""),
    ("", None, ""),
    # Not arXiv ids: a listing page, another site's /abs/ path.
    ("https://arxiv.org/list/cs.IR/new", None, "link://arxiv.org/list/cs.IR/new"),
    ("https://other.example.org/abs/2401.01234", None, "link://other.example.org/abs/2401.01234"),
    ("https://doi.org/not-a-doi", None, "link://doi.org/not-a-doi"),
])
def test_work_key(link: str, guid: str | None, key: str) -> None:
    assert work_key(link, guid) == key


def test_title_key_folds_case_punctuation_and_spacing() -> None:
    assert title_key("Why Our  Evaluation Numbers Lied to Us!") == "why our evaluation numbers lied to us"
    assert title_key("why our evaluation numbers—lied to us.") == "why our evaluation numbers lied to us"
    assert title_key("ＷＨＹ our evaluation numbers lied to us") == "why our evaluation numbers lied to us"


@pytest.mark.parametrize("title", ["Weekly notes", "Release notes for version 2.1", "This week in AI: #12"])
def test_short_titles_tie_nothing(title: str) -> None:
    assert title_key(title) == ""


def test_tie_needs_another_source_and_the_window() -> None:
    post = Titled(id="a", source="Lab", date=10 * DAY, work="link://lab/a")
    assert tie(Titled("b", "Medium", 12 * DAY, "link://medium/b"), [post]) == "link://lab/a"
    assert tie(Titled("b", "Medium", 40 * DAY, "link://medium/b"), [post]) == "link://lab/a"
    assert tie(Titled("b", "Medium", 41 * DAY, "link://medium/b"), [post]) is None
    assert tie(Titled("b", "Lab", 12 * DAY, "link://lab/b"), [post]) is None
    assert tie(Titled("a", "Medium", 12 * DAY, "link://lab/a"), [post]) is None


def test_tie_prefers_a_strong_key_then_the_earliest_copy() -> None:
    known = [Titled("x", "A", 5 * DAY, "link://a/x"), Titled("y", "B", 6 * DAY, "arxiv:2401.01234"),
             Titled("z", "C", 4 * DAY, "link://c/z")]
    assert tie(Titled("n", "D", 6 * DAY, "link://d/n"), known) == "arxiv:2401.01234"
    assert tie(Titled("n", "D", 6 * DAY, "link://d/n"), [known[0], known[2]]) == "link://c/z"


def test_resolve_keeps_strong_keys_and_ties_within_one_write() -> None:
    works = WorkTitles()
    title = "Why Our Evaluation Numbers Lied to Us"
    assert works.resolve(item_id="1", source="Lab", title=title, key="link://lab/1", date=DAY) == "link://lab/1"
    assert works.resolve(item_id="2", source="Medium", title=title + "!", key="link://m/2", date=2 * DAY) == (
        "link://lab/1")
    # A key that names the work is never given up for a title.
    assert works.resolve(item_id="3", source="arXiv", title=title, key="arxiv:2401.01234", date=DAY) == (
        "arxiv:2401.01234")
    assert works.resolve(item_id="4", source="X", title="Short title", key="", date=DAY) == "item:4"


def test_writer_stores_the_resolved_work(tmp_path: Path) -> None:
    title = "Why Our Evaluation Numbers Lied to Us"
    build_index(tmp_path, jsonl_items([
        {"id": "post", "title": title, "link": "https://lab.example.org/p", "source": "Lab",
         "published": "2026-01-02T00:00:00Z"},
        {"id": "same-source", "title": title, "link": "https://lab.example.org/q", "source": "Lab",
         "published": "2026-01-03T00:00:00Z"},
        {"id": "weekly-a", "title": "Weekly notes", "link": "https://a.example.org/w", "source": "A",
         "published": "2026-01-03T00:00:00Z"},
    ]))
    # A later write finds the earlier items by their title key.
    build_index(tmp_path, jsonl_items([
        {"id": "repost", "title": title.upper(), "link": "https://medium.com/@lab/p", "source": "Medium",
         "published": "2026-01-05T00:00:00Z"},
        {"id": "late", "title": title, "link": "https://late.example.org/p", "source": "Late",
         "published": "2026-03-05T00:00:00Z"},
        {"id": "weekly-b", "title": "Weekly notes", "link": "https://b.example.org/w", "source": "B",
         "published": "2026-01-03T00:00:00Z"},
    ]))
    ix = IndexStore(tmp_path).open()
    with ix.searcher() as searcher:
        work = {doc["id"]: doc["work"] for doc in searcher.all_stored_fields()}
    ix.close()
    assert work["repost"] == work["post"] == "link://lab.example.org/p"
    assert work["same-source"] == "link://lab.example.org/q"
    assert work["late"] == "link://late.example.org/p"
    assert work["weekly-a"] != work["weekly-b"]
