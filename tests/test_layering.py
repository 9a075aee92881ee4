"""The layout's rules, checked on the source: which way dependencies point, module size, no cycles.

- index/ never imports the web stack; service/ reaches search only through the engine seam, the query
  language's public limits and the value types.
- The Typesense engine never reaches Whoosh's storage (the index files, writer and readers), and the
  Whoosh engine never reaches Typesense, through any chain of project imports.
- No import cycle among the project's modules, counting imports made under TYPE_CHECKING and inside
  functions; no module over 500 lines; at most 10 modules directly in index/.
- Each ``FEEDSIFT_*`` variable is read from the environment in one module, and ``--index`` is declared once.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.support.paths import REPO

PACKAGES = ("index", "service")
WEB_STACK = {"flask", "marshmallow", "werkzeug", "jinja2", "flask_limiter", "flask_swagger_ui",
             "prometheus_client", "feedgen", "service"}
ENGINE_INTERNALS = {"whoosh", "feedparser", "Stemmer", "typesense", "index.search.whoosh",
                    "index.search.typesense", "index.search.analysis", "index.search.schema",
                    "index.search.fields", "index.search.highlight", "index.ingest.feed"}
WHOOSH_STORAGE = "index.search.whoosh"
MAX_LINES = 500
MAX_TOP_MODULES = 10


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    return {module_name(path): path
            for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Return every name a module imports, anywhere in it (TYPE_CHECKING blocks and functions included).

    ``from a import b`` counts as importing ``a`` and, when ``a.b`` is a module, ``a.b`` too.
    """
    path = project_modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names
                         if f"{origin}.{alias.name}" in project_modules())
    return frozenset(names)


def project_edges(module: str) -> set[str]:
    return {name for name in imports_of(module) if name in project_modules() and name != module}


def reach(module: str) -> set[str]:
    """Return every name imported by ``module`` or by a project module it reaches, transitively."""
    seen: set[str] = set()
    names: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        names.update(imports_of(current))
        todo.extend(project_edges(current))
    return names | seen


def _hits(names: set[str] | frozenset[str], forbidden: set[str]) -> set[str]:
    return {n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)}


def test_index_never_imports_the_web_stack() -> None:
    bad = {m: _hits(imports_of(m), WEB_STACK) for m in project_modules() if m.startswith("index")}
    assert {m: n for m, n in bad.items() if n} == {}


def test_service_reaches_search_only_through_the_seam_and_the_value_types() -> None:
    bad = {m: _hits(imports_of(m), ENGINE_INTERNALS) for m in project_modules() if m.startswith("service")}
    assert {m: n for m, n in bad.items() if n} == {}


def test_typesense_never_reaches_whoosh_storage_and_whoosh_never_reaches_typesense() -> None:
    typesense_side = [m for m in project_modules() if "typesense" in imports_of(m)]
    assert "index.search.typesense.engine" in typesense_side  # the guard sees what it polices
    for module in typesense_side:
        assert _hits(reach(module), {WHOOSH_STORAGE}) == set(), module
    whoosh_side = [m for m in project_modules() if m.startswith(WHOOSH_STORAGE + ".")]
    assert "index.search.whoosh.writer" in whoosh_side
    for module in whoosh_side:
        assert _hits(reach(module), {"typesense", "index.search.typesense"}) == set(), module


def test_no_import_cycles() -> None:
    graph = {m: project_edges(m) for m in project_modules()}
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index_of[v] = low[v] = len(index_of)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index_of:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index_of[w])
        if low[v] == index_of[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index_of:
            connect(module)
    assert cycles == []


def test_the_cycle_check_sees_a_cycle() -> None:
    # Guards the guard: the TYPE_CHECKING import that once tied the reader and suggestions together
    # must be visible to the walker.
    assert "index.search.whoosh.view" in project_edges("index.search.whoosh.suggest")


def test_no_module_is_over_500_lines() -> None:
    long = {m: n for m, path in project_modules().items()
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_index_has_at_most_ten_modules_at_its_top() -> None:
    top = sorted(p.name for p in (REPO / "index").glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def _environ_readers() -> dict[str, set[str]]:
    """Return, per module, the FEEDSIFT_* names it reads through os.environ, os.getenv or click's envvar."""
    found: dict[str, set[str]] = {}
    for module, path in project_modules().items():
        tree = ast.parse(path.read_text("utf-8"))
        reads_environ = any(
            isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
            for node in ast.walk(tree)
        ) or any(isinstance(node, ast.keyword) and node.arg == "envvar" for node in ast.walk(tree))
        if not reads_environ:
            continue
        names = {node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and node.value.startswith("FEEDSIFT_") and node.value.isupper()}
        found[module] = names
    return found


def test_feedsift_variables_are_read_in_one_module() -> None:
    readers = {m: names for m, names in _environ_readers().items() if names}
    assert set(readers) == {"index.settings"}, readers
    # The settings read each variable by the name declared on its field, none by another path.
    environ_users = set(_environ_readers())
    assert environ_users <= {"index.settings", "service.metrics"}, environ_users


def test_the_index_option_is_declared_once() -> None:
    declared = [m for m, path in project_modules().items() if '"--index"' in path.read_text("utf-8")]
    assert declared == ["index.cli.options"]
