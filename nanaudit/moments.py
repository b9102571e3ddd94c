"""Channel moments summed exactly: a fold whose result does not depend on the order.

Floating-point addition is not associative: Chan's pairwise formula (``ChannelStats.merge``)
gives last bits that depend on how the images were grouped, so a split's statistics were
the same bytes only when every executor folded its images in the same order. Here each
image's moments are added as the exact rationals they are (a float is an integer times a
power of two): the count, the sum of the values (n × mean) and the sum of their squares
(m2 + n × mean²) are kept as integers over a power of two, and the merged mean S / N and
m2 = Q − S² / N are each rounded once, when the statistics are frozen. Images folded one
at a time in path order, a pool's records in any order, and a Dask worker's partial sums
merged with another's give the same bytes.

A channel whose moments are not finite (values near the float limits) keeps the IEEE sum
of those moments, which is the same in any order: its merged mean is NaN (or its m2 the
infinity).
"""

from __future__ import annotations

import math

from .stats import ChannelStats


def lowest(a: float, b: float) -> float:
    """``min`` that does not depend on the order: -0.0 before 0.0."""
    return b if b < a or (b == a and math.copysign(1.0, b) < 0) else a


def highest(a: float, b: float) -> float:
    """``max`` that does not depend on the order: 0.0 after -0.0."""
    return b if b > a or (b == a and math.copysign(1.0, b) > 0) else a


def _ratio(x: float) -> tuple[int, int]:
    """``x`` as n / 2**k (k >= 0)."""
    n, d = x.as_integer_ratio()
    return n, d.bit_length() - 1


def _divide(num: int, den: int) -> float:
    """num / den correctly rounded (Python's integer true division), ±inf beyond floats."""
    try:
        return num / den
    except OverflowError:
        return math.inf if (num < 0) == (den < 0) else -math.inf


class ExactMoments:
    """One channel's moments summed exactly (see the module's docstring)."""

    __slots__ = ("count", "hi", "inf", "lo", "nan", "q", "qk", "s", "sk", "special", "zeros")

    def __init__(self) -> None:
        self.count = 0
        self.s, self.sk = 0, 0  # Σ n·mean = s / 2**sk
        self.q, self.qk = 0, 0  # Σ (m2 + n·mean²) = q / 2**qk
        self.lo, self.hi = math.inf, -math.inf
        self.nan = self.inf = self.zeros = 0
        # (IEEE sum of the non-finite means, of the non-finite m2s), or None
        self.special: tuple[float, float] | None = None

    def _sum(self, s: int, sk: int, q: int, qk: int) -> None:
        if sk > self.sk:
            self.s <<= sk - self.sk
            self.sk = sk
        self.s += s << (self.sk - sk)
        if qk > self.qk:
            self.q <<= qk - self.qk
            self.qk = qk
        self.q += q << (self.qk - qk)

    def add(self, ch: ChannelStats) -> None:
        """One image's channel (or a channel merged already, taken as its floats say)."""
        self.lo, self.hi = lowest(self.lo, ch.min), highest(self.hi, ch.max)
        self.nan += ch.nan
        self.inf += ch.inf
        self.zeros += ch.zeros
        n = ch.count
        if not n:
            return
        self.count += n
        if not (math.isfinite(ch.mean) and math.isfinite(ch.m2)):
            mean, m2 = self.special or (0.0, 0.0)
            self.special = (
                mean + (0.0 if math.isfinite(ch.mean) else ch.mean),
                m2 + (0.0 if math.isfinite(ch.m2) else ch.m2),
            )
            if not math.isfinite(ch.mean):
                return
        p, k = _ratio(ch.mean)
        m, mk = _ratio(ch.m2) if math.isfinite(ch.m2) else (0, 0)
        # n·mean² = n·p² / 2**2k, and m2 = m / 2**mk, over a common power of two
        if mk > 2 * k:
            q, qk = n * p * p << (mk - 2 * k), mk
            q += m
        else:
            q, qk = (m << (2 * k - mk)) + n * p * p, 2 * k
        self._sum(n * p, k, q, qk)

    def combine(self, other: ExactMoments) -> None:
        """Add another channel's exact sums (a worker's partial statistics)."""
        self.lo, self.hi = lowest(self.lo, other.lo), highest(self.hi, other.hi)
        self.nan += other.nan
        self.inf += other.inf
        self.zeros += other.zeros
        self.count += other.count
        if other.special is not None:
            mean, m2 = self.special or (0.0, 0.0)
            self.special = (mean + other.special[0], m2 + other.special[1])
        self._sum(other.s, other.sk, other.q, other.qk)

    def freeze(self) -> ChannelStats:
        n = self.count
        if not n:
            mean, m2 = 0.0, 0.0
        else:
            # mean = s / (2**sk · n); m2 = q / 2**qk - s² / (2**2sk · n)
            mean = _divide(self.s, n << self.sk)
            num = (self.q * n << (2 * self.sk)) - (self.s * self.s << self.qk)
            m2 = _divide(num, n << (self.qk + 2 * self.sk))
        if self.special is not None:
            bad_mean, bad_m2 = self.special
            if bad_mean != 0.0:  # a mean that was not finite (NaN != 0.0 too)
                mean, m2 = math.nan, math.nan
            else:
                m2 = m2 + bad_m2
        return ChannelStats(n, mean, m2, self.lo, self.hi, self.nan, self.inf, self.zeros)
