"""Evaluate a digits CNN checkpoint from a TAO-style spec: ``python evaluate.py -e spec.yaml``.

The architecture comes from the spec stored in the checkpoint, so any train checkpoint can be
evaluated without repeating its model settings. The metric names are ``val_accuracy`` / ``val_loss``
for every split, so the AutoML runner reads baseline, trial and final evaluations the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from digits_common import (
    DigitsCNN,
    SpecError,
    StatusLogger,
    atomic_write_json,
    evaluate_model,
    get,
    get_int,
    load_checkpoint,
    load_split,
    model_params,
    run_action,
    split_params,
)

CHECKPOINT_KEY = "evaluate.checkpoint"
EVAL_SPLITS = ("val", "test")


def evaluate(spec: dict[str, Any], results_dir: Path, status: StatusLogger) -> None:
    """Score the checkpoint on the requested split; raises SpecError for configuration problems."""
    checkpoint = get(spec, CHECKPOINT_KEY, "")
    if not isinstance(checkpoint, str) or checkpoint.strip() in ("", "???"):
        raise SpecError(f"invalid configuration: {CHECKPOINT_KEY} must name a checkpoint file (model_epoch_XXX.pth)")
    split = get(spec, "evaluate.split", "val")
    if split not in EVAL_SPLITS:
        raise SpecError(f"invalid configuration: evaluate.split={split!r} is not one of {', '.join(EVAL_SPLITS)}")
    batch_size = get_int(spec, "evaluate.batch_size", 256, minimum=1)
    torch.set_num_threads(get_int(spec, "evaluate.num_threads", 1, minimum=1))

    ckpt = load_checkpoint(checkpoint.strip(), CHECKPOINT_KEY)
    trained_split = split_params(ckpt["spec"])
    # Missing dataset keys fall back to the checkpoint's, so the split is the one it was validated on.
    split_cfg = split_params({"dataset": {**(ckpt["spec"].get("dataset") or {}), **(spec.get("dataset") or {})}})
    changed = [key for key in ("split_seed", "val_fraction", "test_fraction") if split_cfg[key] != trained_split[key]]
    if changed:
        print(f"warning: dataset.{', dataset.'.join(changed)} differ from training; splits may overlap", flush=True)

    model = DigitsCNN(**model_params(ckpt["spec"]))
    model.load_state_dict(ckpt["model_state"])
    images, labels = load_split(split_cfg)[split]
    metrics = evaluate_model(model, images, labels, batch_size)
    print(
        f"split={split} val_accuracy={metrics['val_accuracy']:.5f} val_loss={metrics['val_loss']:.5f} "
        f"samples={len(labels)} epoch={ckpt['epoch']}",
        flush=True,
    )
    atomic_write_json(
        results_dir / "metrics.json",
        {**metrics, "split": split, "epoch": int(ckpt["epoch"]), "checkpoint": str(Path(checkpoint).resolve())},
    )
    status.write("SUCCESS", f"Evaluation on the {split} split finished", kpi=metrics)


def main(argv: list[str] | None = None) -> int:
    return run_action("evaluation", evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
