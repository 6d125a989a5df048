"""Gaussian-process regression with a Matérn-5/2 ARD kernel, in NumPy with analytic gradients.

The model is Optuna's GP (same kernel, hyperparameter priors, noise floor and MAP fit by L-BFGS-B
from the previous fit), written by hand because Optuna's PyTorch version spends most of its time
in per-operation overhead on the tiny matrices HPO produces (100 points: ~2 ms per likelihood
evaluation there, ~0.3 ms here), and its fit is not reachable through a public API. Inputs are
normalised to [0, 1]; categorical dimensions hold the choice index and use a 0/1 distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize

_SQRT5 = math.sqrt(5.0)
#: Noise variance floor (Optuna's default): keeps the kernel matrix well conditioned.
MINIMUM_NOISE = 1e-6


@dataclass(frozen=True)
class KernelParams:
    """Inverse squared length scales per dimension, signal variance and noise variance."""

    inverse_squared_lengthscales: np.ndarray
    kernel_scale: float
    noise_var: float

    @classmethod
    def default(cls, dim: int) -> KernelParams:
        return cls(np.ones(dim), 1.0, 1.0)

    def raw(self) -> np.ndarray:
        """Log-space parameters (the noise above its floor) that the fit optimises."""
        noise_above_floor = max(self.noise_var - 0.99 * MINIMUM_NOISE, 1e-12)
        return np.concatenate(
            [np.log(self.inverse_squared_lengthscales), [math.log(self.kernel_scale), math.log(noise_above_floor)]]
        )

    @classmethod
    def from_raw(cls, raw: np.ndarray) -> KernelParams:
        dim = len(raw) - 2
        return cls(np.exp(raw[:dim]), float(math.exp(raw[dim])), float(math.exp(raw[dim + 1]) + MINIMUM_NOISE))


def _distances(diff: np.ndarray, is_categorical: np.ndarray) -> np.ndarray:
    return np.where(is_categorical, (diff != 0.0).astype(float), diff * diff)


def squared_differences(a: np.ndarray, b: np.ndarray, is_categorical: np.ndarray) -> np.ndarray:
    """Per-dimension distances, shape (len(a), len(b), dim): squared for numbers, 0/1 for categories."""
    return _distances(a[:, None, :] - b[None, :, :], is_categorical)


def _matern(d2: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel values and their derivative with respect to the scaled squared distance."""
    r = np.sqrt(d2)
    decay = np.exp(-_SQRT5 * r)
    value = scale * (1.0 + _SQRT5 * r + (5.0 / 3.0) * d2) * decay
    d_value_d_d2 = -(5.0 / 6.0) * scale * (1.0 + _SQRT5 * r) * decay
    return value, d_value_d_d2


def _log_prior(p: KernelParams) -> tuple[float, np.ndarray]:
    """Optuna's heuristic prior (value, gradient in raw space): length scales near 1, gamma priors elsewhere."""
    ils, scale, noise = p.inverse_squared_lengthscales, p.kernel_scale, p.noise_var
    value = -float(np.sum(0.1 / ils + 0.1 * ils)) + (math.log(scale) - scale) + (0.1 * math.log(noise) - 30.0 * noise)
    grad = np.concatenate([0.1 / ils - 0.1 * ils, [1.0 - scale, (0.1 / noise - 30.0) * (noise - MINIMUM_NOISE)]])
    return value, grad


class GaussianProcess:
    """A GP conditioned on (X, y) with fixed kernel parameters; :func:`fit` chooses them."""

    def __init__(self, x: np.ndarray, y: np.ndarray, is_categorical: np.ndarray, params: KernelParams) -> None:
        self.x, self.y, self.is_categorical, self.params = x, y, is_categorical, params
        d2 = squared_differences(x, x, is_categorical) @ params.inverse_squared_lengthscales
        cov, _ = _matern(d2, params.kernel_scale)
        cov[np.diag_indices_from(cov)] += params.noise_var
        chol = scipy.linalg.cholesky(cov, lower=True, check_finite=False)
        # The inverse factor once per model: the acquisition search then needs only matrix products
        # (hundreds of small posterior calls per suggestion, where solver-call overhead dominated).
        self._chol_inv = scipy.linalg.solve_triangular(chol, np.eye(len(y)), lower=True, check_finite=False)
        self._alpha = self._chol_inv.T @ (self._chol_inv @ y)

    def condition_on(self, x_more: np.ndarray, y_more: np.ndarray) -> GaussianProcess:
        """The same kernel conditioned on extra points (kriging believer for running trials)."""
        x, y = np.vstack([self.x, x_more]), np.concatenate([self.y, y_more])
        return GaussianProcess(x, y, self.is_categorical, self.params)

    def _kernel_to_data(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        diff = q[:, None, :] - self.x[None, :, :]
        d2 = _distances(diff, self.is_categorical) @ self.params.inverse_squared_lengthscales
        k, dk_dd2 = _matern(d2, self.params.kernel_scale)
        return k, dk_dd2, diff

    def posterior(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and variance at each row of ``q``."""
        k = self._kernel_to_data(q)[0]
        v = k @ self._chol_inv.T
        return k @ self._alpha, np.maximum(self.params.kernel_scale - np.sum(v * v, axis=1), 0.0)

    def posterior_with_gradient(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients with respect to ``q`` (zero along categorical dimensions)."""
        k, dk_dd2, diff = self._kernel_to_data(q)
        ils = self.params.inverse_squared_lengthscales
        dk_dq = dk_dd2[:, :, None] * np.where(self.is_categorical, 0.0, 2.0 * diff) * ils  # (m, n, dim)
        v = k @ self._chol_inv.T
        c_inv_k = v @ self._chol_inv  # (m, n)
        var = np.maximum(self.params.kernel_scale - np.sum(v * v, axis=1), 0.0)
        d_mean = np.einsum("mnd,n->md", dk_dq, self._alpha)
        d_var = -2.0 * np.einsum("mnd,mn->md", dk_dq, c_inv_k)
        return k @ self._alpha, var, d_mean, d_var


def _negative_log_posterior(raw: np.ndarray, dist: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient in raw parameter space."""
    p = KernelParams.from_raw(raw)
    kernel, dk_dd2 = _matern(dist @ p.inverse_squared_lengthscales, p.kernel_scale)
    cov = kernel.copy()
    cov[np.diag_indices_from(cov)] += p.noise_var
    chol = scipy.linalg.cholesky(cov, lower=True, check_finite=False)
    alpha = scipy.linalg.cho_solve((chol, True), y, check_finite=False)
    c_inv = scipy.linalg.cho_solve((chol, True), np.eye(len(y)), check_finite=False)
    mll = -float(np.sum(np.log(np.diag(chol)))) - 0.5 * float(y @ alpha)
    w = np.outer(alpha, alpha) - c_inv  # d mll / d theta = 0.5 tr(w dC/dtheta)
    grad = np.concatenate(
        [
            0.5 * p.inverse_squared_lengthscales * np.einsum("ij,ijk->k", w * dk_dd2, dist),
            [0.5 * float(np.sum(w * kernel)), 0.5 * float(np.trace(w)) * (p.noise_var - MINIMUM_NOISE)],
        ]
    )
    prior, prior_grad = _log_prior(p)
    return -(mll + prior), -(grad + prior_grad)


def fit(x: np.ndarray, y: np.ndarray, is_categorical: np.ndarray, start: KernelParams | None = None) -> GaussianProcess:
    """MAP kernel parameters by L-BFGS-B, from ``start`` (the previous fit) and else from the default."""
    dist = squared_differences(x, x, is_categorical)
    starts = [start, KernelParams.default(x.shape[1])] if start is not None else [KernelParams.default(x.shape[1])]
    for initial in starts:
        try:
            result = scipy.optimize.minimize(
                _negative_log_posterior,
                initial.raw(),
                args=(dist, y),
                jac=True,
                method="L-BFGS-B",
                options={"gtol": 1e-2},
            )
        except (np.linalg.LinAlgError, ValueError):
            continue
        if result.success and np.all(np.isfinite(result.x)):
            return GaussianProcess(x, y, is_categorical, KernelParams.from_raw(result.x))
    return GaussianProcess(x, y, is_categorical, KernelParams.default(x.shape[1]))
