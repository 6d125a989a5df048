"""The NumPy GP and its Optuna sampler: exact gradients, a sensible fit, valid and improving proposals."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import scipy.optimize
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tao_automl.surrogates import gaussian_process as gpm
from tao_automl.surrogates.gp_sampler import FastGPSampler, _log_h


def _data(n: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    x[:, 2] = rng.integers(0, 3, n)  # a categorical dimension (choice index)
    y = np.sin(4 * x[:, 0]) + 0.3 * x[:, 2] + 0.01 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std(), np.array([False, False, True])


def test_likelihood_gradient_matches_finite_differences() -> None:
    x, y, cat = _data()
    dist = gpm.squared_differences(x, x, cat)
    for raw in (np.zeros(5), np.array([1.0, -2.0, 0.5, 0.3, -4.0])):
        err = scipy.optimize.check_grad(
            lambda r: gpm._negative_log_posterior(r, dist, y)[0],
            lambda r: gpm._negative_log_posterior(r, dist, y)[1],
            raw,
        )
        assert err < 1e-4


def test_posterior_gradient_matches_finite_differences_and_plain_posterior() -> None:
    x, y, cat = _data()
    gp = gpm.fit(x, y, cat)
    q = np.array([[0.2, 0.7, 1.0], [0.9, 0.1, 2.0]])
    mean, var, d_mean, d_var = gp.posterior_with_gradient(q)
    plain_mean, plain_var = gp.posterior(q)
    np.testing.assert_allclose(mean, plain_mean)
    np.testing.assert_allclose(var, plain_var)
    assert np.all(d_mean[:, 2] == 0) and np.all(d_var[:, 2] == 0)  # no gradient along a category
    eps = 1e-6
    for k in (0, 1):
        moved = q.copy()
        moved[:, k] += eps
        m2, v2 = gp.posterior(moved)
        np.testing.assert_allclose((m2 - mean) / eps, d_mean[:, k], atol=1e-4)
        np.testing.assert_allclose((v2 - var) / eps, d_var[:, k], atol=1e-4)


def test_fit_interpolates_and_finds_the_irrelevant_dimension() -> None:
    x, y, cat = _data(40)
    gp = gpm.fit(x, y, cat)
    mean, var = gp.posterior(x)
    assert np.max(np.abs(mean - y)) < 0.1
    assert np.all(var < 0.05)
    ils = gp.params.inverse_squared_lengthscales
    assert ils[1] < ils[0] / 10  # dimension 1 does not affect y: a long length scale
    refit = gpm.fit(x, y, cat, start=gp.params)
    np.testing.assert_allclose(refit.params.inverse_squared_lengthscales, ils, rtol=0.05)


def test_duplicate_points_with_different_values_still_fit() -> None:
    x = np.array([[0.5], [0.5], [0.1], [0.9]])
    y = np.array([1.0, -1.0, 0.2, 0.3])
    gp = gpm.fit(x, y, np.array([False]))
    assert gp.params.noise_var > 0.1
    assert np.all(np.isfinite(gp.posterior(np.linspace(0, 1, 5)[:, None])[0]))


def test_log_expected_improvement_is_stable_far_below_the_incumbent() -> None:
    z = np.array([-1e5, -500.0, -30.0, -24.9, -3.0, 0.0, 2.0, 30.0])
    value, slope = _log_h(z)
    assert np.all(np.isfinite(value)) and np.all(np.diff(value) > 0)
    direct = np.log(
        z[4:] * 0.5 * (1 + np.vectorize(math.erf)(z[4:] / math.sqrt(2)))
        + np.exp(-0.5 * z[4:] ** 2) / math.sqrt(2 * math.pi)
    )
    np.testing.assert_allclose(value[4:], direct, rtol=1e-10)
    below, above = _log_h(np.array([-25.0 - 1e-9, -25.0 + 1e-9]))[0]
    assert abs(below - above) < 1e-6  # no jump where the two formulas meet
    assert np.all(slope > 0) and np.all(np.isfinite(slope))


def _mixed_space() -> dict[str, optuna.distributions.BaseDistribution]:
    return {
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "momentum": FloatDistribution(0.0, 0.99),
        "batch": IntDistribution(8, 64, step=8),
        "opt": CategoricalDistribution(["sgd", "adam", "adamw"]),
    }


def _objective(p: dict) -> float:
    return (
        (math.log10(p["lr"]) + 3) ** 2 + (p["momentum"] - 0.9) ** 2 + abs(p["batch"] - 32) / 32 + (p["opt"] != "adam")
    )


def _run(sampler: optuna.samplers.BaseSampler, n: int) -> list[float]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    values = []
    for _ in range(n):
        trial = study.ask(_mixed_space())
        values.append(_objective(trial.params))
        study.tell(trial, values[-1])
    return values


def test_sampler_proposals_are_valid_and_beat_random_on_a_mixed_space() -> None:
    ours, rand = [], []
    for seed in range(3):
        values = _run(FastGPSampler(seed=seed, n_startup_trials=8), 30)
        ours.append(min(values))
        rand.append(min(_run(optuna.samplers.RandomSampler(seed=seed), 30)))
    assert np.median(ours) < np.median(rand)
    assert max(ours) < 0.2


def test_running_trials_spread_parallel_proposals() -> None:
    """Two asks before any new result (kriging believer): the second differs from the first."""
    study = optuna.create_study(sampler=FastGPSampler(seed=0, n_startup_trials=5))
    for _ in range(8):
        trial = study.ask(_mixed_space())
        study.tell(trial, _objective(trial.params))
    first, second = study.ask(_mixed_space()), study.ask(_mixed_space())
    assert first.params != second.params
    space = _mixed_space()
    for trial in (first, second):
        for name, dist in space.items():
            assert dist._contains(dist.to_internal_repr(trial.params[name]))


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_sampler_follows_the_study_direction(direction: str) -> None:
    sign = 1.0 if direction == "minimize" else -1.0
    study = optuna.create_study(direction=direction, sampler=FastGPSampler(seed=1, n_startup_trials=5))
    for _ in range(20):
        trial = study.ask({"x": FloatDistribution(-2.0, 2.0)})
        study.tell(trial, sign * (trial.params["x"] - 1.0) ** 2)
    assert abs(study.best_trial.params["x"] - 1.0) < 0.05


def test_wide_integer_ranges_are_searched_without_listing_their_grid() -> None:
    """A million-value integer (log and linear) snaps arithmetically; proposals stay on the grid and in range."""
    space = {
        "iters": IntDistribution(1, 1_000_000, log=True),
        "seed_like": IntDistribution(0, 999_990, step=10),
        "x": FloatDistribution(0.0, 1.0),
    }
    study = optuna.create_study(sampler=FastGPSampler(seed=0, n_startup_trials=4))
    for _ in range(10):
        trial = study.ask(space)
        study.tell(trial, abs(math.log10(trial.params["iters"]) - 3) + trial.params["x"])
    for trial in study.trials:
        assert 1 <= trial.params["iters"] <= 1_000_000
        assert trial.params["seed_like"] % 10 == 0 and 0 <= trial.params["seed_like"] <= 999_990
