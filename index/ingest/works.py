"""What makes items copies of one work: the work key of a link or guid, and the long-title rule.

A work key is, in order of trust: an arXiv id (any of the forms arXiv, its mirrors and paper sites link
with; the version dropped, since a v2 is the same work), a DOI (lower-cased: DOIs are case-insensitive),
else the item's link with the differences that do not change the page folded away (a home page
names no work). Items that a key does not tie may still be one work by title: the same normalised
title of at least ``MIN_TITLE_WORDS`` words (numbers not counted), in items of different sources
dated within ``TITLE_WINDOW`` of each other (a post reposted on another site). A short title
("Weekly notes", "Release notes for 2.1") is shared by unrelated items too often to mean anything,
so it never ties items; nor does a title within one source, where a repeated title is a series.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote, urlsplit

MIN_TITLE_WORDS = 6
TITLE_WINDOW = timedelta(days=30)
# Keys that name the work itself; a link names only one copy of it, so only a link key gives way to a title.
STRONG_PREFIXES = ("arxiv:", "doi:")

# arXiv ids: ``2401.01234`` (since 2007, four or five digits after the dot) and ``hep-th/9901001`` or
# ``math.GT/0309136`` before; either may carry a version ``v2``.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7}"
_ARXIV_ID = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?"
_ARXIV_HOSTS = frozenset({"arxiv.org", "export.arxiv.org", "alphaxiv.org"})
_ARXIV_PATH = re.compile(rf"^/(?:abs|pdf|html|overview)/{_ARXIV_ID}(?:\.pdf)?/?$", re.IGNORECASE)
_HF_PATH = re.compile(rf"^/papers/{_ARXIV_ID}/?$")
_ARXIV_GUID = re.compile(rf"^oai:arxiv\.org:{_ARXIV_ID}$", re.IGNORECASE)
_ARXIV_DOI = re.compile(rf"^10\.48550/arxiv\.{_ARXIV_ID}$", re.IGNORECASE)
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org"})
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_TITLE_JUNK = re.compile(r"[\W_]+")


def work_key(link: str | None, guid: str | None = None) -> str:
    """Return the work key of an item's (canonical) link and guid, or "" when neither names anything."""
    for value in (link, guid):
        found = _arxiv_id(value or "")
        if found:
            return "arxiv:" + found
    for value in (link, guid):
        doi = _doi(value or "")
        if doi:
            found = _arxiv_id_of_doi(doi)
            return "arxiv:" + found if found else "doi:" + doi
    folded = _folded_link(link) if link else ""
    return "link:" + folded if folded else ""


def is_strong(key: str) -> bool:
    """Return whether a key names the work itself (arXiv id, DOI) rather than one copy's link."""
    return key.startswith(STRONG_PREFIXES)


def title_key(title: str) -> str:
    """Return the title with case, punctuation and spacing folded, or "" when it is too short to tie items."""
    words = _TITLE_JUNK.sub(" ", unicodedata.normalize("NFKC", title).casefold()).split()
    # Numbers do not count: "Release notes for version 2.1" is as generic as its words.
    worded = sum(1 for word in words if not word.isdigit())
    return " ".join(words) if worded >= MIN_TITLE_WORDS else ""


def _arxiv_id(value: str) -> str:
    value = value.strip()
    match = _ARXIV_GUID.match(value) or _ARXIV_DOI.match(value)
    if match is None:
        try:
            parts = urlsplit(value)
        except ValueError:
            return ""
        host = (parts.hostname or "").lower().removeprefix("www.")
        if host in _ARXIV_HOSTS:
            match = _ARXIV_PATH.match(parts.path)
        elif host == "huggingface.co":
            match = _HF_PATH.match(parts.path)
    return _arxiv_case(match.group("id")) if match else ""


def _arxiv_case(found: str) -> str:
    # Old-style archive names are lower case and subject classes upper case (math.GT): keep the id as
    # arXiv writes it, whatever case a link used.
    if "/" not in found:
        return found
    archive, number = found.split("/", 1)
    name, _, subject = archive.partition(".")
    return f"{name.lower()}.{subject.upper()}/{number}" if subject else f"{name.lower()}/{number}"


def _doi(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("doi:"):
        value = value[4:].strip()
    elif "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return ""
        if (parts.hostname or "").lower().removeprefix("www.") not in _DOI_HOSTS:
            return ""
        value = unquote(parts.path.lstrip("/"))
    doi = value.rstrip(".,;").lower()
    return doi if _DOI.match(doi) else ""


def _arxiv_id_of_doi(doi: str) -> str:
    match = _ARXIV_DOI.match(doi)
    return _arxiv_case(match.group("id")) if match else ""


def _folded_link(link: str) -> str:
    """Return a link with what does not change the page folded (http and https, ``www.``, a trailing
    slash), or "" for a site's home page."""
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    if not parts.netloc:
        return link
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    if not path and not parts.query:
        # Feeds that link every item to their home page would make all their items one work.
        return ""
    return f"//{host}{path}" + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Titled:
    """An item with a long title, as the title rule compares another item with it."""

    id: str
    source: str
    date: int
    work: str


class WorkTitles:
    """Resolves the work key of each item a write holds, tying long titles across sources.

    ``lookup`` returns the items the index already holds with a title key; items resolved earlier in
    the same write are remembered here, since the index does not hold them yet.
    """

    def __init__(self, lookup: Callable[[str], Iterable[Titled]] | None = None) -> None:
        self._lookup = lookup
        self._written: dict[str, list[Titled]] = {}

    def resolve(self, *, item_id: str, source: str, title: str, key: str, date: int) -> str:
        """Return the work key the item takes: its own key, or the key of the copy its title ties it to.

        ``key`` is the item's own work key ("" for none: the item is then a work of its own); ``date``
        is the item's date in epoch seconds (published, else first seen).
        """
        own = key or "item:" + item_id
        titled = title_key(title)
        if not titled:
            return own
        work = own
        if not is_strong(own):
            known = [*(self._lookup(titled) if self._lookup else ()), *self._written.get(titled, ())]
            work = tie(Titled(item_id, source, date, own), known) or own
        self._written.setdefault(titled, []).append(Titled(item_id, source, date, work))
        return work


def tie(item: Titled, known: Iterable[Titled]) -> str | None:
    """Return the work key of the copy a same-titled item belongs with, or None when no copy qualifies.

    A qualifying copy is of another source and dated within the window; among several, a strong key
    wins, then the earliest copy (the original of a repost).
    """
    window = TITLE_WINDOW.total_seconds()
    best: tuple[bool, int, str] | None = None
    for other in known:
        if other.id == item.id or other.source == item.source or abs(other.date - item.date) > window:
            continue
        rank = (not is_strong(other.work), other.date, other.work)
        if best is None or rank < best:
            best = rank
    return best[2] if best else None
