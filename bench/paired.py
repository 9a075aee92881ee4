"""A paired randomisation test between two relevance runs, collection by collection and over all of them.

``python bench/paired.py BEFORE.json AFTER.json [--measure nDCG@10] [--rounds 10000]`` where both files
are ``bench/relevance.py --per-query`` output. For each collection it prints both means, the mean
per-query difference and a two-sided p-value from flipping the sign of each query's difference at
random (Fisher's randomisation test, as Smucker et al. recommend for IR evaluation); the last line
does the same for the mean over collections (each collection weighted equally, signs flipped within
each), which is what "the whole table" is judged on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SEED = 17


def differences(before: dict[str, float], after: dict[str, float]) -> np.ndarray:
    """Return after - before for every query the two runs share, in a fixed order."""
    shared = sorted(set(before) & set(after))
    return np.array([after[q] - before[q] for q in shared], dtype=np.float64)


def p_value(groups: Sequence[np.ndarray], rounds: int, seed: int = SEED) -> float:
    """Return the two-sided p-value of the mean over groups of each group's mean difference."""
    rng = np.random.default_rng(seed)
    observed = abs(float(np.mean([g.mean() for g in groups])))
    total = np.zeros(rounds)
    for g in groups:
        signs = rng.choice((-1.0, 1.0), size=(rounds, g.size))
        total += (signs * g).mean(axis=1)
    flipped = np.abs(total / len(groups))
    # Counting the observed assignment itself keeps p above 0 (a permutation test's usual +1).
    return float((np.sum(flipped >= observed - 1e-12) + 1) / (rounds + 1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--measure", default="nDCG@10")
    parser.add_argument("--rounds", type=int, default=10_000)
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text(encoding="utf-8"))
    after = json.loads(args.after.read_text(encoding="utf-8"))
    names = [n for n in before if n in after]
    groups = []
    print(f"{'collection':<12} {'queries':>7} {'before':>8} {'after':>8} {'diff':>8} {'p':>7}")
    for name in names:
        b, a = before[name][args.measure], after[name][args.measure]
        d = differences(b, a)
        groups.append(d)
        print(f"{name:<12} {d.size:>7} {np.mean(list(b.values())):>8.4f} {np.mean(list(a.values())):>8.4f} "
              f"{d.mean():>+8.4f} {p_value([d], args.rounds):>7.4f}")
    if groups:
        macro = float(np.mean([g.mean() for g in groups]))
        print(f"{'mean':<12} {sum(g.size for g in groups):>7} {'':>8} {'':>8} {macro:>+8.4f} "
              f"{p_value(groups, args.rounds):>7.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
