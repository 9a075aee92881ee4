"""Property tests of the query path: any q and any mix of parameters is a 200 or a documented 400.

Through the Flask app over the sample index: ``/v1/search``, ``/v1/sources``, the feeds and the search
page. Never a 500; a 400 is a problem of a documented type naming a parameter; and on a 200, ``total``
is exactly the number of distinct items paging through the results gives. Derandomised, without an
example database, so every run tries the same examples.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from index.settings import Settings
from service.app import create_app
from service.engine import current_engine
from tests.support.api import PROBLEM_KEYS

SOURCES = ["Gradient Notes", "Sky Survey Preprints", "huggingface.co", "Paper Digest Weekly", "nope"]
WORDS = ["learning", "reinforcement", "diffusion", "quasar", "model", "survey", "kalman", "transformer"]
# Query syntax the language gives meaning to, mixed with any text at all.
SYNTAX = ['"', "(", ")", "*", "~", "~2", ":", "AND", "OR", "NOT", "-", "+", "title:", "source:", "tag:",
          "author:", "\\", "^", "?", "{", "}", "[", "]", "/", "\x00", "\u2028", "é", "漢字", "🙂"]
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

queries = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=60),
    st.lists(st.sampled_from(WORDS + SYNTAX) | st.text(max_size=8), max_size=12).map(" ".join),
    st.text(alphabet="ab\"()*~:- ", max_size=1010),
    st.just("x" * 1001),
)
dates = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z"),
                  st.text(max_size=25))
numbers = st.one_of(st.integers(-5, 120).map(str), st.integers().map(str), st.text(max_size=6))
# Any text in every parameter, unknown parameters too: mostly 400s, which must be documented problems.
anything = st.fixed_dictionaries({}, optional={
    "q": queries,
    "source": st.lists(st.sampled_from(SOURCES) | st.text(max_size=10), max_size=23),
    "since": dates,
    "until": dates,
    "sort": st.sampled_from(["relevance", "newest", "oldest", "best", ""]),
    "match": st.sampled_from(["any", "all", "some"]),
    "page": numbers,
    "per_page": numbers,
    "extra": st.text(max_size=5),
})
# Well-formed parameters around any q: these reach the engine, where total and paging must agree.
well_formed = st.fixed_dictionaries({"q": queries}, optional={
    "source": st.lists(st.sampled_from(SOURCES), max_size=3),
    "since": st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)).map(str),
    "until": st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)).map(str),
    "sort": st.sampled_from(["relevance", "newest", "oldest"]),
    "match": st.sampled_from(["any", "all"]),
    "page": st.integers(1, 5).map(str),
    "per_page": st.integers(1, 100).map(str),
})
params = st.one_of(well_formed, anything)


def _query_string(values: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        pairs += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    return pairs


def _check_problem(response: Any, documented: set[str]) -> None:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys() and body["type"] in documented, body
    assert body["errors"] and all(body["errors"].values()), body


@given(values=params)
@PROPERTY
def test_any_search_is_a_200_or_a_documented_400_and_total_is_what_paging_gives(
        sample_index: Path, values: dict[str, Any]) -> None:
    app = _app(sample_index)
    client = app.test_client()
    response = client.get("/v1/search", query_string=_query_string(values))
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    event(f"status {response.status_code}")
    if response.status_code == 400:
        _check_problem(response, {"/problems/invalid-parameters", "/problems/invalid-query"})
        return
    body = response.get_json()
    # Page through the same search, 7 at a time, until a page comes back empty.
    walk = {k: v for k, v in values.items() if k not in ("page", "per_page")}
    seen: list[str] = []
    page = 1
    while True:
        step = client.get("/v1/search", query_string=[*_query_string(walk), ("page", str(page)),
                                                      ("per_page", "7")]).get_json()
        assert step["total"] == body["total"]
        if not step["hits"]:
            break
        seen += [hit["id"] for hit in step["hits"]]
        page += 1
    assert len(seen) == len(set(seen)) == body["total"]


@given(values=params)
@PROPERTY
def test_the_other_query_paths_never_fail(sample_index: Path, values: dict[str, Any]) -> None:
    client = _app(sample_index).test_client()
    query = _query_string(values)
    for path in ("/v1/search.atom", "/v1/search.json"):
        response = client.get(path, query_string=query)
        assert response.status_code in (200, 400), (path, response.get_data(as_text=True))
        if response.status_code == 400:
            _check_problem(response, {"/problems/invalid-parameters", "/problems/invalid-query"})
    response = client.get("/", query_string=query)
    assert response.status_code in (200, 400) and response.mimetype == "text/html"
    sources = client.get("/v1/sources", query_string={"q": values.get("q", "")})
    assert sources.status_code in (200, 400), sources.get_data(as_text=True)
    if sources.status_code == 200:
        body = sources.get_json()
        assert sum(row["count"] for row in body["sources"]) == body["total"]


_APPS: dict[Path, Any] = {}


def _app(index: Path) -> Any:
    # One app per index for the whole module: hypothesis calls the test body hundreds of times.
    if index not in _APPS:
        _APPS[index] = create_app(Settings(index_dir=index))
    return _APPS[index]


def teardown_module() -> None:
    for app in _APPS.values():
        current_engine(app).close()
    _APPS.clear()
