"""The query compiler: a parsed query tree mapped onto ``filter_by`` over each item's index-form words."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from whoosh import query

from index.errors import QueryError
from index.search.analysis import stem_word
from index.search.typesense.documents import ENGINE_NAME

# Typesense 0.24 parses a filter of at most 100 tokens (clauses, operators and parentheses).
MAX_FILTER_TOKENS = 100

TEXT_QUERY_BY = "title,summary"

TEXT_FIELDS = {"content": TEXT_QUERY_BY, "title": "title", "summary": "summary"}

TERM_PREFIX = {"content": ("t:", "s:"), "title": ("t:",), "summary": ("s:",)}

def quote_value(value: str) -> str:
    """Return a filter value in backticks; Typesense has no escape for a backtick inside one."""
    if "`" in value:
        raise QueryError(f"The {ENGINE_NAME} engine cannot filter on a value containing '`': {value!r}.")
    return "`" + value + "`"

def values(values: Iterable[str]) -> str:
    return "[" + ",".join(quote_value(v) for v in values) + "]"

def all_of(parts: Iterable[str | None]) -> str | None:
    kept = [p for p in parts if p]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else " && ".join(_group(p) for p in kept)

def _group(part: object) -> str:
    """Return a filter part, in parentheses only when it has operators (they count towards the limit)."""
    text = str(part)
    return f"({text})" if " && " in text or " || " in text else text

def check_filter(text: str | None) -> None:
    """Refuse a filter longer than the server parses (it answers only "Filter expression is not valid")."""
    if not text:
        return
    operators = text.count(" && ") + text.count(" || ")
    clauses = operators + 1
    size = clauses + operators + text.count("(") + text.count(")")
    if size > MAX_FILTER_TOKENS:
        raise QueryError(
            f"The query is too complex for the {ENGINE_NAME} engine: it needs {clauses} filter clauses; "
            "use fewer words joined by AND, or the default matching (any word)."
        )

# Filters that no item passes and that every item passes (``written_at`` is always a past time).
NOTHING = "written_at:<0"

EVERYTHING = "written_at:>0"

@dataclass
class Compiled:
    """A query mapped onto Typesense: the match filter, required phrases, and the words for ranking."""

    filter: str | None = None
    phrases: list[str] = field(default_factory=list)
    query_by: str = TEXT_QUERY_BY
    words: list[str] = field(default_factory=list)
    stems: set[str] = field(default_factory=set)

    @property
    def phrase_q(self) -> str:
        return " ".join(self.phrases) if self.phrases else "*"

def refuse_unsupported(q: Any) -> None:
    """Refuse, as a ``rewrite_tree`` visitor, what this engine cannot honour: fuzzy terms and the
    optional operators. Returns None so that every other node is kept."""
    if isinstance(q, query.FuzzyTerm):
        raise QueryError(
            f"Fuzzy terms ('{q.text}~') are not supported by the {ENGINE_NAME} engine, which matches words "
            f"exactly so that totals stay exact; use the word itself or a prefix ('{q.text}*')."
        )
    if isinstance(q, query.AndMaybe | query.Require | query.Otherwise):
        raise QueryError(f"The {ENGINE_NAME} engine does not support the operator in {q}.")


def walk(q: Any) -> Iterator[Any]:
    yield q
    for child in q.children():
        yield from walk(child)

@dataclass(frozen=True)
class _Leaf:
    """One membership test: the item's field ``name`` holds one of ``values`` (``:=``) or none (``:!=``)."""

    name: str
    op: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return self.name + self.op + values(self.values)

def filter_of(q: Any, prefixes: dict[str, list[str]], compiled: Compiled) -> str:
    """Return the filter_by expression of a query node."""
    return str(_node(q, prefixes, compiled, False))

def _node(q: Any, prefixes: dict[str, list[str]], compiled: Compiled, negated: bool) -> str | _Leaf:
    """Return the filter of a query node (of its negation when ``negated``), as a leaf where it is one."""
    if isinstance(q, query.Not):
        return _node(q.query, prefixes, compiled, not negated)
    if isinstance(q, query.And | query.Or):
        is_and = isinstance(q, query.And) != negated  # De Morgan
        # An OR of memberships is one membership of all their values, and an AND of exclusions one
        # exclusion: merged, because the server refuses filters of more than a few dozen clauses.
        merge_op = ":!=" if is_and else ":="
        merged: dict[str, list[str]] = {}
        others: list[str | _Leaf] = []
        for child in q.subqueries:
            part = _node(child, prefixes, compiled, negated)
            if isinstance(part, _Leaf) and part.op == merge_op:
                merged.setdefault(part.name, []).extend(part.values)
            else:
                others.append(part)
        parts = [_Leaf(f, merge_op, tuple(dict.fromkeys(v))) for f, v in merged.items()] + others
        if len(parts) == 1:
            return parts[0]
        return (" && " if is_and else " || ").join(_group(p) for p in parts)
    op = ":!=" if negated else ":="
    field_name = q.fieldname
    if isinstance(q, query.Phrase):
        if field_name in TEXT_FIELDS:
            raise QueryError(
                f"The {ENGINE_NAME} engine supports a phrase (\"{' '.join(q.words)}\") only where the whole "
                "query requires it: use AND between it and the other parts, or match=all."
            )
        text = " ".join(q.words)
    elif isinstance(q, query.Term):
        text = str(q.text)
    elif isinstance(q, query.Prefix):
        if field_name not in TEXT_FIELDS:
            raise QueryError(f"The {ENGINE_NAME} engine supports prefix* only in title and summary words.")
        words = prefixes.get(str(q.text).lower(), [])
        if not words:
            return EVERYTHING if negated else NOTHING
        stems = sorted({stem_word(w) for w in words})
        if not negated:
            compiled.stems.update(stems)
        return _Leaf("terms", op, tuple(p + s for s in stems for p in TERM_PREFIX[field_name]))
    else:
        raise QueryError(f"The {ENGINE_NAME} engine cannot search for {q}.")
    if field_name == "source":
        return _Leaf("source_key", op, (text.strip().lower(),))
    if field_name == "tags":
        return _Leaf("terms", op, ("g:" + text.strip().lower(),))
    if field_name == "authors":
        words = text.split()
        return _Leaf("terms", op, (("A:" if len(words) > 1 else "a:") + " ".join(words),))
    if field_name in TERM_PREFIX:
        stem = stem_word(text)
        if not negated:
            compiled.stems.add(stem)
            if field_name == "content" and text not in compiled.words:
                compiled.words.append(text)
        return _Leaf("terms", op, tuple(p + stem for p in TERM_PREFIX[field_name]))
    raise QueryError(f"The {ENGINE_NAME} engine cannot search the field {field_name!r}.")
