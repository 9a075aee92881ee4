"""The HTML pages for people: the search page ``/``, item pages ``/items/{id}`` and the API docs ``/docs``.

Pages are rendered on the server from ``templates/`` and work without JavaScript. Item text is
autoescaped like any template value; the only markup let through is the API's highlights, whose
HTML has every character of the item escaped and ``<mark>`` as its only tag (index.search.highlight).
``/docs`` is Swagger UI over ``/openapi.json``, its files served from the installed
``flask-swagger-ui`` package, so the docs work on a machine with no outside network.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, send_from_directory, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from index.errors import QueryError
from index.model import MAX_WINDOW, Hit, Page
from service import errors
from service.engine import current_engine
from service.schemas import MAX_SIMILAR, MAX_SOURCES, SearchArgs, load_args, web_link

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

# flask-swagger-ui ships Swagger UI's dist files; we serve them ourselves and use nothing else of it.
SWAGGER_UI_DIR = str(files("flask_swagger_ui").joinpath("dist"))
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png",
                              "favicon-16x16.png"})
# Item text only ever reaches the page escaped, and the pages load nothing from elsewhere.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI sets inline styles on the elements it builds.
DOCS_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SORT_LABELS = {"relevance": "Best match", "newest": "Newest", "oldest": "Oldest"}
PAGE_PARAMS = ("q", "source", "since", "until", "sort", "match", "page", "per_page", "collapse")
SIMILAR_ON_ITEM_PAGE = 8
# Beyond this many months a time line of bars is too fine to read; only the months with matches are shown.
MAX_HISTOGRAM_MONTHS = 120


def _highlighted(html: str) -> Markup:
    """Mark the API's highlight HTML safe: its text is escaped and ``<mark>`` is its only tag."""
    return Markup(html)


class SearchView:
    """What the search template needs: the request's parameters and links that change one of them."""

    def __init__(self, args: MultiDict[str, str]) -> None:
        # A form's blank fields are ignored, but not so as to slip more sources past the limit.
        keep_blank = {"source"} if len(args.getlist("source")) > MAX_SOURCES else set()
        self.args = MultiDict([(k, v) for k, v in args.items(multi=True)
                               if k in PAGE_PARAMS and (v or k in keep_blank)])
        self.q = self.args.get("q", "")
        self.sources = self.args.getlist("source")
        self.sort = self.args.get("sort", "relevance")

    def url(self, **changes: Any) -> str:
        """Return the search page's URL with these parameters changed (None drops one); back to page 1."""
        params = MultiDict(self.args)
        params.pop("page", None)
        for key, value in changes.items():
            params.pop(key, None)
            if value is None:
                continue
            for one in value if isinstance(value, list | tuple) else [value]:
                params.add(key, str(one))
        return _url("pages.search_page", params.to_dict(flat=False))

    def source_url(self, name: str) -> str:
        """Toggle a source filter: add it, or remove it when it is already on."""
        chosen = [s for s in self.sources if s != name] if name in self.sources else [*self.sources, name]
        return self.url(source=chosen or None)

    def month_url(self, month: str) -> str:
        """Narrow to one month (``YYYY-MM``)."""
        year, number = (int(part) for part in month.split("-"))
        last = calendar.monthrange(year, number)[1]
        return self.url(since=f"{month}-01", until=f"{month}-{last:02d}")

    def page_url(self, page: int) -> str:
        return self.url(page=page) if page > 1 else self.url()

    def feed_url(self, kind: str) -> str:
        params = {k: v for k, v in self.args.to_dict(flat=False).items() if k not in ("page", "per_page")}
        return _url(f"search_feeds.search_{kind}", params)


def _url(endpoint: str, params: dict[str, list[str]]) -> str:
    # url_for repeats a parameter given a list; its stubs only know single values.
    values: dict[str, Any] = dict(params)
    return url_for(endpoint, **values)


def _months(page: Page) -> list[dict[str, Any]]:
    """Return every month from the first to the last with matches, with bar heights in 5% steps.

    Months without matches are kept (as empty bars) so that the bars read as a time line.
    """
    counts = {f.value: f.count for f in page.month_facets}
    if not counts:
        return []
    first, last = (_month_number(m) for m in (min(counts), max(counts)))
    if last - first >= MAX_HISTOGRAM_MONTHS:
        months = sorted(counts)
    else:
        months = [f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(first, last + 1)]
    peak = max(counts.values())
    return [
        {"value": m, "count": counts.get(m, 0),
         "step": max(1, round(20 * counts[m] / peak)) if counts.get(m) else 0}
        for m in months
    ]


def _month_number(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _render(template: str, policy: str = PAGE_POLICY, **context: Any) -> Response:
    response = current_app.response_class(render_template(template, **context), mimetype="text/html")
    response.headers["Content-Security-Policy"] = policy
    return response


@bp.after_request
def _protect(response: Response) -> Response:
    # Problem pages are built in service.errors; they get the same policy as every page.
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    return response


@bp.get("/")
def search_page() -> Response:
    """Render the search page: a search box, ranked results, facets, a month histogram, sort and paging.

    Without a query it lists the newest items, as ``/v1/search`` does.
    """
    view = SearchView(request.args)
    try:
        req = load_args(SearchArgs(), view.args)
        page = current_engine().search(req)
    except ValidationError as exc:
        messages = errors.validation_messages(exc.messages)
        detail = " ".join(f"{param}: {' '.join(m)}" for param, m in messages.items())
        return errors.page_problem("invalid-parameters", detail, template="search.html", view=view,
                                   page=None, sort_labels=SORT_LABELS)
    except QueryError as exc:
        name = "invalid-query" if exc.param == "q" else "invalid-parameters"
        return errors.page_problem(name, str(exc), template="search.html", view=view, page=None,
                                   sort_labels=SORT_LABELS)
    # No link past the deepest page the engine serves (page * per_page <= MAX_WINDOW).
    last_page = max(1, min(-(-page.total // page.per_page), MAX_WINDOW // page.per_page))
    return _render(
        "search.html", view=view, page=page, hits=[_hit(h) for h in page.hits], months=_months(page),
        last_page=last_page, sort_labels=SORT_LABELS, problem=None, collapsed=req.collapse,
    )


def _hit(hit: Hit) -> Mapping[str, Any]:
    return {
        "hit": hit,
        "link": web_link(hit.link) or None,
        "title": _highlighted(hit.highlights.get("title", "")) if hit.highlights.get("title") else hit.title,
        "summary": _highlighted(hit.highlights.get("summary", "")) if hit.highlights.get("summary")
        else hit.snippet,
    }


@bp.get("/items/<item_id>")
def item_page(item_id: str) -> Response:
    """Render one item in full, with the items most like it."""
    index = current_engine()
    item = index.get(item_id)
    if item is None:
        raise NotFound(f"There is no item with id {item_id!r}.")
    similar = index.similar(item_id, limit=min(SIMILAR_ON_ITEM_PAGE, MAX_SIMILAR)) or []
    return _render("item.html", item=item, link=web_link(item.link) or None, similar=similar,
                   view=SearchView(MultiDict()))


@bp.get("/docs")
def docs_page() -> Response:
    """Render the interactive API docs (Swagger UI) for openapi.json."""
    return _render("docs.html", policy=DOCS_POLICY)


@bp.get("/docs/<path:filename>")
def docs_asset(filename: str) -> Response:
    """Serve one of Swagger UI's files from the installed package."""
    if filename not in SWAGGER_UI_FILES:
        raise NotFound(f"There is no docs asset named {filename!r}.")
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=86400)
