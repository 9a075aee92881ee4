"""Tests for index/ingest/digest.py on the real digest file and on the format's edge cases."""

from __future__ import annotations

from index.ingest.digest import looks_like_digest, parse_digest
from tests.support.paths import DIGEST as REAL


def test_real_digest_gives_exactly_its_18_items() -> None:
    text = REAL.read_text("utf-8")
    items = list(parse_digest(text))
    assert len(items) == 18
    assert len({i.id for i in items}) == 18
    assert text.count("### Title:") == 18


def test_wrapped_titles_are_joined_not_cut() -> None:
    items = {i.link: i for i in parse_digest(REAL.read_text("utf-8"))}
    lang = items["https://huggingface.co/papers/2507.02813"]
    assert lang.title == ("LangScene-X: Reconstruct Generalizable 3D Language-Embedded Scenes with "
                          "TriMap Video Diffusion")
    thinking = items["https://huggingface.co/papers/2506.23918"]
    assert thinking.title.endswith("Foundations, Methods, and Future Frontiers")
    # No title swallowed its Link: line, and no summary begins with a title continuation.
    for item in items.values():
        assert "Link:" not in item.title
        assert not item.summary.startswith("TriMap")


def test_summaries_are_whole_and_do_not_run_into_the_next_item() -> None:
    items = list(parse_digest(REAL.read_text("utf-8")))
    first = items[0]
    assert first.source == "towardsdatascience.com"
    assert first.summary.startswith("What it really takes to become a machine learning engineer")
    assert first.summary.endswith("appeared first on Towards Data Science.")
    assert "<p>" not in first.summary
    websailor = items[1]
    assert websailor.summary.endswith("closing the capability gap.")
    for item in items:
        assert "### Title" not in item.summary
        assert "Summary:" not in item.summary
        assert item.source in {"huggingface.co", "towardsdatascience.com"}


def test_multiline_summary_and_separators() -> None:
    text = """ - 
### Title: First item that wraps onto
  a second line
Link: https://www.example.org/a
Summary: Line one of the summary
continues here.

And a second paragraph.
 - 
 - 
### Title: Second
Link: https://example.org/b
Summary: <p>Only <em>this</em></p>
"""  # noqa: W291 - the separator lines are " - " with a trailing space, as in real digests
    items = list(parse_digest(text))
    assert [i.title for i in items] == ["First item that wraps onto a second line", "Second"]
    assert items[0].summary == "Line one of the summary continues here. And a second paragraph."
    assert items[1].summary == "Only this"
    assert items[0].source == "example.org"
    assert looks_like_digest(text)


def test_source_override() -> None:
    items = list(parse_digest("### Title: A\nLink: https://x.example/1\nSummary: s\n", source="My Digest"))
    assert items[0].source == "My Digest"
