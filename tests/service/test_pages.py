"""Tests for service/pages_api.py: the search page, item pages and /docs, rendered over real indexes."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import assert_problem
from tests.support.copies import write_inputs
from tests.support.indexes import build_index, items_from, jsonl_items


class Links(HTMLParser):
    """Collect the links of a page, by CSS class of their list item or anchor, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str, str]] = []  # (href, text, class)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._open: list[tuple[str, str]] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a":
            self._open.append((a.get("href", ""), a.get("class", "")))
            self._text = []
        elif tag == "script":
            self.scripts.append(a.get("src", "(inline)"))
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a.get("href", ""))

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, cls = self._open.pop()
            self.anchors.append((href, "".join(self._text).strip(), cls))


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    return response.get_data(as_text=True)


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def hrefs(html: str, pattern: str) -> list[str]:
    return [href for href, _, _ in links(html).anchors if re.search(pattern, href)]


def test_the_front_page_lists_the_newest_items_with_a_search_box_and_a_docs_link(client: FlaskClient) -> None:
    html = page(client, "/")
    assert '<form class="search" action="/" method="get"' in html
    assert 'name="q"' in html
    assert hrefs(html, r"^/docs$")
    newest = client.get("/v1/search").get_json()["hits"]
    item_links = hrefs(html, r"^/items/")
    assert item_links[: len(newest)] == [f"/items/{hit['id']}" for hit in newest]
    assert links(html).scripts == []  # usable without JavaScript: the pages carry none
    assert links(html).styles == ["/static/feedsift.css"]


def test_results_show_highlighted_titles_and_snippets(client: FlaskClient) -> None:
    html = page(client, "/?q=reinforcement+learning")
    api = client.get("/v1/search?q=reinforcement+learning").get_json()
    assert f"{api['total']} results for <strong>reinforcement learning</strong>" in html
    for hit in api["hits"]:
        assert hit["highlights"]["title"] in html
        assert hit["highlights"]["summary"] in html
    assert "<mark>Reinforcement</mark> <mark>Learning</mark>" in html


def test_item_text_is_escaped_and_only_marks_are_markup(tmp_path: Path,
                                                         make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", jsonl_items([{
        # The indexer drops tags and unescapes entities: these reach the index as literal "<script>" text.
        "id": "evil-1",
        "title": "Quokka &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;friends&lt;/b&gt;",
        "summary": "The quokka says &lt;img src=x onerror=alert(2)&gt; &amp; smiles.",
        "link": "https://evil.example/\"><script>alert(3)</script>",
        "source": "<i>Evil</i> Feed", "published": "2026-01-02T03:04:05Z",
        "authors": ["<u>Mallory</u>"], "tags": ["<em>x</em>"],
    }]))
    client = make_app(tmp_path / "index").test_client()
    for url in ("/?q=quokka", "/", "/items/evil-1", "/?q=quokka&source=%3Ci%3EEvil%3C%2Fi%3E+Feed"):
        html = page(client, url)
        for raw in ("<script>", "<img", "<b>", "<i>", "<u>", "<em>"):
            assert raw not in html, (url, raw)
        assert "&lt;script&gt;" in html
    expected = "<mark>Quokka</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;"
    assert expected in page(client, "/?q=quokka")


def test_only_web_links_are_links(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", jsonl_items([{
        "id": "js-1", "title": "Numbat notes", "summary": "Numbats.", "link": "javascript:alert(1)",
        "source": "Odd Feed"}]))
    client = make_app(tmp_path / "index").test_client()
    for url in ("/?q=numbat", "/items/js-1"):
        assert "javascript:" not in page(client, url)


def test_source_facets_link_to_filtered_results_with_counts(client: FlaskClient) -> None:
    html = page(client, "/?q=learning")
    facets = client.get("/v1/search?q=learning").get_json()["facets"]["source"]
    for facet in facets:
        assert re.search(rf">{re.escape(facet['value'])}</a> <span class=\"count\">{facet['count']}</span>",
                         html.replace("&#39;", "'")), facet
    first = facets[0]["value"]
    link = next(href for href, text, _ in links(html).anchors if text == first and "source=" in href)
    assert parse_qs(urlsplit(link).query) == {"q": ["learning"], "source": [first]}
    filtered = page(client, link)
    api = client.get("/v1/search", query_string={"q": "learning", "source": first}).get_json()
    assert f"{api['total']} results for" in filtered
    assert hrefs(filtered, r"^/items/")[: len(api["hits"])] == [f"/items/{h['id']}" for h in api["hits"]]
    # The chosen source links back to the search without it.
    assert any(parse_qs(urlsplit(h).query) == {"q": ["learning"]} for h, t, _ in links(filtered).anchors
               if t.startswith(first))


def test_the_month_histogram_is_css_bars_linking_to_each_month(client: FlaskClient) -> None:
    html = page(client, "/?q=learning")
    months = client.get("/v1/search?q=learning").get_json()["facets"]["published"]
    bars = re.findall(r'<a class="bar h(\d+)" href="([^"]+)" title="(\d{4}-\d{2}): (\d+)"', html)
    assert [(m, int(c)) for _, _, m, c in bars] == [(f["value"], f["count"]) for f in months]
    peak = max(f["count"] for f in months)
    assert {int(step) for step, _, m, c in bars if int(c) == peak} == {20}
    _, href, month, count = bars[0]
    query = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
    assert query["since"] == [f"{month}-01"] and query["until"][0].startswith(month)
    assert f"{count} result" in page(client, href.replace("&amp;", "&"))


def test_sort_and_paging_links(client: FlaskClient) -> None:
    html = page(client, "/?q=learning&per_page=3")
    sort_links = {t: h for h, t, _ in links(html).anchors if t in ("Newest", "Oldest")}
    assert parse_qs(urlsplit(sort_links["Newest"]).query)["sort"] == ["newest"]
    assert "<strong aria-current=\"true\">Best match</strong>" in html
    next_link = next(h for h, t, _ in links(html).anchors if t.startswith("Next"))
    assert parse_qs(urlsplit(next_link).query)["page"] == ["2"]
    second = page(client, next_link)
    api = client.get("/v1/search?q=learning&per_page=3&page=2").get_json()
    assert hrefs(second, r"^/items/")[:3] == [f"/items/{h['id']}" for h in api["hits"]]
    assert any("Previous" in t for _, t, _ in links(second).anchors)
    newest = page(client, sort_links["Newest"])
    api = client.get("/v1/search?q=learning&per_page=3&sort=newest").get_json()
    assert hrefs(newest, r"^/items/")[:3] == [f"/items/{h['id']}" for h in api["hits"]]


def test_a_bad_query_is_a_friendly_message_on_the_page(client: FlaskClient) -> None:
    html = page(client, "/?q=%22unbalanced", status=400)
    assert '<section class="problem" role="alert">' in html
    assert "Unbalanced quote at position 1" in html
    assert 'value="&#34;unbalanced"' in html  # the search box keeps the query to fix
    html = page(client, "/?per_page=500", status=400)
    assert "per_page: Must be greater than or equal to 1 and less than or equal to 100." in html


def test_unknown_parameters_are_ignored_on_pages(client: FlaskClient) -> None:
    # Links people share carry tracking parameters; the page shows the search, the API would refuse it.
    assert page(client, "/?q=learning&utm_source=mail") == page(client, "/?q=learning")


def test_the_item_page_shows_the_whole_item_and_similar_items(client: FlaskClient) -> None:
    item = client.get("/v1/items/extra-001").get_json()
    html = page(client, "/items/extra-001")
    assert f"<h1>{item['title']}</h1>" in html
    assert item["summary"].replace("'", "&#39;") in html
    assert ", ".join(item["authors"]) in html
    similar = client.get("/v1/items/extra-001/similar?limit=8").get_json()["hits"]
    assert similar
    assert hrefs(html, r"^/items/") == [f"/items/{h['id']}" for h in similar]


def test_an_unknown_item_is_a_404_page(client: FlaskClient) -> None:
    html = page(client, "/items/nope", status=404)
    assert "There is no item with id &#39;nope&#39;." in html


def test_a_missing_index_is_a_503_page(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    client = make_app(tmp_path / "missing").test_client()
    for url in ("/", "/items/x"):
        response = client.get(url)
        assert response.status_code == 503 and response.mimetype == "text/html"
        assert response.headers["Retry-After"] == "30"
        assert "Index unavailable" in response.get_data(as_text=True)


def test_wrong_methods_on_pages_are_problems(client: FlaskClient) -> None:
    assert_problem(client.post("/"), 405, "method-not-allowed")
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_docs_serve_swagger_ui_from_the_installed_package(client: FlaskClient) -> None:
    html = page(client, "/docs")
    parsed = links(html)
    assert parsed.scripts == ["/docs/swagger-ui-bundle.js", "/static/docs.js"]
    assert "/docs/swagger-ui.css" in parsed.styles
    assert 'data-spec="/openapi.json"' in html
    assert "http" not in "".join(parsed.scripts + parsed.styles)  # nothing from a CDN
    for asset, mimetype in [("/docs/swagger-ui-bundle.js", "text/javascript"),
                            ("/docs/swagger-ui.css", "text/css"), ("/static/docs.js", "text/javascript"),
                            ("/static/feedsift.css", "text/css"), ("/docs/favicon-32x32.png", "image/png")]:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.mimetype == mimetype, asset
        response.close()


@pytest.mark.parametrize("url", ["/docs/index.html", "/docs/../app.py", "/docs/%2e%2e/app.py",
                                 "/static/nope.css", "/static/../app.py"])
def test_other_files_are_not_served(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert "def create_app" not in response.get_data(as_text=True)


def test_the_last_page_has_no_next_link(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", jsonl_items([
        {"id": f"p-{n}", "title": f"Platypus note {n}", "summary": "Platypus.", "link": f"https://e.org/{n}",
         "source": "Monotremes"} for n in range(30)]))
    client = make_app(tmp_path / "index").test_client()
    # 30 matches at one per page: 30 pages, all within MAX_WINDOW (10,000), so the last one is linked.
    assert "Page 1 of 30" in page(client, "/?q=platypus&per_page=1")
    html = page(client, "/?q=platypus&per_page=1&page=30")
    assert not any(t.startswith("Next") for _, t, _ in links(html).anchors)


def test_blank_fields_are_ignored_but_do_not_slip_sources_past_the_limit(client: FlaskClient) -> None:
    blank = client.get("/?q=learning&since=&until=&sort=&match=&page=&per_page=&source=")
    assert blank.status_code == 200
    assert blank.get_data() == client.get("/?q=learning").get_data()
    too_many = "&".join(["source=Gradient+Notes"] * 20 + ["source="])
    refused = client.get(f"/?{too_many}")
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "<p>source: " in refused.get_data(as_text=True)


def test_copies_of_one_work_are_one_result_naming_the_others(tmp_path: Path,
                                                             make_app: Callable[..., Flask]) -> None:
    build_index(tmp_path / "index", items_from(write_inputs(tmp_path / "inputs").paths))
    client = make_app(tmp_path / "index").test_client()
    html = page(client, "/?q=lied")
    # One hit for the lab post and its repost, naming the other copy, and a way to see every copy.
    assert len(hrefs(html, r"^/items/")) == 2  # the hit and the copy it names
    assert "Also in:" in html and ">Lab Blog</a>" in html
    every = [href for href, text, _ in links(html).anchors if text == "show every copy"]
    assert every and parse_qs(urlsplit(every[0]).query)["collapse"] == ["false"]
    html = page(client, every[0])
    assert "(every copy:" in html and "Also in:" in html
    assert len(hrefs(html, r"^/items/")) == 4  # both copies, each naming the other
    assert "Also in" in page(client, hrefs(html, r"^/items/")[0])
