"""The benchmark harness's own correctness: problem optima, the ledger's cost model, measures, seeding.

These run in the product environment (no peer library is needed) and assert no timings.
"""

from __future__ import annotations

import ast
import json
import math
import random
from pathlib import Path

import pytest

from benchmarks.harness import peers
from benchmarks.harness.bench import record_wall_time
from benchmarks.harness.ledger import BudgetExhausted, Ledger
from benchmarks.harness.measures import (
    cost_to_reach,
    incumbent_at,
    mean_ranks,
    normalised_auc,
    paired_wilcoxon,
    ranks,
    speedup_over_random,
)
from benchmarks.harness.ours import run_ours
from benchmarks.harness.peers import PEERS, needs_multi_fidelity
from benchmarks.harness.peers.random_search import run_random
from benchmarks.harness.plans import PLANS
from benchmarks.harness.problems import Problem, ackley, box, branin, get_problem, hartmann, synthetic_problems
from benchmarks.harness.space import sample_config

H3_ARGMIN = [0.114614, 0.555649, 0.852547]
H6_ARGMIN = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]


def test_known_optima_are_attained_and_never_beaten() -> None:
    for x in ([-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]):
        assert branin(x) == pytest.approx(0.397887357729739, abs=1e-5)
    assert hartmann(H3_ARGMIN) == pytest.approx(-3.86278214782076, abs=1e-4)
    assert hartmann(H6_ARGMIN) == pytest.approx(-3.32236801141551, abs=1e-4)
    assert ackley([0.0] * 5) == pytest.approx(0.0, abs=1e-12)
    rng = random.Random(0)
    for problem in synthetic_problems().values():
        for _ in range(300):
            assert problem.score(sample_config(problem.space, rng)) >= -1e-9, problem.name


def test_multi_fidelity_hartmann_is_exact_at_the_top_and_biased_noisy_below() -> None:
    good, bad = get_problem("mfh6_good"), get_problem("mfh6_bad")
    config = {f"x{i}": v for i, v in enumerate(H6_ARGMIN)}
    assert good.value(config, 81, seed=1) == hartmann(H6_ARGMIN) == bad.value(config, 81, seed=7)
    assert good.value(config, 1, seed=1) == good.value(config, 1, seed=1)  # the same query sees the same noise
    assert good.value(config, 1, seed=1) != good.value(config, 1, seed=2)
    # the bad preset is further from the truth at the lowest fidelity than the good one, on average
    rng = random.Random(3)
    configs = [sample_config(good.space, rng) for _ in range(50)]
    gap_good = sum(abs(good.value(c, 1, 1) - good.noiseless(c)) for c in configs)
    gap_bad = sum(abs(bad.value(c, 1, 1) - bad.noiseless(c)) for c in configs)
    assert gap_bad > 3 * gap_good
    # mf-prior-bench's noise is half-normal: it only ever makes a low fidelity look worse than its biased value
    for c in configs:
        x = [c[f"x{i}"] for i in range(6)]
        assert bad.value(c, 1, 1) >= hartmann(x, bias=3.5) and good.value(c, 1, 1) >= hartmann(x, bias=0.5)


def test_ledger_charges_only_new_fidelity_and_judges_the_incumbent_at_the_top() -> None:
    problem = get_problem("mfh3_good")
    ledger = Ledger(problem, seed=1, budget=2)
    a = {"x0": 0.1, "x1": 0.5, "x2": 0.8}
    b = {"x0": 0.9, "x1": 0.1, "x2": 0.1}
    ledger.evaluate(a, 3)
    assert ledger.spent == pytest.approx(3 / 81)
    assert ledger.incumbent is None and ledger.trace[-1].incumbent_score is None  # nothing at full fidelity yet
    ledger.evaluate(a, 9)  # a promotion: resumes from 3
    assert ledger.spent == pytest.approx(9 / 81)
    ledger.evaluate(a, 1)  # already trained further: free
    assert ledger.spent == pytest.approx(9 / 81)
    ledger.evaluate(b, 81)
    ledger.evaluate(a, 81)
    assert ledger.spent == pytest.approx((81 + 81) / 81)
    best = min((a, b), key=problem.noiseless)
    assert ledger.incumbent == best
    assert ledger.final_score() == pytest.approx(problem.noiseless(best) - problem.optimum)
    with pytest.raises(BudgetExhausted):
        ledger.evaluate(b, 81)
    costs = [o.cost for o in ledger.trace]
    assert costs == sorted(costs) and len(ledger.trace) == 5


def test_measures_on_a_hand_made_trace() -> None:
    trace = [
        {"cost": 1.0, "incumbent_score": None},
        {"cost": 2.0, "incumbent_score": 1.0},
        {"cost": 3.0, "incumbent_score": 0.01},
        {"cost": 4.0, "incumbent_score": 0.01},
    ]
    assert incumbent_at(trace, 1.5) is None and incumbent_at(trace, 2.0) == 1.0 and incumbent_at(trace, 9) == 0.01
    assert cost_to_reach(trace, 0.5) == 3.0 and cost_to_reach(trace, 0.001) is None
    random_trace = [{"cost": c, "incumbent_score": s} for c, s in ((1.0, 5.0), (2.0, 2.0), (6.0, 1.0))]
    assert speedup_over_random(trace, random_trace, random_final=1.0) == pytest.approx(6.0 / 2.0)
    assert speedup_over_random(random_trace, random_trace, random_final=1.0) == pytest.approx(1.0)
    assert speedup_over_random(trace, random_trace, random_final=0.001) == 0.0
    # costs 0.04..4.0: 49 points before any incumbent (worst = 1), 25 at log10(1) = 0, 26 at log10(0.01) = -2
    assert normalised_auc(trace, 4.0, worst_log=1.0, points=100) == pytest.approx((49 * 1 + 25 * 0 + 26 * -2) / 100)
    assert ranks({"a": 1.0, "b": 0.5, "c": 1.0}) == {"b": 1.0, "a": 2.5, "c": 2.5}
    assert mean_ranks({("p", 1): {"a": 0.0, "b": 1.0}, ("p", 2): {"a": 1.0, "b": 0.0}}) == {"a": 1.5, "b": 1.5}
    # a method that ran only some seeds is ranked on the scale of all methods: last of 2 counts as last of 3
    partial = mean_ranks({("p", 1): {"a": 0.0, "b": 1.0, "c": 2.0}, ("p", 2): {"a": 0.0, "b": 1.0}})
    assert partial == {"a": 1.0, "b": 2.5, "c": 3.0}
    p, wins, losses = paired_wilcoxon([0.0] * 8, [1.0] * 8)
    assert (wins, losses) == (8, 0) and p is not None and p < 0.05


def test_seeded_runs_repeat_exactly_and_seeds_differ() -> None:
    problem = get_problem("branin")

    def configs(seed: int) -> list[dict[str, float]]:
        ledger = Ledger(problem, seed, budget=10)
        run_random(problem, ledger, seed)
        return [o.config for o in ledger.trace]

    assert configs(1) == configs(1) != configs(2)
    assert len(configs(3)) == 10


def test_our_runner_is_charged_by_the_same_ledger() -> None:
    """Our random search through the real runner: seeded, exactly the budget, harness-judged incumbent."""
    problem = get_problem("branin")
    runs = []
    for _ in range(2):
        ledger = Ledger(problem, seed=5, budget=6)
        facts = run_ours("random", problem, ledger, seed=5)
        runs.append(ledger)
    assert facts["recommendations"] == 6
    assert [o.config for o in runs[0].trace] == [o.config for o in runs[1].trace]
    assert runs[0].spent == pytest.approx(6)
    assert runs[0].final_score() == pytest.approx(min(problem.score(o.config) for o in runs[0].trace))


def test_our_hyperband_promotions_cost_only_their_extra_epochs() -> None:
    problem = get_problem("mfh3_good")
    ledger = Ledger(problem, seed=1, budget=4)
    run_ours("hyperband", problem, ledger, seed=1)
    fidelities = {o.fidelity for o in ledger.trace}
    assert min(fidelities) < problem.z_max and problem.z_max in fidelities
    # Recompute the cost independently: per configuration, only the highest fidelity reached is paid for.
    highest: dict[str, int] = {}
    for o in ledger.trace:
        key = repr(sorted(o.config.items()))
        highest[key] = max(highest.get(key, 0), o.fidelity)
    assert ledger.spent == pytest.approx(sum(highest.values()) / problem.z_max)
    assert sum(o.fidelity for o in ledger.trace) > sum(highest.values())  # promotions were resumes, not restarts


def test_training_problem_continues_the_same_model() -> None:
    problem = get_problem("digits_mlp")
    config = {"lr": 0.01, "batch_size": 128, "weight_decay": 1e-4, "width": 32}
    first = [problem.value(config, z, seed=0) for z in (1, 2, 3)]
    assert first == [problem.value(config, z, seed=9) for z in (1, 2, 3)]  # fixed training seed
    assert first[2] < first[0]  # training lowers the validation loss
    assert problem.score(config) == problem.value(config, problem.z_max, seed=0)


def test_plans_name_only_known_optimizers_and_problems() -> None:
    for plan in PLANS.values():
        for task in plan():
            get_problem(task.problem)
            if task.optimizer.startswith("ours_"):
                continue
            assert task.optimizer in PEERS
            if needs_multi_fidelity(task.optimizer):
                assert get_problem(task.problem).multi_fidelity, task


def test_every_registered_peer_has_its_adapter() -> None:
    """Adapters import their library (absent here), so their source is read instead of imported."""
    folder = Path(peers.__file__).parent
    for name, (module, func, _) in PEERS.items():
        source = folder / f"{module}.py"
        assert source.is_file(), name
        defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert func in defined, name


@pytest.mark.parametrize("algorithm", ["hyperband", "bohb"])
def test_hyperband_iterations_repeat_until_the_epoch_budget_is_spent(algorithm: str) -> None:
    """One Hyperband iteration at R=9 costs 69 epochs (7.7 FFE); a 15 FFE budget must be spent, not left over."""
    problem = Problem("tiny_mf", "B", box(3, 0, 1), budget=15, z_min=1, z_max=9, optimum=-3.86278214782076,
                      fn=hartmann, bias=0.5, noise=0.1)  # fmt: skip
    ledger = Ledger(problem, seed=2)
    run_ours(algorithm, problem, ledger, seed=2)
    assert ledger.spent >= problem.budget - 1e-9
    assert sum(1 for o in ledger.trace if o.fidelity == problem.z_max) > 2  # more than one iteration's top rung


def test_demo_network_resumes_training_like_the_skill_and_charges_each_epoch() -> None:
    """The digits_cnn problem trains the skill's CNN: its value after epochs 1 and 2 is what train.py reports."""
    import json
    import pathlib
    import subprocess
    import sys
    import tempfile

    import yaml

    from benchmarks.harness.demo_network import SKILL_DIR

    problem = get_problem("digits_cnn")
    assert (problem.block, problem.z_min, problem.multi_fidelity) == ("C", 1, True)
    config = {"lr": 3e-3, "weight_decay": 1e-4, "batch_size": 128, "width": 8, "dropout": 0.3}
    other = {**config, "lr": 1e-3, "dropout": 0.5}
    ledger = Ledger(problem, seed=1)
    first = ledger.evaluate(config, 1)
    assert ledger.spent == pytest.approx(1 / problem.z_max)
    problem.value(other, 1, seed=1)  # another configuration trains in between (its own dropout stream)
    second = ledger.evaluate(config, 2)
    assert ledger.spent == pytest.approx(2 / problem.z_max)  # resumed: only the second epoch is charged
    assert len(problem.extra["runs"]) == 2  # one model per configuration, kept between calls
    again = get_problem("digits_cnn")  # a fresh problem: same configuration, same curve
    assert [again.value(config, z, seed=7) for z in (1, 2)] == [first, second]

    with tempfile.TemporaryDirectory(prefix="digits-cnn-") as tmp:
        job = pathlib.Path(tmp)
        spec = {
            "results_dir": str(job),
            "train": {"num_epochs": 2, "optim": {"lr": config["lr"], "weight_decay": config["weight_decay"]}},
            "dataset": {"batch_size": config["batch_size"]},
            "model": {"width": config["width"], "dropout": config["dropout"]},
        }
        (job / "spec.yaml").write_text(yaml.safe_dump(spec))
        done = subprocess.run(
            [sys.executable, str(SKILL_DIR / "scripts" / "train.py"), "-e", str(job / "spec.yaml")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in (job / "status.json").read_text().splitlines()]
    accuracy = [line["kpi"]["val_accuracy"] for line in lines if line["status"] == "RUNNING"]
    assert [1 - a for a in accuracy] == [first, second]  # the skill's metric (maximised accuracy) as an error
    assert second < first


def test_demo_network_searches_the_space_our_product_derives_for_the_demo() -> None:
    """Same ranges as `make demo` searches (from the skill's schema), bar the optimizer choice held at adam."""
    import json

    from benchmarks.harness.demo_network import SKILL_DIR, SPEC_KEYS
    from tao_automl.space import build_search_space

    schema = json.loads((SKILL_DIR / "schemas" / "train.schema.json").read_text())
    demo = {p.name: p for p in build_search_space(schema)}
    problem = get_problem("digits_cnn")
    for dim in problem.space:
        param = demo.pop(SPEC_KEYS[dim.name][0])
        if dim.kind == "ordinal":
            grid = param.choices or tuple(range(int(param.low), int(param.high) + 1, param.step or 1))
            assert dim.choices == grid, dim.name
        else:
            assert (dim.low, dim.high, dim.log) == (param.low, param.high, param.log), dim.name
    assert list(demo) == ["train.optim.optimizer"] and demo["train.optim.optimizer"].default == "adam"


def test_wall_time_record_keeps_the_plan_time_across_partial_reruns(tmp_path: Path) -> None:
    path = tmp_path / "wall_time.json"
    record_wall_time(path, "full", 3000.0, 2, {"a__branin": 10.0, "b__branin": 20.0})
    record_wall_time(path, "full", None, 2, {"b__branin": 25.0, "c__mfh6_good": 5.0})
    record = json.loads(path.read_text())
    assert record["wall_s"] == 3000.0
    assert record["task_s"] == {"a__branin": 10.0, "b__branin": 25.0, "c__mfh6_good": 5.0}
    record_wall_time(path, "full", 100.0, 2, {"d__branin": 1.0})
    assert json.loads(path.read_text())["task_s"] == {"d__branin": 1.0}
