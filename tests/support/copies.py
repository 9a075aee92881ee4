"""Inputs in which the same papers and posts arrive from several feeds: 16 copies of 9 works.

    arXiv listing (RSS, 6 papers)           2601.00101 .. 2601.00106 (one by export.arxiv.org)
    daily papers (RSS, 4)                   101, 102 (HF pages, re-cased / trailing dot), 103 (alphaxiv),
                                            and the new 2601.00207
    digest (text, 3)                        104 by its HF page, 105 by pdf/...v2, one new blog note
    JSON Lines (3)                          101 by its arXiv DOI; a lab post and its repost elsewhere

Works: the six arXiv papers, 2601.00207, the blog note and the lab post. Paper 101 has three copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

COPIES = 16
WORKS = 9
ARXIV_SOURCE = "arXiv cs.IR updates"
DAILY_SOURCE = "Daily Papers"

PAPERS = {
    "2601.00101": "Retrieval Augmented Generation with Adaptive Passage Budgets",
    "2601.00102": "Contrastive Pretraining of Sparse Encoders for Multilingual Search",
    "2601.00103": "Learning Query Rewrites from Click Logs without Human Labels",
    "2601.00104": "Calibrated Uncertainty for Neural Rankers under Distribution Shift",
    "2601.00105": "Compressing Dense Retrieval Indexes with Product Quantization Revisited",
    "2601.00106": "Evaluating Long Context Readers on Scientific Question Answering Benchmarks",
}
NEW_PAPER = ("2601.00207", "Tokenizer Free Lexical Matching for Morphologically Rich Languages")
LAB_POST = "Why Our Evaluation Numbers Lied to Us for a Whole Year"


@dataclass(frozen=True)
class CopyInputs:
    """The four input files, in the order they are ingested."""

    arxiv: Path
    daily: Path
    digest: Path
    jsonl: Path

    @property
    def paths(self) -> list[Path]:
        return [self.arxiv, self.daily, self.digest, self.jsonl]


def _rss(title: str, items: list[dict[str, str]]) -> str:
    entries = "".join(
        "<item>"
        f"<title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        f"<guid isPermaLink=\"false\">{escape(item['guid'])}</guid>"
        f"<pubDate>{item['date']}</pubDate><description>{escape(item['summary'])}</description>"
        "</item>\n"
        for item in items
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://feeds.example.org/</link><description>test</description>\n{entries}</channel></rss>\n")


def arxiv_item(paper: str, version: int = 1, *, day: int = 5) -> dict[str, str]:
    """Return an arXiv listing item for a paper of :data:`PAPERS` (``day`` of January 2026)."""
    number = int(paper[-3:])
    host = "export.arxiv.org" if paper.endswith("106") else "arxiv.org"
    suffix = f"v{version}" if version > 1 else ""
    return {
        "title": PAPERS[paper], "link": f"http://{host}/abs/{paper}{suffix}",
        "guid": f"oai:arXiv.org:{paper}v{version}", "date": f"{day:02d} Jan 2026 0{number % 7}:00:00 +0000",
        "summary": f"Abstract of paper {number}: {PAPERS[paper].lower()}.",
    }


def arxiv_feed(items: list[dict[str, str]]) -> str:
    """Return the arXiv listing feed holding ``items``."""
    return _rss(ARXIV_SOURCE, items)


def write_inputs(folder: Path) -> CopyInputs:
    """Write the four inputs into ``folder`` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    arxiv = folder / "arxiv.rss"
    arxiv.write_text(arxiv_feed([arxiv_item(paper) for paper in PAPERS]), "utf-8")
    picks = [
        (PAPERS["2601.00101"].upper(), "https://huggingface.co/papers/2601.00101"),
        (PAPERS["2601.00102"] + ".", "https://huggingface.co/papers/2601.00102"),
        (PAPERS["2601.00103"].lower(), "https://www.alphaxiv.org/abs/2601.00103v1"),
        (NEW_PAPER[1], f"https://huggingface.co/papers/{NEW_PAPER[0]}"),
    ]
    daily_items = [
        {"title": title, "link": link, "guid": f"hf-{n}", "date": f"06 Jan 2026 09:{5 * n:02d}:00 +0000",
         "summary": f"Daily pick number {n}."}
        for n, (title, link) in enumerate(picks)
    ]
    daily = folder / "daily.rss"
    daily.write_text(_rss(DAILY_SOURCE, daily_items), "utf-8")
    digest = folder / "digest.txt"
    digest.write_text(
        f"### Title: {PAPERS['2601.00104']}\nLink: https://huggingface.co/papers/2601.00104\n"
        "Summary: Rankers that know when they do not know.\n\n - \n"
        f"### Title: {PAPERS['2601.00105']}\nLink: https://arxiv.org/pdf/2601.00105v2\n"
        "Summary: Smaller indexes, same recall.\n\n - \n"
        "### Title: Notes from a week of reading retrieval papers\n"
        "Link: https://notes.example.net/2026/01/reading-week\nSummary: A reading diary.\n",
        "utf-8",
    )
    records = [
        {"title": PAPERS["2601.00101"], "link": "https://doi.org/10.48550/arXiv.2601.00101",
         "source": "Paper Mentions", "published": "2026-01-07T10:00:00Z", "summary": "Cited by DOI."},
        {"title": LAB_POST, "link": "https://lab.example.org/posts/evaluation-numbers", "source": "Lab Blog",
         "published": "2026-01-02T12:00:00Z", "summary": "A post mortem of our benchmark harness."},
        {"title": LAB_POST.lower() + "!", "link": "https://medium.com/@lab/why-our-evaluation-numbers-lied-3f2a",
         "source": "Medium", "published": "2026-01-05T12:00:00Z", "summary": "Reposted: a post mortem."},
    ]
    jsonl = folder / "mentions.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return CopyInputs(arxiv=arxiv, daily=daily, digest=digest, jsonl=jsonl)
