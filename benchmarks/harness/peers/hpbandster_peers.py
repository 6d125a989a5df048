"""hpbandster's BOHB and HyperBand (Falkner et al. 2018), one worker on a loopback name server."""

from __future__ import annotations

import logging
import socket
from typing import Any

import hpbandster.core.nameserver as hpns
import numpy as np
from hpbandster.core.worker import Worker
from hpbandster.optimizers import BOHB, HyperBand

from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.peers.configspace_space import to_config, to_configspace
from benchmarks.harness.problems import Problem

logging.getLogger("hpbandster").setLevel(logging.ERROR)


class _LedgerWorker(Worker):
    def __init__(self, problem: Problem, ledger: Ledger, ordinal_as_index: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem, self.ledger, self.ordinal_as_index = problem, ledger, ordinal_as_index

    def compute(self, config: dict[str, Any], budget: float, **_: Any) -> dict[str, Any]:
        config = to_config(self.problem.space, config, ordinal_as_index=self.ordinal_as_index)
        try:
            return {"loss": self.ledger.evaluate(config, round(budget)), "info": {}}
        except BudgetExhausted:
            return {"loss": float("inf"), "info": {"budget": "exhausted"}}


def _free_port() -> int:
    """A free loopback port: hpbandster's default (9090) collides when two runs share the machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(kind: type, problem: Problem, ledger: Ledger, seed: int) -> None:
    # BOHB's config generator draws from numpy's global RNG (random fraction, KDE samples): seeded runs repeat
    np.random.seed(seed)
    run_id = f"bench-{problem.name}-{seed}"
    ns = hpns.NameServer(run_id=run_id, host="127.0.0.1", port=_free_port())
    host, port = ns.start()
    as_index = kind is BOHB  # its KDE refuses ordinal hyperparameters
    worker = _LedgerWorker(problem, ledger, as_index, nameserver=host, nameserver_port=port, run_id=run_id)
    worker.run(background=True)
    optimizer = kind(
        configspace=to_configspace(problem.space, seed, ordinal_as_index=as_index),
        run_id=run_id,
        nameserver=host,
        nameserver_port=port,
        min_budget=problem.z_min,
        max_budget=problem.z_max,
        eta=3,
    )
    try:
        iterations = 0
        while not ledger.exhausted and iterations < 1000:
            iterations += 1
            optimizer.run(n_iterations=iterations)
    finally:
        optimizer.shutdown(shutdown_workers=True)
        ns.shutdown()


def run_bohb(problem: Problem, ledger: Ledger, seed: int) -> None:
    _run(BOHB, problem, ledger, seed)


def run_hyperband(problem: Problem, ledger: Ledger, seed: int) -> None:
    _run(HyperBand, problem, ledger, seed)


__all__ = ["BudgetExhausted", "run_bohb", "run_hyperband"]
