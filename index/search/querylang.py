"""The query language: user text to a Whoosh query, with the checks and rewrites that keep it safe.

Words, ``"phrases"``, ``field:term`` (title, summary, source, author, tag), ``AND``/``OR``/``NOT``,
``-word``, ``prefix*`` and ``fuzzy~``. Bare words are OR-ed so a sentence still finds what it is about;
short keyword queries rank items with every word above items with some (see :func:`tier_all_words`),
and a word said several times weighs that many times (see :func:`weigh_repeated_words`). Text of more
than a few words is a sentence, often pasted, and is read more leniently (see :func:`prepare_text`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from whoosh import qparser, query
from whoosh.qparser import plugins

from index.errors import QueryError
from index.search.analysis import WORD_PATTERN, stem_word, word_parts
from index.search.expansion import (
    MAX_EXPANSIONS,
    MAX_FUZZY_DISTANCE,
    MAX_PHRASE_WORDS,
    TEXT_FIELDS,
    Budget,
    expand_fuzzy,
    expand_prefix,
)
from index.search.schema import DEFAULT_FIELD, QUERY_FIELDS

# The longest query the engine takes: a pasted abstract or a long question (POST /v1/search). A GET
# keeps the shorter service.schemas.MAX_GET_QUERY_CHARS, which a URL carries safely.
MAX_QUERY_CHARS = 10_000
# Queries of at most this many bare words rank items holding all of them first; longer ones are
# sentences, where requiring every word would bury good matches (SciFact claims average ~12 words).
MAX_TIER_WORDS = 5
# Large enough that any item matching all words outscores any matching only some.
TIER_BOOST = 1000.0

# ``+word`` and ``-word`` only where a word starts: Whoosh's own markers match any + or -, which turns
# "pre-miRNA" into "pre NOT mirna" and makes a bare "(+)" raise.
_PLUS = r"(?<![^\s(])\+(?=[\w\"(])"
_MINUS = r"(?<![^\s(])-(?=[\w\"(])"


class _PrefixPlugin(plugins.TaggingPlugin):  # type: ignore[misc]
    """``word*`` only: Whoosh's own wildcard plugin would also take ``?``, which ends many questions."""

    class PrefixNode(qparser.syntax.TextNode):  # type: ignore[misc]
        qclass = query.Prefix

        def r(self) -> str:
            return f"{self.text!r}*"

    expr = r"(?P<text>[^\s\"()*:~^]+)\*(?=$|[\s)])"
    nodetype = PrefixNode


# Whoosh's operator words (OperatorsPlugin's defaults).
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE)\b")
_SYNTAX_PAIRS = re.compile(r'["()]')


def is_sentence(text: str) -> bool:
    """Return True for text of more than MAX_TIER_WORDS words: a sentence rather than keywords."""
    return len(WORD_PATTERN.findall(text)) > MAX_TIER_WORDS


def prepare_text(text: str) -> str:
    """Return the text to parse, or raise QueryError when it is too long or its syntax does not pair up.

    A sentence (:func:`is_sentence`) is read as the text it most likely is. Written all in capitals,
    as old test collections and shouted questions are, its AND, OR and NOT are words, not operators
    (there is no other case for an operator to stand out from). And when its quotes or brackets do not
    pair up, as in pasted text that quotes a title without closing it, they are read as punctuation
    instead of refusing the query; keywords with a stray quote are still refused, to be fixed.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}.")
    if not is_sentence(text):
        check_syntax(text)
    else:
        if not any(c.islower() for c in text):
            text = _OPERATORS.sub(lambda m: m.group(0).lower(), text)
        try:
            check_syntax(text)
        except QueryError:
            text = _SYNTAX_PAIRS.sub(" ", text)
    check_operators(text)
    return text


# Outside phrases: ``word~N`` (or ``~N/prefix``) as typed, before the parser reads one digit of N and
# stems the word; ``NOT`` straight before another operator, which Whoosh's parser fails on ("list index
# out of range"); a ``-`` or ``+`` just inside a group that is itself negated or required, another crash.
_FUZZY_TYPED = re.compile(r"([^\s\"()~*]+)~(\d+)")
_NOT_THEN_OPERATOR = re.compile(r"(?<![^\s(])NOT\s+(NOT|AND|OR)(?![^\s()])")
_NESTED_MARKER = re.compile(r"(?<![^\s(])[-+]\(\s*[-+]")
_PHRASE = re.compile(r'"[^"]*"')


def check_syntax(text: str) -> None:
    """Raise QueryError for what the parser would silently misread: unbalanced quotes or brackets."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}.")
    _check_balance(text)


def check_operators(text: str) -> None:
    """Raise QueryError for what the parser would misread or fail on, once quotes and brackets pair up:
    an operator in the wrong place, a fuzzy distance over the limit."""
    # Phrases are blanked (same length, so positions hold): their words are never operators.
    bare = _PHRASE.sub(lambda m: " " * len(m.group()), text)
    for match in _FUZZY_TYPED.finditer(bare):
        distance = int(match.group(2))
        if distance > MAX_FUZZY_DISTANCE:
            raise QueryError(f"Fuzzy distance {distance} is over the limit of {MAX_FUZZY_DISTANCE}: "
                             f"'{match.group()}'.")
    operator = _NOT_THEN_OPERATOR.search(bare)
    if operator is not None:
        raise QueryError(f"NOT at position {operator.start() + 1} is followed by {operator.group(1)}: "
                         "put the word, phrase or group to leave out right after NOT.")
    nested = _NESTED_MARKER.search(bare)
    if nested is not None:
        raise QueryError(f"'{nested.group()}' at position {nested.start() + 1}: a group that is excluded or "
                         "required cannot start with another '-' or '+'.")


def unparsable(exc: Exception) -> QueryError:
    """Return the QueryError for a query the parser failed on in a way the checks above did not foresee."""
    return QueryError("The query could not be parsed: check that AND, OR, NOT, '-' and '+' each have a word, "
                      f"phrase or group after them ({type(exc).__name__}).")


def no_words(text: str) -> QueryError:
    """Return the QueryError for a query that leaves nothing to look for."""
    if re.search(_MINUS, text):
        return QueryError("The query only says what to leave out: it needs at least one word to look for. To "
                          "browse every item, leave q out; for every item without a word, write NOT word.")
    return QueryError("The query has no searchable words (only stop words or punctuation).")


def _check_balance(text: str) -> None:
    quotes = [m.start() for m in re.finditer('"', text)]
    if len(quotes) % 2:
        raise QueryError(f"Unbalanced quote at position {quotes[-1] + 1}: close the phrase with another \".")
    depth = 0
    in_phrase = False
    for pos, char in enumerate(text, start=1):
        if char == '"':
            in_phrase = not in_phrase
        elif in_phrase:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"Unbalanced parenthesis at position {pos}: ')' without '('.")
    if depth > 0:
        raise QueryError("Unbalanced parenthesis: a '(' is never closed.")


def make_parser(schema: Any, *, match_all: bool) -> Any:
    """Return a parser for the default field with our plugins."""
    group = qparser.AndGroup if match_all else qparser.OrGroup
    parser = qparser.QueryParser(DEFAULT_FIELD, schema, group=group)
    parser.remove_plugin_class(plugins.WildcardPlugin)
    parser.remove_plugin_class(plugins.BoostPlugin)
    parser.remove_plugin_class(plugins.RangePlugin)
    parser.add_plugin(_PrefixPlugin())
    parser.add_plugin(plugins.FuzzyTermPlugin())
    parser.add_plugin(plugins.PlusMinusPlugin(plusexpr=_PLUS, minusexpr=_MINUS))
    aliases: dict[str, list[str]] = {}
    for alias, field in QUERY_FIELDS.items():
        if alias != field:
            aliases.setdefault(field, []).append(alias)
    parser.add_plugin(plugins.FieldAliasPlugin(aliases))
    return parser


def parse_query(
    text: str,
    schema: Any,
    reader: Any,
    *,
    match_all: bool = False,
    source_names: Callable[[str], str | None] | None = None,
) -> Any:
    """Parse user text into a Whoosh query, or raise QueryError saying what is wrong with it."""
    text = prepare_text(text)
    parser = make_parser(schema, match_all=match_all)
    try:
        # Not normalised yet: normalising drops repeated words, which weigh_repeated_words counts first.
        unnormalised = parser.parse(text, normalize=False)
        repeats = _repeated_words(unnormalised)
        parsed = unnormalised.normalize()
    except Exception as exc:  # the parser has no error type of its own; anything it raises is bad input
        raise unparsable(exc) from None
    # The parser stems a fuzzy word before we see it; keep the words as typed to expand them unstemmed.
    raw = {stem_word(w.lower()): w.lower() for w in re.findall(r"([^\s\"()~:*]+)~", text)}
    budget = Budget()
    rewritten = require_filters(
        rewrite_tree(parsed, lambda node: _resolve(node, reader, source_names, raw, budget))
    )
    if rewritten is query.NullQuery:
        raise no_words(text)
    rewritten = weigh_repeated_words(rewritten, repeats)
    if not match_all:
        rewritten = tier_all_words(rewritten)
    return add_word_parts(rewritten, word_parts(text))


# Fields that narrow rather than describe: ``source:x diffusion`` means diffusion items from x.
_FILTER_FIELDS = frozenset({"source", "authors", "tags"})


def require_filters(q: Any) -> Any:
    """Give OR groups the meaning people expect of ``a NOT b`` and ``source:x a``.

    The OR grouping that lets a sentence match would otherwise read ``a NOT b`` as "a, or anything
    without b" and ``source:x a`` as "anything from x, or a": negations and filter fields become
    requirements on the OR of the remaining words.
    """
    if isinstance(q, query.Or):
        children = [require_filters(c) for c in q.subqueries]
        negated = [c.query for c in children if isinstance(c, query.Not)]
        filters = [
            c for c in children if isinstance(c, query.Term | query.Phrase) and c.fieldname in _FILTER_FIELDS
        ]
        words = [c for c in children if not isinstance(c, query.Not) and not any(c is f for f in filters)]
        if not negated and not filters:
            copy = q.copy()
            copy.subqueries = children
            return copy
        positive: Any = None
        if words:
            positive = words[0] if len(words) == 1 else query.Or(words)
        if filters:
            positive = query.And([*filters, positive] if positive is not None else filters)
        if negated:
            excluded = negated[0] if len(negated) == 1 else query.Or(negated)
            # And + Not, never AndNot: Whoosh's AndNotMatcher returns excluded documents once
            # indexes have several segments (tests/index/test_whoosh_defects.py).
            return query.And([positive, query.Not(excluded)]) if positive is not None else query.Not(excluded)
        return positive
    if isinstance(q, query.BinaryQuery):
        copy = q.copy()
        copy.a = require_filters(q.a)
        copy.b = require_filters(q.b)
        return copy
    if isinstance(q, query.CompoundQuery):
        copy = q.copy()
        copy.subqueries = [require_filters(c) for c in q.subqueries]
        return copy
    return q


def _repeated_words(q: Any) -> Counter[str]:
    """Count each bare word of the default field among a parsed query's words (Or and And groups)."""
    counts: Counter[str] = Counter()
    _count_words(q, counts)
    return Counter({word: n for word, n in counts.items() if n > 1})


def _count_words(q: Any, counts: Counter[str]) -> None:
    if isinstance(q, query.Term):
        if q.fieldname == DEFAULT_FIELD and q.boost == 1.0:
            counts[q.text] += 1
    elif type(q) in (query.Or, query.And):
        for child in q.subqueries:
            _count_words(child, counts)


def weigh_repeated_words(q: Any, repeats: Counter[str]) -> Any:
    """Return ``q`` with each bare word said n times in the query weighing n times.

    Parsing drops repeated words, so "associative stores, associative memories, associative
    processors" would weigh "associative" once; BM25 as Lucene and bm25s run it sums a repeated term
    once per occurrence (query-term frequency), and long questions that repeat what they are about
    ranked measurably better for it (docs/ranking-notes.md).
    """
    if not repeats:
        return q
    if isinstance(q, query.Term):
        n = repeats.get(q.text, 1) if q.fieldname == DEFAULT_FIELD else 1
        return q if n == 1 else query.Term(q.fieldname, q.text, boost=q.boost * n)
    if type(q) in (query.Or, query.And):
        copy = q.copy()
        copy.subqueries = [weigh_repeated_words(child, repeats) for child in q.subqueries]
        return copy
    return q


def tier_all_words(q: Any) -> Any:
    """Rank items holding every word of a short bag-of-words query above items holding some.

    ``a OR b`` becomes ``(a AND b)^BIG OR (a OR b)``: the scores of all-word items gain BIG times
    their own BM25 sum, so they order among themselves exactly as before and above all the others.
    """
    if not isinstance(q, query.Or):
        return q
    terms = q.subqueries
    if not (2 <= len(terms) <= MAX_TIER_WORDS):
        return q
    if not all(isinstance(t, query.Term) and t.fieldname == DEFAULT_FIELD for t in terms):
        return q
    boosted = query.And([query.Term(t.fieldname, t.text, boost=TIER_BOOST) for t in terms])
    return query.Or([boosted, q])


class WordParts(query.Or):  # type: ignore[misc]
    """The letter and digit parts of a query's words ("ADAR1" -> adar, 1), as optional terms.

    They only add to the scores of items that match anyway: never widen the match set, and never
    highlighted. On SciFact they found gene families for numbered members and variant spellings
    ("ADAR1" / "ADAR", "Bcl2" / "Bcl-2"): see docs/ranking-notes.md.
    """


def add_word_parts(q: Any, parts: dict[str, list[str]]) -> Any:
    """Return ``q`` with the parts of its positive words (``analysis.word_parts``) as optional terms."""
    if not parts:
        return q
    present: list[tuple[str, str]] = []
    _positive_terms(q, present)
    seen = set(present)
    extra: list[Any] = []
    for fieldname, text in present:
        for part in parts.get(text, ()):
            if (fieldname, part) not in seen:
                seen.add((fieldname, part))
                extra.append(query.Term(fieldname, part))
    return query.AndMaybe(q, WordParts(extra)) if extra else q


def _positive_terms(q: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(q, query.Not):
        return
    if isinstance(q, query.AndNot):
        _positive_terms(q.a, found)
        return
    if isinstance(q, query.Term):
        if q.fieldname in TEXT_FIELDS and (q.fieldname, q.text) not in found:
            found.append((q.fieldname, q.text))
        return
    for child in q.children():
        _positive_terms(child, found)


def highlight_terms(q: Any, reader: Any) -> set[str]:
    """Return the index words a query looks for in the text fields (negated parts excluded)."""
    found: set[str] = set()
    _collect_terms(q, reader, found)
    return found


def _collect_terms(q: Any, reader: Any, found: set[str]) -> None:
    if isinstance(q, query.Not | WordParts):
        return
    if isinstance(q, query.AndNot):
        _collect_terms(q.a, reader, found)
        return
    if isinstance(q, query.Term):
        if q.fieldname in TEXT_FIELDS:
            found.add(q.text)
        return
    if isinstance(q, query.Phrase):
        if q.fieldname in TEXT_FIELDS:
            found.update(q.words)
        return
    if isinstance(q, query.MultiTerm):
        if q.fieldname in TEXT_FIELDS:
            for i, btext in enumerate(q._btexts(reader)):
                if i >= MAX_EXPANSIONS:
                    break
                found.add(btext.decode("utf-8") if isinstance(btext, bytes) else btext)
        return
    for child in q.children():
        _collect_terms(child, reader, found)


def rewrite_tree(q: Any, visit: Callable[[Any], Any | None]) -> Any:
    """Return ``q`` rebuilt top-down, with ``visit`` replacing any node it returns a query for (or
    refusing it by raising QueryError), and ``a ANDNOT b`` as ``a AND NOT b``.

    Whoosh's AndNotMatcher returns excluded documents in multi-segment indexes, and Typesense has no
    ANDNOT: both engines read the And + Not form.
    """
    replaced = visit(q)
    if replaced is not None:
        return replaced
    if isinstance(q, query.Wildcard):
        raise QueryError("Only trailing '*' wildcards are supported (prefix*).")
    if isinstance(q, query.AndNot):
        return query.And([rewrite_tree(q.a, visit), query.Not(rewrite_tree(q.b, visit))])
    if isinstance(q, query.AndMaybe | query.Require | query.Otherwise):
        copy = q.copy()
        copy.a = rewrite_tree(q.a, visit)
        copy.b = rewrite_tree(q.b, visit)
        return copy
    if isinstance(q, query.CompoundQuery):
        copy = q.copy()
        copy.subqueries = [rewrite_tree(c, visit) for c in q.subqueries]
        return copy.normalize()
    if isinstance(q, query.Not):
        return query.Not(rewrite_tree(q.query, visit), boost=q.boost)
    return q


def _resolve(q: Any, reader: Any, source_names: Callable[[str], str | None] | None,
             raw: dict[str, str], budget: Budget) -> Any | None:
    """Expand prefixes and fuzzy terms over the index, name sources as stored, split compound phrases."""
    if isinstance(q, query.Prefix):
        return expand_prefix(q, reader, budget)
    if isinstance(q, query.FuzzyTerm):
        return expand_fuzzy(q, reader, raw, budget)
    if isinstance(q, query.Term) and q.fieldname == "source" and source_names is not None:
        name = source_names(str(q.text))
        return query.Term("source", name if name is not None else q.text, boost=q.boost)
    if isinstance(q, query.Phrase) and q.fieldname == "source" and source_names is not None:
        text = " ".join(q.words)
        name = source_names(text)
        return query.Term("source", name if name is not None else text, boost=q.boost)
    if isinstance(q, query.Phrase) and q.fieldname in TEXT_FIELDS:
        if len(q.words) > MAX_PHRASE_WORDS:
            raise QueryError(
                f"A phrase may hold at most {MAX_PHRASE_WORDS} words; this one has {len(q.words)}: "
                "search for its most telling part."
            )
        budget.charge_phrase()
        return _phrase_parts(q)
    return None


def _phrase_parts(q: Any) -> Any:
    """Drop the run-together form of a compound from a phrase, keeping its parts.

    The analyzer gives "IL-6" as ``il6`` and then ``il``, ``6`` (``il6`` sharing the position of
    ``il``); a phrase needs one word per position, and the parts are what every spelling has.
    """
    ranges = q.char_ranges
    if not ranges or len(ranges) != len(q.words) or any(r[0] is None for r in ranges):
        return q
    keep = [
        i for i, (start, end) in enumerate(ranges)
        if not (i + 1 < len(ranges) and start <= ranges[i + 1][0] and ranges[i + 1][1] <= end
                and (start, end) != ranges[i + 1])
    ]
    if len(keep) == len(q.words):
        return q
    words = [q.words[i] for i in keep]
    if len(words) == 1:
        return query.Term(q.fieldname, words[0], boost=q.boost)
    return query.Phrase(q.fieldname, words, slop=q.slop, boost=q.boost, char_ranges=[ranges[i] for i in keep])

