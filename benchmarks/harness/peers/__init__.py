"""Peer optimizers, each behind ``run(problem, ledger, seed)``: optimise until the ledger's budget is spent.

Every adapter translates the neutral space for its library, keeps library defaults except the shared
eta = 3 and fidelity range, and evaluates only through the ledger (one cache, one cost model).
Adapters import their library lazily, so listing peers needs none of them installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: peer name -> (module in this package, function name, needs a multi-fidelity problem)
PEERS: dict[str, tuple[str, str, bool]] = {
    "random": ("random_search", "run_random", False),
    "optuna_tpe": ("optuna_peers", "run_tpe", False),
    "optuna_gp": ("optuna_peers", "run_gp", False),
    "optuna_cmaes": ("optuna_peers", "run_cmaes", False),
    "optuna_tpe_hyperband": ("optuna_peers", "run_tpe_hyperband", True),
    "optuna_tpe_sha": ("optuna_peers", "run_tpe_sha", True),
    "hyperopt_tpe": ("hyperopt_peer", "run_hyperopt", False),
    "dehb": ("dehb_peer", "run_dehb", True),
    "hpbandster_bohb": ("hpbandster_peers", "run_bohb", True),
    "hpbandster_hyperband": ("hpbandster_peers", "run_hyperband", True),
    "synetune_asha": ("synetune_peers", "run_asha", True),
    "synetune_bohb": ("synetune_peers", "run_bohb", True),
    "smac_hpo": ("smac_peers", "run_hpo", False),
    "smac_blackbox": ("smac_peers", "run_blackbox", False),
    "smac_multifidelity": ("smac_peers", "run_multifidelity", True),
}


def peer_runner(name: str) -> Callable[..., Any]:
    module, func, _ = PEERS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def needs_multi_fidelity(name: str) -> bool:
    return PEERS[name][2]
