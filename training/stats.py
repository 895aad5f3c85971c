"""Paired significance tests and intervals for comparing two models on the same examples.

Pure Python (no numpy, no scipy): the gate runs them in the training worker and the
benchmark in its own process; a few thousand resamples of a few hundred examples take
well under a second.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 4000


@dataclass(frozen=True)
class PairedResult:
    n: int
    mean_a: float
    mean_b: float
    gain: float  # mean_b - mean_a
    ci_low: float  # 95 % interval of the gain
    ci_high: float
    p_value: float  # one-sided: the chance of a gain this large if b were no better than a
    test: str

    def as_dict(self) -> dict[str, float | int | str]:
        return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in asdict(self).items()}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> PairedResult:
    """Resample examples (pairs kept together); p is the share of resamples whose gain is <= 0,
    i.e. a one-sided test that ``b`` beats ``a``."""
    if len(a) != len(b):
        raise ValueError("paired_bootstrap: both models must be scored on the same examples")
    n = len(a)
    if n == 0:
        return PairedResult(0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, "paired bootstrap")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    not_better = sum(1 for m in means if m <= 0)
    return PairedResult(n=n, mean_a=sum(a) / n, mean_b=sum(b) / n, gain=sum(diffs) / n,
                        ci_low=means[int(0.025 * resamples)], ci_high=means[int(0.975 * resamples) - 1],
                        p_value=(not_better + 1) / (resamples + 1), test="paired bootstrap")


def exact_mcnemar(a: Sequence[bool], b: Sequence[bool]) -> PairedResult:
    """Two models right/wrong on the same examples: a one-sided exact sign test on the
    discordant pairs (b right where a was wrong, against the reverse)."""
    if len(a) != len(b):
        raise ValueError("exact_mcnemar: both models must be scored on the same examples")
    n = len(a)
    b_only = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    a_only = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    discordant = a_only + b_only
    # P(X >= b_only) for X ~ Binomial(discordant, 1/2)
    p = sum(math.comb(discordant, k) for k in range(b_only, discordant + 1)) / 2 ** discordant if discordant else 1.0
    mean_a = sum(a) / n if n else 0.0
    mean_b = sum(b) / n if n else 0.0
    low, high = _newcombe_paired(a, b)
    return PairedResult(n=n, mean_a=mean_a, mean_b=mean_b, gain=mean_b - mean_a, ci_low=low, ci_high=high,
                        p_value=p, test="exact McNemar (sign test on discordant pairs)")


def _newcombe_paired(a: Sequence[bool], b: Sequence[bool]) -> tuple[float, float]:
    """A simple 95 % interval for a paired difference of proportions (normal approximation
    on the per-example differences, clipped to [-1, 1])."""
    n = len(a)
    if n < 2:
        return (-1.0, 1.0)
    diffs = [int(y) - int(x) for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / n
    variance = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    half = 1.96 * math.sqrt(variance / n)
    return (max(-1.0, mean - half), min(1.0, mean + half))


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
                  ) -> tuple[float, float]:
    """95 % bootstrap interval of a mean."""
    n = len(values)
    if n == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return (means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1])
