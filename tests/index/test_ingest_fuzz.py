"""Hostile and random inputs through index/ingest/load.py's parse_body: each is an InputError or a safe parse.

A safe parse yields well-typed items and nothing more: no entity expanded beyond one character, no
file read, no URL fetched, bounded time and memory. The list of bad inputs is in notes/hardening.md.
"""

from __future__ import annotations

import resource
import time
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.errors import InputError
from index.ingest.digest import parse_digest
from index.ingest.feed import parse_feed
from index.ingest.jsonl import parse_jsonl
from index.ingest.load import parse_body
from index.model import FeedItem, ParsedInput
from tests.support.feedserver import FeedServer, serve
from tests.support.paths import FEEDS

MARKER = "TOPSECRET-7f3a9c"
# Each hostile document must be handled within this many seconds and grow the peak RSS by less than this.
# Generous for a loaded machine: the entity expansion this guards against took 342 s and 12 GB.
SECONDS = 10.0
PEAK_GROWTH_BYTES = 200 * 1024 * 1024

# Derandomized and without an example database, so a run is the same everywhere and writes nothing.
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ_FEW = settings(FUZZ, max_examples=40)
# Real feeds are cut to their first part so each example parses in milliseconds.
HEAD = 24_000


@cache
def feed_head(path: Path) -> bytes:
    return path.read_bytes()[:HEAD]


@cache
def item_count(body: bytes) -> int:
    try:
        return len(parse_feed(body).items)
    except InputError:
        return 0


def _check_items(parsed: ParsedInput) -> None:
    for item in parsed.items:
        assert isinstance(item, FeedItem)
        for text in (item.id, item.title, item.link, item.summary, item.source):
            assert isinstance(text, str)
            assert MARKER not in text
        assert all(isinstance(a, str) for a in item.authors)
        assert all(isinstance(t, str) for t in item.tags)


def parse_or_refuse(body: bytes, **kwargs: str) -> ParsedInput | InputError:
    """Parse ``body`` as `feedsift add` would; return the result or the InputError, let anything else fail."""
    try:
        parsed = parse_body(body, **kwargs)
    except InputError as exc:
        assert str(exc)
        assert MARKER not in str(exc)
        return exc
    _check_items(parsed)
    return parsed


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# -- random bytes and text ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_parsed_or_refused(body: bytes) -> None:
    parse_or_refuse(body)


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_after_an_angle_bracket_go_through_feedparser_safely(tail: bytes) -> None:
    parse_or_refuse(b"<" + tail)


@FUZZ_FEW
@given(st.sampled_from(FEEDS), st.floats(min_value=0.0, max_value=1.0))
def test_real_feeds_cut_anywhere_keep_what_came_before_or_are_refused(path: Path, fraction: float) -> None:
    whole = feed_head(path)
    cut = whole[: int(len(whole) * fraction)]
    outcome = parse_or_refuse(cut)
    if isinstance(outcome, ParsedInput):
        # A cut document may give fewer items (or one more, a half item), never many more.
        assert len(outcome.items) <= item_count(whole) + 1


@FUZZ_FEW
@given(st.sampled_from(FEEDS), st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252",
                                                "shift_jis", "utf-7", "cp037"]),
       st.booleans())
def test_real_feeds_in_other_or_wrongly_declared_encodings(path: Path, encoding: str,
                                                           keep_utf8_declaration: bool) -> None:
    text = feed_head(path).decode("utf-8", errors="ignore")
    if not keep_utf8_declaration:
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding}"').replace(
            'encoding="utf-8"', f'encoding="{encoding}"')
    body = text.encode(encoding, errors="replace")
    parse_or_refuse(body)


@FUZZ_FEW
@given(st.sampled_from(FEEDS), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=20))
def test_real_feeds_with_flipped_bytes(path: Path, flips: list[tuple[float, int]]) -> None:
    body = bytearray(feed_head(path))
    for where, value in flips:
        body[int(where * (len(body) - 1))] = value
    parse_or_refuse(bytes(body))


@FUZZ
@given(st.lists(st.text(max_size=200), max_size=30))
def test_jsonl_arbitrary_lines_give_items_or_numbered_errors(lines: list[str]) -> None:
    text = "\n".join(lines)
    parsed = parse_jsonl(text)
    _check_items(parsed)
    # Every non-blank line is an item or a numbered error, never silently dropped.
    assert len(parsed.items) + len(parsed.errors) == sum(1 for line in text.split("\n") if line.strip())
    assert all(e.startswith("line ") for e in parsed.errors)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
record_keys = st.sampled_from(["title", "summary", "link", "id", "source", "published", "authors", "tags",
                               "guid", "other"])


@FUZZ_FEW
@given(st.lists(st.dictionaries(record_keys, json_values, max_size=8), max_size=10))
def test_jsonl_records_with_arbitrary_field_values(records: list[dict[str, object]]) -> None:
    import json

    parsed = parse_jsonl("\n".join(json.dumps(r) for r in records))
    _check_items(parsed)
    assert len(parsed.items) + len(parsed.errors) == len(records)


digest_lines = st.one_of(
    st.text(max_size=80),
    st.builds(lambda t: "### Title: " + t, st.text(max_size=60)),
    st.builds(lambda t: "Link: " + t, st.text(max_size=60)),
    st.builds(lambda t: "Summary: " + t, st.text(max_size=80)),
    st.just(" - "),
    st.just(""),
)


@FUZZ
@given(st.lists(digest_lines, max_size=40))
def test_digest_arbitrary_blocks(lines: list[str]) -> None:
    text = "\n".join(lines)
    items = list(parse_digest(text))
    _check_items(ParsedInput(items=items))
    assert len(items) <= text.count("###")
    parse_or_refuse(text.encode("utf-8"), name="digest.txt")


# -- hostile documents ---------------------------------------------------------------------------------


def rss(prolog: str, title: str, description: str = "d") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n'
        f'<rss version="2.0"><channel><title>T</title><link>http://example.org/</link>'
        f"<item><title>{title}</title><link>http://example.org/1</link>"
        f"<description>{description}</description></item></channel></rss>\n"
    ).encode()


def billion_laughs(quote: str = '"', sep: str = "\n") -> str:
    lines = [f"<!ENTITY lol {quote}lol{quote}>"]
    for level in range(1, 10):
        ref = "&lol;" if level == 1 else f"&lol{level - 1};"
        lines.append(f"<!ENTITY lol{level} {quote}{ref * 10}{quote}>")
    return "<!DOCTYPE lolz [" + sep + sep.join(lines) + sep + "]>"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A local file whose contents must never reach an item: a marker, as a feed and as a DTD."""
    (tmp_path / "secret.txt").write_text(MARKER)
    (tmp_path / "secret.dtd").write_text(f'<!ENTITY leak "{MARKER}">')
    (tmp_path / "secret.rss").write_text(
        f'<rss version="2.0"><channel><title>S</title><item><title>{MARKER}</title>'
        f"<link>http://example.org/s</link></item></channel></rss>"
    )
    return tmp_path


def hostile_documents(secret: Path) -> dict[str, bytes]:
    """Every hostile document by name (also the list in notes/hardening.md)."""
    txt, dtd = secret / "secret.txt", secret / "secret.dtd"
    big = "A" * 50_000
    return {
        "billion laughs": rss(billion_laughs(), "&lol9;"),
        "billion laughs, single quotes": rss(billion_laughs("'"), "&lol9;"),
        "billion laughs, declarations on one line": rss(billion_laughs(sep=""), "&lol9;"),
        "billion laughs in an Atom feed": billion_laughs().encode() + (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>&lol9;</title>'
            b"<id>urn:x</id><link href='http://example.org/a'/></entry></feed>"),
        "billion laughs in UTF-16": rss(billion_laughs(), "&lol9;").decode().replace(
            'encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"),
        "quadratic blow-up (50 kB entity x 50,000)":
            rss(f'<!DOCTYPE r [\n<!ENTITY a "{big}">\n]>', "&a;" * 50_000),
        "quadratic blow-up hidden after a comment with a tag":
            rss(f'<!DOCTYPE r [\n<!-- <x> -->\n<!ENTITY a "{big}">\n]>', "&a;" * 50_000),
        "parameter-entity expansion": rss(
            '<!DOCTYPE r [\n<!ENTITY % a "<!ENTITY b \'' + "B" * 1000 + '\'>">\n%a;\n]>', "&b;" * 10_000),
        "parameter-entity expansion hidden after a comment with a tag": rss(
            '<!DOCTYPE r [\n<!-- <x> -->\n<!ENTITY % a "<!ENTITY b \'' + "B" * 1000 + '\'>">\n%a;\n]>',
            "&b;" * 10_000),
        "XXE, file:// system entity":
            rss(f'<!DOCTYPE r [\n<!ENTITY x SYSTEM "file://{txt}">\n]>', "&x;", "&x;"),
        "XXE, bare path system entity": rss(f'<!DOCTYPE r [\n<!ENTITY x SYSTEM "{txt}">\n]>', "&x;"),
        "XXE, public entity": rss(f'<!DOCTYPE r [\n<!ENTITY x PUBLIC "-//X//EN" "file://{txt}">\n]>', "&x;"),
        "XXE, one-line DOCTYPE": rss(f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{txt}">]>', "&x;"),
        "XXE, parameter entity":
            rss(f'<!DOCTYPE r [\n<!ENTITY % p SYSTEM "file://{dtd}">\n%p;\n]>', "&leak;"),
        "external DTD (SYSTEM) defining an entity": rss(f'<!DOCTYPE rss SYSTEM "file://{dtd}">', "&leak;"),
        "external DTD (PUBLIC) defining an entity": rss(
            f'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "file://{dtd}">', "&leak;"),
        "XInclude of a local file": rss("", f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                            f'href="file://{txt}" parse="text"/>'),
        "body that is a local path to a feed": str(secret / "secret.rss").encode(),
        "body that is a file:// URL": f"file://{secret / 'secret.rss'}".encode(),
        # feedparser spends ~30 us per element, in proportion: these are sized to the time bound.
        "deeply nested elements (50,000)": rss("", "deep", "<div>" * 50_000 + "x" + "</div>" * 50_000),
        "deeply nested, never closed (50,000)": rss("", "open", "<a>" * 50_000),
        "enormous title (8 MB)": rss("", "T" * 8_000_000),
        "enormous attribute (4 MB)": rss("", "attr", f'<a href="{"h" * 4_000_000}">x</a>'),
        "10,000 items": (
            '<rss version="2.0"><channel><title>T</title>'
            + "".join(f"<item><title>i{n}</title><link>http://example.org/{n}</link></item>"
                      for n in range(10_000))
            + "</channel></rss>").encode(),
        "CDATA that never ends": rss("", "<![CDATA[" + "c" * 100_000),
        "NUL bytes and invalid UTF-8": b"<rss>\x00\xff\xfe\xc3\x28<channel>\x00" * 1000,
    }


def test_every_hostile_document_is_refused_or_parsed_safely_in_bounded_time_and_memory(secret: Path) -> None:
    outcomes: dict[str, str] = {}
    for name, body in hostile_documents(secret).items():
        before = _peak_rss()
        started = time.monotonic()
        outcome = parse_or_refuse(body)
        elapsed = time.monotonic() - started
        assert elapsed < SECONDS, f"{name}: {elapsed:.1f} s"
        assert _peak_rss() - before < PEAK_GROWTH_BYTES, name
        if isinstance(outcome, ParsedInput):
            longest = max((len(i.title) + len(i.summary) for i in outcome.items), default=0)
            # Nothing expanded: no item holds more text than the document itself.
            assert longest <= len(body), name
            outcomes[name] = f"{len(outcome.items)} items"
        else:
            outcomes[name] = "refused"
    # The entity bombs must be refused outright, not left to feedparser's limits.
    for name in ("billion laughs", "billion laughs in an Atom feed", "billion laughs in UTF-16",
                 "quadratic blow-up (50 kB entity x 50,000)",
                 "quadratic blow-up hidden after a comment with a tag",
                 "parameter-entity expansion hidden after a comment with a tag"):
        assert outcomes[name] == "refused", (name, outcomes[name])


def test_entity_bomb_refusal_names_the_entity() -> None:
    with pytest.raises(InputError, match="declares the text entity 'lol'"):
        parse_body(rss(billion_laughs(), "&lol9;"))


def test_single_character_entities_still_work() -> None:
    body = rss('<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n<!ENTITY mdash "&#x2014;">\n]>', "a&nbsp;b&mdash;c")
    # The no-break space becomes a plain one when titles are whitespace-collapsed.
    assert [i.title for i in parse_body(body).items] == ["a b\u2014c"]


def test_a_body_naming_a_local_file_is_never_opened(secret: Path) -> None:
    # feedparser.parse(bytes) opens the bytes as a path when such a file exists.
    for body in (str(secret / "secret.rss").encode(), b"/dev/null"):
        outcome = parse_or_refuse(body)
        assert isinstance(outcome, InputError)


def test_an_external_dtd_or_entity_over_http_is_never_fetched(feed_server: FeedServer) -> None:
    evil_dtd = f'<!ENTITY leak "{MARKER}">'.encode()
    feed_server.route("/evil.dtd", serve(evil_dtd, content_type="application/xml-dtd"))
    feed_server.route("/secret", serve(MARKER.encode(), content_type="text/plain"))
    dtd, secret_url = feed_server.url("/evil.dtd"), feed_server.url("/secret")
    for body in (
        rss(f'<!DOCTYPE rss SYSTEM "{dtd}">', "&leak;"),
        rss(f'<!DOCTYPE rss PUBLIC "-//X//EN" "{dtd}">', "t"),
        rss(f'<!DOCTYPE r [\n<!ENTITY % p SYSTEM "{dtd}">\n%p;\n]>', "&leak;"),
        rss(f'<!DOCTYPE r [\n<!ENTITY x SYSTEM "{secret_url}">\n]>', "&x;"),
        secret_url.encode(),
    ):
        parse_or_refuse(body)
    assert feed_server.requests == []


def test_the_utf7_ebcdic_and_utf32_spellings_of_an_entity_bomb_are_refused_too() -> None:
    doc = rss(billion_laughs(), "&lol9;").decode()
    for encoding in ("utf-7", "cp037", "utf-32"):
        body = doc.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
        with pytest.raises(InputError, match="declares the text entity 'lol'"):
            parse_body(body)
