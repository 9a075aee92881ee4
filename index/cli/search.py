"""The ``feedsift search`` command: ranked results in a terminal, matches in bold colour, plain when piped.
"""

from __future__ import annotations

import html
import json
import re
import sys
from datetime import UTC
from typing import Any

import click

from index.cli.options import index_dir_option, open_cli_engine
from index.errors import FeedsiftError
from index.model import SORTS, Hit, SearchRequest, format_utc

# Highlights are HTML whose only tags are <mark> and </mark> (index.search.highlight): split on exactly those.
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def render_highlight(fragment: str, *, color: bool) -> str:
    """Turn a highlight's HTML into terminal text: matches bold and yellow with ``color``, else plain."""
    out: list[str] = []
    pos = 0
    for match in _MARK.finditer(fragment):
        out.append(html.unescape(fragment[pos:match.start()]))
        word = html.unescape(match.group(1))
        out.append(click.style(word, bold=True, fg="yellow") if color else word)
        pos = match.end()
    out.append(html.unescape(fragment[pos:]))
    return "".join(out)


def _hit_json(hit: Hit) -> dict[str, Any]:
    also = [{"id": copy.id, "source": copy.source, "link": copy.link,
             "published": format_utc(copy.published) if copy.published else None} for copy in hit.also]
    published = format_utc(hit.published) if hit.published else None
    first_seen = format_utc(hit.first_seen) if hit.first_seen else None
    return {
        "id": hit.id, "title": hit.title, "link": hit.link, "source": hit.source, "published": published,
        "first_seen": first_seen, "score": hit.score, "snippet": hit.snippet, "highlights": hit.highlights,
        "also": also,
    }


def _print_hit(rank: int, hit: Hit, color: bool) -> None:
    title = render_highlight(hit.highlights.get("title") or html.escape(hit.title), color=color)
    number = f"{rank:>2}."
    click.echo(f"{click.style(number, dim=True) if color else number} {title}", color=color)
    details = [hit.source]
    if hit.published is not None:
        details.append(hit.published.astimezone(UTC).strftime("%Y-%m-%d"))
    if hit.link:
        details.append(hit.link)
    meta = " · ".join(details)
    click.echo(f"    {click.style(meta, fg='cyan') if color else meta}", color=color)
    summary = render_highlight(hit.highlights.get("summary") or html.escape(hit.snippet), color=color)
    if summary:
        click.echo(f"    {summary}", color=color)
    if hit.also:
        also = "also in " + ", ".join(copy.source for copy in hit.also)
        click.echo(f"    {click.style(also, dim=True) if color else also}", color=color)
    click.echo("", color=color)


@click.command("search")
@index_dir_option
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only items from this source; repeat for several.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=10, show_default=True,
              help="How many results to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="One result per work (copies of a paper or post from several feeds), or every copy.")
@click.option("--color/--no-color", default=None,
              help="Highlight matches with ANSI colours (default: when writing to a terminal).")
@click.argument("query", nargs=-1, required=True)
def search(index_dir: str, sources: tuple[str, ...], sort: str, limit: int, as_json: bool, collapse: bool,
           color: bool | None, query: tuple[str, ...]) -> None:
    """Search the index for QUERY (the API's query language) and print the ranked results.

    A QUERY of ``-`` reads the query from standard input: a question too long or too awkward to quote
    on a command line, up to the engine's 10,000 characters (``feedsift search - < question.txt``).
    """
    text = sys.stdin.read() if query == ("-",) else " ".join(query)
    try:
        index = open_cli_engine(index_dir)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        req = SearchRequest(q=text, sources=sources, sort=sort, per_page=limit, collapse=collapse)
        page = index.search(req)
    except FeedsiftError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        index.close()
    if as_json:
        click.echo(json.dumps({
            "total": page.total,
            "hits": [_hit_json(hit) for hit in page.hits],
            "did_you_mean": page.did_you_mean,
        }, ensure_ascii=False, indent=2))
        return
    use_color = sys.stdout.isatty() if color is None else color
    for rank, hit in enumerate(page.hits, start=1):
        _print_hit(rank, hit, use_color)
    shown = len(page.hits)
    summary = f"{page.total} result{'s' if page.total != 1 else ''}"
    if shown < page.total:
        summary += f", showing the first {shown} (--limit for more)"
    if page.did_you_mean:
        summary += f"; did you mean: {page.did_you_mean}"
    click.echo(click.style(summary, dim=True) if use_color else summary, color=use_color)
