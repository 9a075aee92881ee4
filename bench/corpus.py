"""The seeded synthetic feed corpus and query set that every engine in the speed benchmark is measured on.

Items are prefix-stable: the first k items of ``generate_items(n, seed)`` are the same for every n >= k,
because each block of items draws from its own generator seeded by (seed, block number). That is what lets
``generate_queries`` take its phrases from a small sample and still have them match a larger corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from index.model import make_item_id

VOCAB_SIZE = 30_000
ZIPF_S = 1.1
# A Mandelbrot offset flattens the head so "the" is ~4% of tokens as in English text, not the ~14% that
# a pure s=1.1 power law over this vocabulary would give.
ZIPF_Q = 2.7
N_SOURCES = 20
SOURCES = tuple(f"src{k}" for k in range(1, N_SOURCES + 1))
PERIOD_START = np.datetime64("2023-11-01T00:00:00", "s")
PERIOD_END = np.datetime64("2026-11-01T00:00:00", "s")
TITLE_WORDS = (6, 14)
SUMMARY_WORDS = (80, 250)
# Items per independently seeded block; changing it changes every corpus, so it is part of the format.
BLOCK = 1024
# Kept apart from the caller's seed so the vocabulary, author and tag pools are the same for every corpus.
_POOL_SEED = 20261031
# Probability that a summary position starts a stock two-word collocation; gives phrase queries real hits
# beyond the one document a random adjacent pair comes from.
_COLLOCATION_RATE = 0.015
_SENTENCE_END_RATE = 1 / 16

# Function words ordered roughly by English frequency; they take the top ranks and cover Whoosh's English
# stop list, so stop-word removal in an engine sees realistic input.
FUNCTION_WORDS = (
    "the of and to a in is for that on with as we by this are be from an it at or which can our not these "
    "have has was their its also but more than such both into while when how other each they been were "
    "there all may will only between over through most some them then where about under so no if one "
    "two any same very after before during because being those what who whom why here own few further "
    "again against above below up down out off once too until just now should did do does doing don had "
    "having he her hers herself him himself his i me my myself nor ours ourselves she theirs themselves "
    "itself you your yours yourself yourselves am s t"
).split()

_CONTENT_HEAD = 20
# Content words, the first _CONTENT_HEAD in frequency order, with several inflections of one stem so that a
# stemming analyzer has work to do.
CONTENT_WORDS = (
    "model learning data results using models based method performance propose network training show "
    "language approach large neural deep methods task modeling learn learned learns networks train trained "
    "result tasks "
    "proposed proposes shows shown dataset datasets image images text generation generate generated "
    "generative attention transformer transformers graph graphs reinforcement policy policies agent agents "
    "robust robustness optimization optimize optimizer optimizing gradient gradients loss inference "
    "benchmark benchmarks evaluation evaluate evaluated accuracy efficient efficiency framework frameworks "
    "representation representations features feature prediction predict predicting classification "
    "classifier detection segmentation retrieval search query queries embedding embeddings vision visual "
    "speech audio video multimodal knowledge reasoning memory sparse dense scaling scale scalable compute "
    "computational hardware distributed federated privacy secure security adversarial attack attacks "
    "defense fairness bias alignment human feedback reward rewards preference preferences instruction "
    "instructions tuning fine pretrained pretraining diffusion latent sampling samples sample noise signal "
    "time series forecasting temporal spatial point cloud object objects scene semantic question answering "
    "translation machine domain adaptation transfer contrastive supervised unsupervised self labels label "
    "zero shot prompt prompts prompting context contexts token tokens sequence sequences recurrent "
    "convolutional layer layers parameters parameter linear nonlinear theory theoretical analysis analyze "
    "empirical experiments experimental simulation physics biology protein molecular chemistry medical "
    "clinical health patients robot robots robotic control planning state space function functions "
    "via novel paper work study existing recent recognition mechanism structure benchmarking"
).split()

COLLOCATIONS = (
    ("neural", "networks"),
    ("language", "models"),
    ("reinforcement", "learning"),
    ("large", "language"),
    ("graph", "neural"),
    ("diffusion", "models"),
    ("contrastive", "learning"),
    ("object", "detection"),
    ("machine", "translation"),
    ("speech", "recognition"),
    ("time", "series"),
    ("knowledge", "graph"),
    ("zero", "shot"),
    ("federated", "learning"),
    ("transfer", "learning"),
    ("attention", "mechanism"),
    ("state", "space"),
    ("loss", "function"),
    ("training", "data"),
    ("point", "cloud"),
    ("semantic", "segmentation"),
    ("question", "answering"),
    ("domain", "adaptation"),
    ("representation", "learning"),
    ("human", "feedback"),
    ("fine", "tuning"),
    ("adversarial", "attacks"),
    ("protein", "structure"),
    ("medical", "image"),
    ("robot", "control"),
    ("reward", "model"),
)

TAGS = (
    "machine-learning nlp computer-vision robotics speech theory optimization security privacy fairness "
    "graphs reinforcement-learning generative-models datasets benchmarks hardware systems databases "
    "information-retrieval recommender-systems healthcare biology chemistry physics climate finance "
    "education law policy ethics interpretability multimodal audio video time-series forecasting "
    "quantum statistics causality agents alignment evaluation efficiency"
).split()

_ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fl gr pl pr st tr ch sh th".split()
_VOWELS = "a e i o u ai ea ou io".split()
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "x", "nd", "st"]


class Item(TypedDict):
    """One generated feed item, shaped as a JSON Lines record for feedsift's ingest."""

    id: str
    title: str
    summary: str
    link: str
    source: str
    published: str
    authors: list[str]
    tags: list[str]


class SearchParams(TypedDict, total=False):
    """The /v1/search parameters one benchmark query sends; absent keys take the service defaults."""

    q: str
    source: list[str]
    since: str
    until: str
    sort: str
    match: str


class _Pools:
    """The fixed vocabulary by rank, its cumulative distributions, and the author and tag pools."""

    def __init__(self) -> None:
        rng = random.Random(_POOL_SEED)
        real = set(FUNCTION_WORDS) | set(CONTENT_WORDS)
        pseudo = _pseudo_words(rng, VOCAB_SIZE - len(real), exclude=real)
        self.words = _assign_ranks(pseudo)
        self.is_function = np.isin(self.words, FUNCTION_WORDS)
        weights = (np.arange(1, VOCAB_SIZE + 1) + ZIPF_Q) ** -ZIPF_S
        self.body_cdf = _cdf(weights)
        # Headlines drop most function words; a quarter of their text weight keeps "of"/"for" plausible.
        self.title_cdf = _cdf(np.where(self.is_function, weights * 0.25, weights))
        # Searchers type content words, so query terms come from the same curve with function words removed.
        self.query_cdf = _cdf(np.where(self.is_function, 0.0, weights))
        self.plain = self.words.astype(object)
        self.capital = np.array([w[:1].upper() + w[1:] for w in self.words], dtype=object)
        self.dotted = np.array([w + "." for w in self.words], dtype=object)
        self.capital_dotted = np.array([w + "." for w in self.capital], dtype=object)
        rank = {w: i for i, w in enumerate(self.words)}
        self.colloc = np.array([[rank[a], rank[b]] for a, b in COLLOCATIONS], dtype=np.int64)
        names = _pseudo_words(rng, 1200, exclude=real | set(pseudo))
        firsts, lasts = names[:300], names[300:]
        self.authors = np.array(
            [f"{f.capitalize()} {rng.choice(lasts).capitalize()}" for f in firsts for _ in range(10)],
            dtype=object,
        )
        self.author_cdf = _cdf(np.arange(1, len(self.authors) + 1) ** -0.8)
        self.tags = np.array(TAGS, dtype=object)
        self.tag_cdf = _cdf(np.arange(1, len(TAGS) + 1) ** -1.0)
        self.source_cdf = _cdf(np.arange(1, N_SOURCES + 1) ** -0.9)


def _pseudo_words(rng: random.Random, n: int, exclude: set[str]) -> list[str]:
    """Return n distinct syllable-built words of at least four letters, none in ``exclude``."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        syllables = rng.choice((2, 2, 2, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        # Four letters or more keeps short pseudo-words from colliding with stop words ("to", "be").
        if len(word) >= 4 and word not in seen and word not in exclude:
            seen.add(word)
            out.append(word)
    return out


def _assign_ranks(pseudo: list[str]) -> npt.NDArray[np.str_]:
    """Return the vocabulary in rank order: function words at the top, content words spread to rank ~5000."""
    slots: list[str | None] = [None] * VOCAB_SIZE
    # The listed head keeps its order; the rest is shuffled so inflections of one stem get unrelated ranks.
    head, tail = CONTENT_WORDS[:_CONTENT_HEAD], CONTENT_WORDS[_CONTENT_HEAD:]
    tail = sorted(tail, key=lambda w: random.Random(f"{_POOL_SEED}:{w}").random())
    n = len(CONTENT_WORDS)
    r = 0
    for i, word in enumerate(head + tail):
        # Geometric spacing from rank 15 to ~5000, but at least three ranks apart so function words still
        # hold most of the top hundred as they do in English.
        r = max(r + 3, round(15 * (5000 / 15) ** (i / (n - 1))))
        slots[r] = word
    # Shorter pseudo-words take the more frequent ranks, as short words do in natural language.
    rest = iter(list(FUNCTION_WORDS) + sorted(pseudo, key=len))
    return np.array([s if s is not None else next(rest) for s in slots])


def _cdf(weights: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """Return the normalised cumulative distribution of non-negative weights."""
    cdf: npt.NDArray[np.float64] = np.cumsum(weights, dtype=np.float64)
    cdf /= cdf[-1]
    return cdf


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    return _Pools()


def _draw(rng: np.random.Generator, cdf: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.int64]:
    """Draw indices from a truncated discrete distribution given by its CDF."""
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _texts(
    pools: _Pools,
    ranks: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    sentences: bool,
    rng: np.random.Generator,
) -> list[str]:
    """Join word ranks into one string per item; with ``sentences`` also cut them into sentences."""
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    first = np.zeros(len(ranks), dtype=bool)
    first[bounds[:-1]] = True
    if sentences:
        last = rng.random(len(ranks)) < _SENTENCE_END_RATE
        last[bounds[1:] - 1] = True
        first[1:] |= last[:-1]
    else:
        last = np.zeros(len(ranks), dtype=bool)
    words = pools.plain[ranks]
    words[last] = pools.dotted[ranks[last]]
    words[first] = pools.capital[ranks[first]]
    both = first & last
    words[both] = pools.capital_dotted[ranks[both]]
    return [" ".join(words[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _picks(
    rng: np.random.Generator,
    pool: npt.NDArray[Any],
    cdf: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
) -> list[list[str]]:
    """Return, per item, ``counts[i]`` distinct values drawn from ``pool`` by ``cdf``."""
    drawn = pool[_draw(rng, cdf, int(counts.sum()))].tolist()
    bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
    return [list(dict.fromkeys(drawn[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _block(seed: int, block: int, size: int) -> list[Item]:
    """Return block number ``block`` of the corpus for ``seed``."""
    pools = _pools()
    rng = np.random.default_rng([seed, block])
    title_len = rng.integers(TITLE_WORDS[0], TITLE_WORDS[1] + 1, size)
    # Summary lengths lean short (triangular with its mode at the minimum), as feed abstracts do.
    summary_len = np.floor(rng.triangular(SUMMARY_WORDS[0], SUMMARY_WORDS[0], SUMMARY_WORDS[1] + 1, size))
    summary_len = summary_len.astype(np.int64)
    title_ranks = _draw(rng, pools.title_cdf, int(title_len.sum()))
    body_ranks = _draw(rng, pools.body_cdf, int(summary_len.sum()))
    at = np.flatnonzero(rng.random(len(body_ranks) - 1) < _COLLOCATION_RATE)
    pair = pools.colloc[rng.integers(0, len(pools.colloc), len(at))]
    body_ranks[at] = pair[:, 0]
    body_ranks[at + 1] = pair[:, 1]
    titles = _texts(pools, title_ranks, title_len, False, rng)
    summaries = _texts(pools, body_ranks, summary_len, True, rng)
    sources = _draw(rng, pools.source_cdf, size).tolist()
    # Feed volume grows over the period: density rises linearly to twice its starting value (inverse CDF).
    frac = np.sqrt(1 + 3 * rng.random(size)) - 1
    seconds = (frac * (PERIOD_END - PERIOD_START).astype(np.int64)).astype(np.int64)
    published = np.datetime_as_string(PERIOD_START + seconds.astype("timedelta64[s]"), unit="s").tolist()
    authors = _picks(rng, pools.authors, pools.author_cdf, 1 + rng.binomial(4, 0.4, size))
    tags = _picks(rng, pools.tags, pools.tag_cdf, rng.binomial(4, 0.4, size))
    items: list[Item] = []
    for i in range(size):
        n = block * BLOCK + i
        source = SOURCES[sources[i]]
        link = f"https://{source}.example.com/p/{n}"
        items.append(
            Item(
                # The id feedsift derives from a link, so hits from every engine compare by id.
                id=make_item_id(guid=None, link=link, title=titles[i], source=source),
                title=titles[i],
                summary=summaries[i],
                link=link,
                source=source,
                published=published[i] + "Z",
                authors=authors[i],
                tags=tags[i],
            )
        )
    return items


def generate_items(n: int, seed: int = 42) -> Iterator[Item]:
    """Yield n synthetic feed items, deterministic for (n, seed) and prefix-stable across n."""
    for block in range((n + BLOCK - 1) // BLOCK):
        # Always draw a whole block: the draws depend on its size, and prefix stability needs them fixed.
        yield from _block(seed, block, BLOCK)[: n - block * BLOCK]


def with_copies(items: Iterable[Item], share: float, seed: int = 42) -> Iterator[Item]:
    """Yield the items with about ``share`` of them made copies of one work, 2 to 4 copies per work.

    A work starts at an item, which becomes an arXiv listing entry; the next 1 to 3 items are replaced
    by copies of it from other sources, by the other link forms (Hugging Face page, PDF of a v2,
    alphaXiv), with the title's case changed and dated up to three days later: what feedsift's work
    keys tie together. The number of items is unchanged.
    """
    rng = random.Random(seed)
    # A work of k copies (3 on average) takes k places: share = 3p / (1 + 2p) for a start chance p.
    start = share / (3 - 2 * share) if share > 0 else 0.0
    stream = iter(items)
    works = 0
    for item in stream:
        if rng.random() >= start:
            yield item
            continue
        works += 1
        paper = f"{2300 + works // 90_000:04d}.{works % 90_000 + 10_000:05d}"
        forms = [f"https://huggingface.co/papers/{paper}", f"https://arxiv.org/pdf/{paper}v2",
                 f"https://www.alphaxiv.org/abs/{paper}"]
        base: Item = {**item, "link": f"https://arxiv.org/abs/{paper}"}
        base["id"] = make_item_id(guid=None, link=base["link"], title=base["title"], source=base["source"])
        yield base
        published = np.datetime64(base["published"].rstrip("Z"), "s")
        for link in forms[: rng.randint(1, 3)]:
            if next(stream, None) is None:
                return
            source = rng.choice([s for s in SOURCES if s != base["source"]])
            title = base["title"].upper() if rng.random() < 0.5 else base["title"] + "."
            later = published + np.timedelta64(rng.randint(0, 3 * 86_400), "s")
            copy_id = make_item_id(guid=None, link=link, title=title, source=source)
            yield {**base, "id": copy_id, "title": title, "link": link, "source": source,
                   "published": np.datetime_as_string(later, unit="s") + "Z"}


def write_jsonl(path: str | Path, n: int, seed: int = 42) -> None:
    """Write ``generate_items(n, seed)`` to ``path`` as JSON Lines."""
    with open(path, "w", encoding="utf-8") as out:
        for item in generate_items(n, seed):
            out.write(json.dumps(item, ensure_ascii=False))
            out.write("\n")


# Query mix as (kind, share); shares follow the brief and the rounding remainder goes to single words.
QUERY_MIX = (
    ("one", 0.40),
    ("two", 0.30),
    ("three", 0.10),
    ("phrase", 0.08),
    ("source", 0.06),
    ("date", 0.04),
    ("browse", 0.02),
)
_WORD = re.compile(r"[a-z]+")


def generate_queries(
    n: int = 500, seed: int = 7, items_sample: Iterable[Item] | None = None
) -> list[SearchParams]:
    """Return n /v1/search parameter dicts in the benchmark's mix, deterministic for a seed.

    Phrases and half of the multi-word queries are taken from ``items_sample``, by default the first 2,000
    items of seed 42, which every corpus built with that seed and at least that many items contains.
    """
    pools = _pools()
    rng = np.random.default_rng(seed)
    sample = list(items_sample) if items_sample is not None else list(generate_items(2000))
    function = set(FUNCTION_WORDS)

    def content(text: str) -> list[str]:
        return [w for w in _WORD.findall(text.lower()) if w not in function]

    def term() -> str:
        # Two in five single terms come from the long tail, so rare-term lookups are measured too.
        if rng.random() < 0.4:
            return str(pools.words[rng.integers(3000, VOCAB_SIZE)])
        return str(pools.words[_draw(rng, pools.query_cdf, 1)[0]])

    def words(k: int) -> str:
        # Half are words from one real title, which match together; half are independent draws, which
        # rarely do.
        if rng.random() < 0.5:
            title = content(sample[rng.integers(len(sample))]["title"])
            if len(title) >= k:
                picked = rng.choice(len(title), k, replace=False)
                return " ".join(title[i] for i in sorted(picked))
        return " ".join(term() for _ in range(k))

    def phrase() -> str:
        while True:
            tokens = sample[rng.integers(len(sample))]["summary"].split()
            pairs = [
                (a.lower(), b.lower().rstrip("."))
                for a, b in zip(tokens, tokens[1:], strict=False)
                if not a.endswith(".") and a.lower() not in function and b.lower().rstrip(".") not in function
            ]
            if pairs:
                a, b = pairs[rng.integers(len(pairs))]
                return f'"{a} {b}"'

    def build(kind: str) -> SearchParams:
        if kind in ("one", "two", "three"):
            return {"q": words({"one": 1, "two": 2, "three": 3}[kind])}
        if kind == "phrase":
            return {"q": phrase()}
        if kind == "source":
            chosen = rng.choice(N_SOURCES, 1 if rng.random() < 0.8 else 2, replace=False)
            return {"q": words(int(rng.integers(1, 3))), "source": [SOURCES[i] for i in sorted(chosen)]}
        if kind == "date":
            start = int(rng.integers(2, 35))
            params: SearchParams = {"q": words(int(rng.integers(1, 3))), "since": _month_start(start)}
            if rng.random() < 0.3:
                params["until"] = _month_start(int(rng.integers(start + 1, 37)))
            return params
        return {"q": ""}

    kinds: list[str] = []
    for kind, share in QUERY_MIX[1:]:
        kinds += [kind] * round(n * share)
    kinds = ["one"] * max(0, n - len(kinds)) + kinds
    kinds = [kinds[i] for i in rng.permutation(len(kinds))][:n]
    return [build(kind) for kind in kinds]


def _month_start(months_after_first: int) -> str:
    """Return the YYYY-MM-DD first day of the month that many months into the corpus period."""
    month = PERIOD_START.astype("datetime64[M]") + np.timedelta64(months_after_first, "M")
    return str(month.astype("datetime64[D]"))


def main(argv: list[str] | None = None) -> int:
    """Write a synthetic corpus as JSON Lines, or the query set as JSON with ``--queries``."""
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=main.__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=0, help="write this many queries instead of items")
    args = parser.parse_args(argv)
    if args.queries:
        args.out.write_text(json.dumps(generate_queries(args.queries), indent=1) + "\n", encoding="utf-8")
    else:
        write_jsonl(args.out, args.items, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
