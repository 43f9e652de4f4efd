"""core/statistics.py against reference implementations (arch, nolds, scipy: test-only oracles)
and against textbook values on series whose answer is known."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.signal import lfilter

from velocitas_desktop.core import statistics as st

arch_unitroot = pytest.importorskip("arch.unitroot")


def _nolds_measures():
    """nolds' measures module, loaded on its own: nolds 0.6.3's package __init__ fails on
    Python 3.11 (its datasets module calls importlib.resources.files on a module, which 3.12
    allows), and measures.py needs nothing else from the package."""
    spec = importlib.util.find_spec("nolds")
    if spec is None or spec.origin is None:
        pytest.skip("nolds is not installed (pip install -e .[test])")
    path = Path(spec.origin).with_name("measures.py")
    module_spec = importlib.util.spec_from_file_location("nolds_measures", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def ar1_returns(phi: float, count: int, seed: int, heavy: bool = False) -> np.ndarray:
    """Returns r_t = phi * r_{t-1} + e_t (e normal, or Student t with 4 degrees of freedom)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_t(4, count) if heavy else rng.normal(0.0, 1.0, count)
    noise *= 0.01
    return lfilter([1.0], [1.0, -phi], noise)


def log_prices(returns: np.ndarray) -> np.ndarray:
    return math.log(100.0) + np.concatenate(([0.0], np.cumsum(returns)))


# --- variance ratio --------------------------------------------------------------------------

@pytest.mark.parametrize("lag", [2, 4, 8, 16])
@pytest.mark.parametrize(("phi", "heavy", "count"), [(0.0, False, 500), (0.0, True, 2000),
                                                     (0.3, False, 300), (-0.3, True, 1000)])
def test_variance_ratio_equals_arch(lag, phi, heavy, count):
    y = log_prices(ar1_returns(phi, count, seed=lag * 7 + count, heavy=heavy))
    ours = st.variance_ratio(y, lag)
    reference = arch_unitroot.VarianceRatio(y, lags=lag)  # constant, de-biased, robust
    assert ours.ratio == pytest.approx(reference.vr, rel=1e-12)
    assert ours.z == pytest.approx(reference.stat, rel=1e-10)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-14)
    assert ours.lag == lag and ours.count == count


def test_variance_ratio_of_a_random_walk_is_one():
    ratio = st.variance_ratio(log_prices(ar1_returns(0.0, 200_000, seed=5)), 4)
    assert ratio.ratio == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("phi", [0.3, -0.3, 0.6])
@pytest.mark.parametrize("lag", [2, 4, 8])
def test_variance_ratio_of_ar1_returns_matches_the_closed_form(phi, lag):
    # VR(q) = 1 + 2 * sum_{k=1}^{q-1} (1 - k/q) * rho_k, and rho_k = phi**k for AR(1)
    expected = 1.0 + 2.0 * sum((1.0 - k / lag) * phi**k for k in range(1, lag))
    ratio = st.variance_ratio(log_prices(ar1_returns(phi, 200_000, seed=11)), lag)
    assert ratio.ratio == pytest.approx(expected, rel=0.03)
    assert ratio.p_value < 1e-6 and math.copysign(1, ratio.z) == math.copysign(1, phi)


def test_variance_ratio_is_nan_when_it_cannot_be_computed():
    assert math.isnan(st.variance_ratio(log_prices(np.full(100, 0.0)), 4).ratio)  # flat
    assert math.isnan(st.variance_ratio(log_prices(np.full(8, 0.01)), 4).z)      # too short
    assert math.isnan(st.variance_ratio(log_prices(np.full(100, 0.01)), 1).ratio)  # lag 1


# --- Hurst -----------------------------------------------------------------------------------

@pytest.mark.parametrize("corrected", [True, False])
@pytest.mark.parametrize(("phi", "count"), [(0.0, 500), (0.3, 2000), (-0.4, 1000)])
def test_hurst_rs_equals_nolds(corrected, phi, count):
    nolds = _nolds_measures()
    returns = ar1_returns(phi, count, seed=count, heavy=True)
    windows = st.log_spaced_windows(count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = nolds.hurst_rs(returns, nvals=windows.astype(int), fit="poly",
                                   corrected=corrected, unbiased=True)
    assert st.hurst_rs(returns, corrected=corrected) == pytest.approx(reference, rel=1e-12)


def fractional_noise(count: int, hurst: float, seed: int) -> np.ndarray:
    """Fractional Gaussian noise of Hurst exponent ``hurst`` (Davies–Harte circulant
    embedding): autocovariance ``0.5 (|k+1|^2H - 2|k|^2H + |k-1|^2H)``."""
    k = np.arange(count + 1.0)
    gamma = 0.5 * ((k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    row = np.concatenate((gamma, gamma[-2:0:-1]))
    eigen = np.maximum(np.fft.fft(row).real, 0.0)
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=row.size) + 1j * rng.normal(size=row.size)
    return np.fft.fft(np.sqrt(eigen / row.size) * noise)[:count].real


def test_fractional_noise_has_its_lag_one_autocorrelation():
    x = fractional_noise(100_000, 0.7, seed=1)
    assert np.corrcoef(x[1:], x[:-1])[0, 1] == pytest.approx(0.5 * (2**1.4 - 2), abs=0.01)


@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.7])
def test_hurst_rs_recovers_the_exponent_of_fractional_noise(hurst):
    # R/S over 4096 values is known to be pulled towards 0.5 (here by about 0.04 at 0.3 and
    # 0.7); the mean over eight series must be within 0.06 of the true exponent, and in order.
    estimates = [st.hurst_rs(fractional_noise(4096, hurst, seed)) for seed in range(8)]
    assert np.mean(estimates) == pytest.approx(hurst, abs=0.06)
    if hurst != 0.5:
        assert (np.mean(estimates) > 0.5) == (hurst > 0.5)


def test_hurst_of_independent_returns_is_a_half():
    assert st.hurst_rs(ar1_returns(0.0, 100_000, seed=3)) == pytest.approx(0.5, abs=0.03)


def test_hurst_windows_are_log_spaced_and_at_least_four_per_size():
    windows = st.log_spaced_windows(500)
    assert windows[0] == 8 and windows[-1] == 125 and np.all(np.diff(windows) > 0)
    ratios = windows[1:] / windows[:-1]
    assert ratios.max() / ratios.min() < 1.6  # evenly spaced in log, up to rounding
    assert st.log_spaced_windows(20).size == 0 and math.isnan(st.hurst_rs(np.ones(20)))


# --- percentile rank and p-value ----------------------------------------------------

def test_percentile_rank_equals_scipy_mean_kind_and_ignores_nan():
    rng = np.random.default_rng(2)
    history = np.round(rng.normal(size=1000), 1)  # ties
    for value in (-5.0, -0.3, 0.0, 0.1, 2.0, 9.0):
        assert st.percentile_rank(history, value) == pytest.approx(
            scipy_stats.percentileofscore(history, value, kind="mean"), abs=1e-12)
    with_nan = np.concatenate((history, [np.nan] * 10))
    assert st.percentile_rank(with_nan, 0.1) == st.percentile_rank(history, 0.1)
    assert math.isnan(st.percentile_rank([np.nan], 1.0))
    assert math.isnan(st.percentile_rank(history, np.nan))


def test_two_sided_p_value_is_the_normal_tail():
    for z in (0.0, 0.5, -1.959963984540054, 3.0, -8.0):
        assert st.normal_two_sided_p(z) == pytest.approx(2 * scipy_stats.norm.sf(abs(z)),
                                                         rel=1e-12)
    assert st.normal_two_sided_p(1.959963984540054) == pytest.approx(0.05, rel=1e-12)
    assert st.normal_two_sided_p(math.inf) == 0.0 and math.isnan(st.normal_two_sided_p(math.nan))
