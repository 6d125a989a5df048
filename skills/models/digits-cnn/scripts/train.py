"""Train the digits CNN from a TAO-style experiment spec: ``python train.py -e spec.yaml``.

Deterministic (same spec gives bit-identical metrics) and exactly resumable: every checkpoint holds
the model, optimizer, torch RNG and shuffle-generator state, so a run resumed from epoch k reports
the same metrics at epoch n as an uninterrupted run. That is what makes ASHA promotions and PBT
exploit steps real on this network.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from digits_common import (
    NETWORK_ARCH,
    DigitsCNN,
    SpecError,
    StatusLogger,
    atomic_torch_save,
    atomic_write_json,
    evaluate_model,
    get,
    get_bool,
    get_float,
    get_int,
    load_checkpoint,
    load_split,
    model_params,
    run_action,
    split_params,
)

OPTIMIZERS = ("adam", "adamw", "sgd")
CHECKPOINT_INTERVAL_UNITS = ("epoch",)  # train.checkpoint_interval counts epochs
RESUME_KEY = "train.resume_training_checkpoint_path"
VAL_BATCH_SIZE = 256


@dataclass(frozen=True)
class TrainConfig:
    """The validated train spec; building it is where every bad value is reported, before any work."""

    num_epochs: int
    seed: int
    num_threads: int
    num_gpus: int
    checkpoint_interval: int
    resume_path: str
    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    batch_size: int
    drop_last: bool
    split: dict[str, Any]
    model: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TrainConfig:
        optimizer = get(spec, "train.optim.optimizer", "adam")
        if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
            raise SpecError(
                f"invalid configuration: train.optim.optimizer={optimizer!r} is not one of {', '.join(OPTIMIZERS)}"
            )
        unit = get(spec, "train.checkpoint_interval_unit", "epoch")
        if unit not in CHECKPOINT_INTERVAL_UNITS:
            raise SpecError(
                f"invalid configuration: train.checkpoint_interval_unit={unit!r} is not one of "
                f"{', '.join(CHECKPOINT_INTERVAL_UNITS)}"
            )
        resume_path = get(spec, RESUME_KEY, "")
        if not isinstance(resume_path, str):
            raise SpecError(f"invalid configuration: {RESUME_KEY}={resume_path!r} must be a path string")
        return cls(
            num_epochs=get_int(spec, "train.num_epochs", 10, minimum=1),
            seed=get_int(spec, "train.seed", 42, minimum=0),
            num_threads=get_int(spec, "train.num_threads", 1, minimum=1),
            num_gpus=get_int(spec, "train.num_gpus", 0, minimum=0),
            checkpoint_interval=get_int(spec, "train.checkpoint_interval", 1, minimum=1),
            resume_path=resume_path.strip(),
            optimizer=optimizer.lower(),
            lr=get_float(spec, "train.optim.lr", 1e-3, low=0.0, low_open=True),
            weight_decay=get_float(spec, "train.optim.weight_decay", 1e-4, low=0.0),
            momentum=get_float(spec, "train.optim.momentum", 0.9, low=0.0, high=1.0),
            batch_size=get_int(spec, "dataset.batch_size", 32, minimum=1),
            drop_last=get_bool(spec, "dataset.drop_last", True),
            split=split_params(spec),
            model=model_params(spec),
        )


def enable_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)`` without its import of ``torch._inductor``.

    The public call also sets an inductor (torch.compile) flag, which costs ~2.7 s of imports per job;
    this network is never compiled, so only the eager-mode switch is needed.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(True)
    else:
        setter(True, warn_only=False)
    assert torch.are_deterministic_algorithms_enabled()


class Optimizer:
    """Adam, AdamW (decoupled decay) or SGD with momentum, with PyTorch's update rules.

    ``torch.optim`` is not used because its first call imports ``torch._dynamo`` (~3 s per job, more
    than the whole training run). Hyperparameters are plain attributes so a resumed run can override
    the ones stored in a checkpoint.
    """

    def __init__(self, cfg: TrainConfig, params: list[torch.Tensor]) -> None:
        self.name = cfg.optimizer
        self.params = params
        self.lr, self.weight_decay, self.momentum = cfg.lr, cfg.weight_decay, cfg.momentum
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.steps = 0
        self.buffers: list[dict[str, torch.Tensor]] = [{} for _ in params]

    def apply_hyperparameters(self, cfg: TrainConfig) -> None:
        """The spec wins over a loaded state, so PBT can perturb lr / weight decay / momentum on resume."""
        self.lr, self.weight_decay, self.momentum = cfg.lr, cfg.weight_decay, cfg.momentum

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        for param, buf in zip(self.params, self.buffers, strict=True):
            if param.grad is None:
                continue
            grad = param.grad
            if self.name == "adamw":
                param.mul_(1 - self.lr * self.weight_decay)
            elif self.weight_decay:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.name == "sgd":
                if "momentum" in buf:
                    buf["momentum"].mul_(self.momentum).add_(grad)
                else:
                    buf["momentum"] = grad.clone()
                param.add_(buf["momentum"], alpha=-self.lr)
                continue
            if not buf:
                buf["exp_avg"], buf["exp_avg_sq"] = torch.zeros_like(param), torch.zeros_like(param)
            buf["exp_avg"].lerp_(grad, 1 - beta1)
            buf["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias1, bias2 = 1 - beta1**self.steps, 1 - beta2**self.steps
            denom = (buf["exp_avg_sq"].sqrt() / math.sqrt(bias2)).add_(self.eps)
            param.addcdiv_(buf["exp_avg"], denom, value=-self.lr / bias1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "buffers": [{key: value.clone() for key, value in buf.items()} for buf in self.buffers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["buffers"]) != len(self.params):
            raise SpecError("invalid configuration: checkpoint optimizer state does not match the model")
        self.steps = int(state["steps"])
        self.lr, self.weight_decay, self.momentum = state["lr"], state["weight_decay"], state["momentum"]
        self.buffers = [{key: value.clone() for key, value in buf.items()} for buf in state["buffers"]]


def checkpoint_name(epoch: int) -> str:
    return f"model_epoch_{epoch:03d}.pth"


def train(spec: dict[str, Any], results_dir: Path, status: StatusLogger) -> None:
    """Run (or continue) training; raises SpecError for configuration problems."""
    cfg = TrainConfig.from_spec(spec)
    torch.set_num_threads(cfg.num_threads)
    enable_deterministic_algorithms()
    if cfg.num_gpus > 0:
        print(f"note: digits_cnn is CPU-only; train.num_gpus={cfg.num_gpus} is ignored", flush=True)

    data = load_split(cfg.split)
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    n_train = len(y_train)
    steps = n_train // cfg.batch_size if cfg.drop_last else math.ceil(n_train / cfg.batch_size)
    if steps == 0:
        raise SpecError(
            f"invalid configuration: batch_size {cfg.batch_size} exceeds the {n_train} training samples "
            "(zero training steps); lower dataset.batch_size, raise dataset.train_fraction "
            "or set dataset.drop_last to false"
        )

    torch.manual_seed(cfg.seed)
    model = DigitsCNN(**cfg.model)
    optimizer = Optimizer(cfg, list(model.parameters()))
    generator = torch.Generator().manual_seed(cfg.seed)
    start_epoch = 1
    metrics: dict[str, float] = {}
    resumed: dict[str, Any] | None = None
    if cfg.resume_path:
        resumed = load_checkpoint(cfg.resume_path, RESUME_KEY)
        start_epoch = restore(cfg, resumed, model, optimizer, generator) + 1
        metrics = dict(resumed["metrics"])
    optimizer.apply_hyperparameters(cfg)

    todo = f"epochs {start_epoch}..{cfg.num_epochs}" if start_epoch <= cfg.num_epochs else "nothing left to train"
    print(
        f"{NETWORK_ARCH}: {n_train} train / {len(y_val)} val samples, {steps} steps per epoch, {todo}",
        flush=True,
    )
    last_checkpoint: Path | None = None
    for epoch in range(start_epoch, cfg.num_epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=generator)
        loss_sum, seen = 0.0, 0
        for step in range(steps):
            batch = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            seen += len(batch)
        metrics = {**evaluate_model(model, x_val, y_val, VAL_BATCH_SIZE), "train_loss": loss_sum / seen}
        if epoch % cfg.checkpoint_interval == 0 or epoch == cfg.num_epochs:
            last_checkpoint = results_dir / checkpoint_name(epoch)
            atomic_torch_save(
                {
                    "network_arch": NETWORK_ARCH,
                    "format_version": 1,
                    "epoch": epoch,
                    "model_state": model.state_dict(),
                    "optimizer_state": optimizer.state_dict(),
                    "torch_rng_state": torch.get_rng_state(),
                    "shuffle_generator_state": generator.get_state(),
                    "spec": spec,
                    "metrics": metrics,
                },
                last_checkpoint,
            )
        print(
            f"epoch {epoch}/{cfg.num_epochs} train_loss={metrics['train_loss']:.5f} "
            f"val_loss={metrics['val_loss']:.5f} val_accuracy={metrics['val_accuracy']:.5f}",
            flush=True,
        )
        status.write("RUNNING", f"Epoch {epoch} finished", epoch=epoch, max_epoch=cfg.num_epochs, kpi=metrics)

    if last_checkpoint is None:
        assert resumed is not None  # only a resume at the final epoch trains nothing
        last_checkpoint = results_dir / checkpoint_name(cfg.num_epochs)
        if not last_checkpoint.exists() or not last_checkpoint.samefile(cfg.resume_path):
            atomic_torch_save(resumed, last_checkpoint)
    atomic_write_json(
        results_dir / "metrics.json",
        {
            "val_accuracy": metrics["val_accuracy"],
            "val_loss": metrics["val_loss"],
            "train_loss": metrics.get("train_loss"),
            "epoch": cfg.num_epochs,
            "checkpoint": str(last_checkpoint.resolve()),
        },
    )
    status.write(
        "SUCCESS", "Training finished successfully", epoch=cfg.num_epochs, max_epoch=cfg.num_epochs, kpi=metrics
    )


def restore(
    cfg: TrainConfig,
    ckpt: dict[str, Any],
    model: torch.nn.Module,
    optimizer: Optimizer,
    generator: torch.Generator,
) -> int:
    """Load every piece of training state from ``ckpt``; returns the epoch it was saved at."""
    epoch = int(ckpt["epoch"])
    if epoch > cfg.num_epochs:
        raise SpecError(
            f"invalid configuration: {RESUME_KEY} is at epoch {epoch}, beyond train.num_epochs={cfg.num_epochs}"
        )
    saved_width = model_params(ckpt["spec"])["width"]
    if saved_width != cfg.model["width"]:
        raise SpecError(
            f"invalid configuration: {RESUME_KEY} was trained with model.width={saved_width}, but the spec "
            f"asks for model.width={cfg.model['width']}; the weights' shape cannot change on resume"
        )
    model.load_state_dict(ckpt["model_state"])
    saved_optimizer = ckpt["optimizer_state"]["name"]
    if saved_optimizer == cfg.optimizer:
        optimizer.load_state_dict(ckpt["optimizer_state"])
    else:
        print(f"note: optimizer changed {saved_optimizer} -> {cfg.optimizer}; its state starts fresh", flush=True)
    torch.set_rng_state(ckpt["torch_rng_state"])
    generator.set_state(ckpt["shuffle_generator_state"])
    print(f"resumed from {cfg.resume_path} at epoch {epoch}", flush=True)
    return epoch


def main(argv: list[str] | None = None) -> int:
    return run_action("training", train, argv)


if __name__ == "__main__":
    sys.exit(main())
