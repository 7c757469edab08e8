r"""Monte Carlo helpers shared by the consumer models: seeds, estimates, batch means, z-tests.

Every Monte Carlo number of :mod:`effcoef.models` is an :class:`MCEstimate`: a value with a
standard error, a Student-t confidence interval and the batch values it came from.  The
helpers here are the only implementation of these steps; the models (swarming, chemotaxis,
run-and-tumble, FitzHugh-Nagumo) and the tests use them.

Seeds
    :func:`rng` turns ``None``, an integer, a :class:`numpy.random.SeedSequence` or a
    :class:`numpy.random.Generator` into a generator (a generator is passed through, so a
    caller can thread one stream through several steps); :func:`spawn` gives independent
    child generators (:meth:`numpy.random.SeedSequence.spawn`).

Independent replicas
    For i.i.d. samples :math:`x_1, \dots, x_n` (one per independent particle or replica),
    :meth:`MCEstimate.from_samples` returns :math:`\bar x` with
    :math:`\mathrm{se} = s/\sqrt n`.  With ``n_batches = b`` the samples are first averaged in
    b contiguous groups (:func:`batch_means`) and the standard error is that of the b group
    means, :math:`s_b/\sqrt b` with :math:`b - 1` degrees of freedom: the same estimator, and
    still valid when the samples inside a group are dependent, as long as the groups are
    independent of each other (e.g. one group per independent replica of a particle system).

Correlated time series
    For one (or a few) stationary trajectories :math:`x(t_k)`, :meth:`MCEstimate.from_time_series`
    uses the batch-means method over contiguous blocks in time: with block length
    :math:`L\,dt` much longer than the integrated autocorrelation time :math:`\tau` the block
    means are nearly independent and
    :math:`\mathrm{Var}\,\bar x \approx 2\tau\,\mathrm{Var}(x)/T`, which the spread of the
    block means estimates.  The lag-1 autocorrelation of the block means is reported
    (``MCEstimate.info["lag1"]``); a value well above :math:`2/\sqrt b` says the blocks are too
    short.

Green-Kubo integrals
    :func:`green_kubo` estimates :math:`\int_0^{t_{max}} \langle a(0)\,b(t)\rangle\,dt` from
    sampled stationary trajectories as the average over time origins :math:`s` of
    :math:`a(s)\,(B(s + t_{max}) - B(s))`, :math:`B(t) = \int_0^t b` (trapezoidal rule); with
    :math:`a = b = v` this is the velocity-autocorrelation integral
    :math:`D = \int_0^\infty\langle v(0)v(t)\rangle dt` (truncated at :math:`t_{max}`, error
    :math:`\approx D e^{-\lambda_1 t_{max}}` for a spectral gap :math:`\lambda_1`).

Tests against a reference
    :meth:`MCEstimate.zscore` is :math:`(\hat x - x_{ref})/\mathrm{se}`; for a fair estimator it
    is Student-t distributed with :attr:`MCEstimate.dof` degrees of freedom (approximately:
    central limit theorem for the batch means).  :func:`z_bound` is the two-sided acceptance
    bound that a fair estimator passes with probability ``p_pass`` (Bonferroni over
    ``n_tests`` simultaneous checks), and :meth:`MCEstimate.agrees` applies it: tests written
    with it fail by chance at most once in ``1/(1 - p_pass)`` runs, whatever the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from potentials.validation import check_positive

__all__ = ["SeedLike", "rng", "spawn", "MCEstimate", "batch_means", "batch_curves",
           "green_kubo", "z_bound", "zscore"]

#: anything :func:`rng` accepts
SeedLike = Union[None, int, Sequence[int], np.random.SeedSequence, np.random.Generator]


def rng(seed: SeedLike = None) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``seed`` (a generator is returned unchanged).

    ``None`` draws fresh entropy (not reproducible); an integer, a sequence of integers or a
    :class:`numpy.random.SeedSequence` give a reproducible stream (PCG64, numpy's default).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def spawn(seed: SeedLike, n: int) -> list:
    """``n`` statistically independent generators derived from ``seed``.

    A :class:`numpy.random.Generator` spawns children from its bit generator's seed sequence
    (numpy >= 1.25; before, from a seed drawn from it, which advances it); anything else goes
    through :class:`numpy.random.SeedSequence`.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if isinstance(seed, np.random.Generator):
        if hasattr(seed, "spawn"):                     # numpy >= 1.25
            return list(seed.spawn(n))
        seed = np.random.SeedSequence(int(seed.integers(2**63)))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(c) for c in ss.spawn(n)]


def batch_means(samples: ArrayLike, n_batches: int, axis: int = -1) -> np.ndarray:
    """Means over ``n_batches`` contiguous equal groups along ``axis`` (leftovers dropped).

    With ``m = n // n_batches`` the last ``n - m * n_batches`` samples are not used, so every
    batch mean has the same variance.  Returns an array with ``axis`` of length ``n_batches``.
    """
    x = np.moveaxis(np.asarray(samples, dtype=float), axis, -1)
    nb = int(n_batches)
    if nb < 1:
        raise ValueError(f"n_batches must be >= 1, got {n_batches!r}")
    m = x.shape[-1] // nb
    if m < 1:
        raise ValueError(f"{x.shape[-1]} samples cannot form {nb} batches")
    out = x[..., : m * nb].reshape(x.shape[:-1] + (nb, m)).mean(axis=-1)
    return np.moveaxis(out, -1, axis)


def batch_curves(curves: ArrayLike, n_batches: int) -> list:
    """Batch means of per-particle curves ``(n_t, n)`` -> list of ``n_batches`` curves ``(n_t,)``."""
    c = batch_means(curves, n_batches, axis=1)
    return [c[:, b] for b in range(c.shape[1])]


def _t_quantile(p: float, dof: float) -> float:
    """Quantile of Student's t with ``dof`` degrees of freedom (normal for ``dof = inf``)."""
    from scipy.stats import norm
    from scipy.stats import t as student_t
    return float(student_t.ppf(p, dof)) if math.isfinite(dof) else float(norm.ppf(p))


def z_bound(p_pass: float = 0.999, n_tests: int = 1, dof: float = math.inf) -> float:
    r"""Two-sided acceptance bound for :math:`|z|` passed with probability ``p_pass``.

    For ``n_tests`` simultaneous checks (union bound: each one at level
    :math:`(1 - p)/n`) of a z-score that is Student-t with ``dof`` degrees of freedom (normal
    for ``dof = inf``): the :math:`1 - (1 - p)/(2n)` quantile.  Normal: 3.29 for one test at
    0.999, 3.48 for two, 3.89 for ten; t with 39 dof (40 batches): 3.56 for one.
    """
    p = float(p_pass)
    if not 0 < p < 1:
        raise ValueError(f"p_pass must be in (0, 1), got {p_pass!r}")
    n = int(n_tests)
    if n < 1:
        raise ValueError(f"n_tests must be >= 1, got {n_tests!r}")
    return _t_quantile(1.0 - (1.0 - p) / (2.0 * n), float(dof))


def zscore(value: float, reference: float, stderr: float) -> float:
    """``(value - reference) / stderr``."""
    return (float(value) - float(reference)) / float(stderr)


@dataclass
class MCEstimate:
    """A Monte Carlo estimate with its standard error and a confidence interval.

    Attributes
    ----------
    value : float
        The estimate (mean of ``batches`` for :meth:`from_batches`).
    stderr : float
        Its standard error (``std(batches, ddof=1) / sqrt(n_batches)`` for batch means).
    ci : tuple of float
        Two-sided Student-t interval at ``level``, ``value -+ t_{dof}(1/2 + level/2) stderr``.
    level : float
        Confidence level of ``ci``.
    batches : numpy.ndarray
        The batch (or replica) values the estimate came from.
    dof : float
        Degrees of freedom of the standard error (``n_batches - 1``; ``inf`` if unknown).
    info : dict
        Anything a producer adds (e.g. ``lag1`` for time series); models also set plain
        attributes (``force``, ``dt``, ...) on the instances they return.
    """

    value: float
    stderr: float
    ci: tuple
    level: float
    batches: np.ndarray = field(repr=False)
    dof: float = math.inf
    info: dict = field(default_factory=dict, repr=False)

    # -- constructors -------------------------------------------------
    @classmethod
    def from_stderr(cls, value: float, stderr: float, dof: float = math.inf, level: float = 0.95,
                    batches: Optional[ArrayLike] = None, **info: Any) -> "MCEstimate":
        """An estimate from its value, standard error and degrees of freedom (t interval)."""
        value, stderr, dof = float(value), float(stderr), float(dof)
        if not (0.0 < level < 1.0):
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        q = _t_quantile(0.5 + 0.5 * level, dof)
        b = np.empty(0) if batches is None else np.asarray(batches, dtype=float)
        return cls(value, stderr, (value - q * stderr, value + q * stderr), float(level), b, dof,
                   dict(info))

    @classmethod
    def from_batches(cls, batches: ArrayLike, level: float = 0.95) -> "MCEstimate":
        """Mean of independent, identically distributed ``batches`` (replicas or batch means)."""
        b = np.asarray(batches, dtype=float).ravel()
        nb = b.size
        if nb < 2:
            raise ValueError("need at least two batches for a standard error")
        return cls.from_stderr(b.mean(), b.std(ddof=1) / math.sqrt(nb), nb - 1, level, b)

    @classmethod
    def from_samples(cls, samples: ArrayLike, n_batches: Optional[int] = None,
                     level: float = 0.95) -> "MCEstimate":
        """Mean of independent samples; standard error from ``n_batches`` batch means.

        ``n_batches=None`` uses every sample as its own batch (the plain ``s/sqrt(n)``).
        Leftover samples (``n mod n_batches``) are dropped, as in :func:`batch_means`.
        """
        x = np.asarray(samples, dtype=float).ravel()
        return cls.from_batches(x if n_batches is None else batch_means(x, n_batches), level)

    @classmethod
    def from_time_series(cls, series: ArrayLike, n_batches: int = 20, burn_in: int = 0,
                         level: float = 0.95) -> "MCEstimate":
        r"""Time average of a stationary series by the batch-means method over time blocks.

        ``series`` has shape ``(n_t,)`` or ``(n_t, n)`` (n trajectories, averaged at each
        time before batching, so they need not be independent); the first ``burn_in`` steps
        are dropped, the rest is cut into ``n_batches`` contiguous blocks.  Valid when a block
        is much longer than the integrated autocorrelation time; ``info["lag1"]`` is the lag-1
        autocorrelation of the block means (about :math:`\pm 2/\sqrt{b}` if they are
        independent) and ``info["block_length"]`` the block length in steps.
        """
        x = np.asarray(series, dtype=float)
        if x.ndim == 2:
            x = x.mean(axis=1)
        elif x.ndim != 1:
            raise ValueError(f"series must have shape (n_t,) or (n_t, n), got {x.shape}")
        x = x[int(burn_in):]
        b = batch_means(x, n_batches)
        c = b - b.mean()
        den = float(c @ c)
        lag1 = float(c[1:] @ c[:-1]) / den if den > 0 else 0.0
        est = cls.from_batches(b, level)
        est.info.update(lag1=lag1, block_length=x.size // int(n_batches))
        return est

    # -- use ----------------------------------------------------------
    @property
    def n_batches(self) -> int:
        return int(self.batches.size)

    @property
    def rel_stderr(self) -> float:
        return self.stderr / abs(self.value) if self.value else math.inf

    def zscore(self, reference: float) -> float:
        """(value - reference) / stderr."""
        return zscore(self.value, reference, self.stderr)

    def agrees(self, reference: float, p_pass: float = 0.999, n_tests: int = 1) -> bool:
        """Whether ``|zscore(reference)| <= z_bound(p_pass, n_tests, dof)``."""
        return abs(self.zscore(reference)) <= z_bound(p_pass, n_tests, self.dof)

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        return f"{self.value:{spec}} +- {self.stderr:.2g}"


def green_kubo(a: ArrayLike, b: Optional[ArrayLike] = None, *, dt: float, t_max: float,
               n_batches: int = 20, level: float = 0.95) -> MCEstimate:
    r"""Green-Kubo integral :math:`\int_0^{t_{max}}\langle a(0)\,b(t)\rangle dt` from stationary samples.

    Parameters
    ----------
    a, b : array_like, shape (n_t,) or (n_t, n)
        Samples at times :math:`k\,dt` of one trajectory or of ``n`` trajectories (``b``
        defaults to ``a``: an autocorrelation integral).  Vector observables: call once per
        component and combine.
    dt : float
        Sampling step.
    t_max : float
        Truncation time (rounded to a whole number ``L`` of steps); needs ``n_t > L``.
    n_batches : int
        With ``n >= n_batches`` trajectories, batches of trajectories (independent if the
        trajectories are); with fewer, contiguous blocks of time origins of the averaged
        trajectory (batch means in time: blocks must be much longer than ``t_max`` and the
        correlation time).

    Returns
    -------
    MCEstimate
        With ``info["t_max"]``, ``info["n_origins"]`` and ``info["batching"]``
        (``"trajectories"`` or ``"time"``).

    Notes
    -----
    :math:`B(t) = \int_0^t b` by the trapezoidal rule, and for each origin :math:`s_k = k\,dt`,
    :math:`G_k = a(s_k)(B(s_k + t_{max}) - B(s_k))`, an unbiased estimate (up to the
    trapezoidal :math:`O(dt^2)` error) of the truncated integral; the estimate is the mean of
    :math:`G_k` over the :math:`n_t - L` origins.
    """
    a = np.asarray(a, dtype=float)
    b = a if b is None else np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a and b must have the same shape (n_t,) or (n_t, n), got {a.shape}, "
                         f"{b.shape}")
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    dt = check_positive(dt, "dt")
    L = int(round(float(t_max) / dt))
    n_t, n = a.shape
    if L < 1 or n_t <= L:
        raise ValueError(f"t_max = {t_max!r} needs 1 <= t_max/dt < n_t = {n_t}")
    B = np.concatenate([np.zeros((1, n)), np.cumsum(0.5 * dt * (b[1:] + b[:-1]), axis=0)])
    G = a[: n_t - L] * (B[L:] - B[: n_t - L])                 # (n_origins, n)
    if n >= n_batches:
        est = MCEstimate.from_samples(G.mean(axis=0), n_batches, level)
        how = "trajectories"
    else:
        est = MCEstimate.from_time_series(G, n_batches, level=level)
        how = "time"
    est.info.update(t_max=L * dt, n_origins=n_t - L, batching=how)
    return est
