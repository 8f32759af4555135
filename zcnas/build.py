"""``python -m zcnas.build``: train sampled architectures from scratch into a ground-truth file.

The data flow: compose config -> space, task, recipe -> a seeded train/validation split of the
task's images -> a seeded sample of archs (shard k of n: every n-th from the k-th) -> per arch not
yet in the output file: train with the recipe (checkpoint every epoch, resume from it), evaluate on
the validation split, append one JSON line ``{"arch", <task>: accuracy, "meta": {...}}`` -> the
file loads with ``benchmark=file benchmark.path=...``. ``merge=true`` joins shard files into one.

Examples:
    python -m zcnas.build space=nb201 task=cifar10 n_archs=30 recipe=nb201 recipe.epochs=5
    python -m zcnas.build -m shard.count=4 shard.index=0,1,2,3 launcher=slurm ...; python -m zcnas.build merge=true
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.cache import digest

log = logging.getLogger("zcnas.build")
EVAL_BATCH = 256
"""Images per forward when measuring accuracy (memory only: the accuracy does not depend on it)."""
EPOCH_SEED_STRIDE = 100_003
"""Epoch ``e`` of seed ``s`` draws with seed ``s * stride + e``: a prime above any epoch count, so no
two (seed, epoch) pairs share a seed."""


@dataclass
class Recipe:
    """A training recipe (``conf/recipe/<name>.yaml``).

    Args:
        name: recipe name. optimizer: ``sgd`` (momentum, Nesterov) or ``adamw``.
        lr, momentum, nesterov, weight_decay: optimizer settings. batch_size, epochs: schedule;
        the learning rate follows a cosine from ``lr`` to 0, after ``warmup_epochs`` of linear warm-up.
        label_smoothing: cross-entropy smoothing. augment: ``cifar`` (random crop with 4-pixel padding
        + horizontal flip), ``timm`` (timm's ``create_transform``: RandAugment ``auto_augment``,
        random erasing ``re_prob``) or ``none``. mixup, cutmix: timm ``Mixup`` alphas (0 = off).
        amp: bfloat16 autocast on CUDA. grad_clip: max gradient norm (null = off).
    """

    name: str = "nb201"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 256
    epochs: int = 200
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    augment: str = "cifar"
    auto_augment: str | None = None
    re_prob: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    amp: bool = True
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"recipe.optimizer={self.optimizer!r}; valid: sgd, adamw")
        if self.augment not in ("cifar", "timm", "none"):
            raise ValueError(f"recipe.augment={self.augment!r}; valid: cifar, timm, none")

    def optimizer_for(self, model: nn.Module) -> torch.optim.Optimizer:
        """SGD (momentum, Nesterov) or AdamW over all parameters."""
        if self.optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                   nesterov=self.nesterov, weight_decay=self.weight_decay)
        return torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """Linear warm-up, then cosine to zero, per optimisation step."""
        warm, total = self.warmup_epochs * steps_per_epoch, self.epochs * steps_per_epoch
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def augment(x: torch.Tensor, recipe: Recipe, transform: Any = None) -> torch.Tensor:
    """Training augmentation of a uint8 (B, 3, H, W) batch (uses the global torch RNG); ``transform``
    is :func:`timm_transform`'s answer when ``recipe.augment == 'timm'``."""
    if recipe.augment == "cifar":
        b, _, h, w = x.shape
        padded = F.pad(x, (4, 4, 4, 4))
        dy, dx = torch.randint(0, 9, (b,)), torch.randint(0, 9, (b,))
        flip = torch.rand(b) < 0.5
        out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
        out[flip] = out[flip].flip(-1)
        return out
    if recipe.augment == "timm":
        from PIL import Image  # noqa: PLC0415

        imgs = [transform(Image.fromarray(img.permute(1, 2, 0).numpy())) for img in x]
        return (torch.stack(imgs) * 255).round().clamp(0, 255).to(torch.uint8)
    return x


def timm_transform(resolution: int, auto_augment: str | None) -> Any:
    """timm's training transform, output in [0, 1] (built once per training: a module-level cache
    would be pickled by reference from ``__main__`` and break Slurm jobs)."""
    from timm.data import create_transform  # noqa: PLC0415

    return create_transform(resolution, is_training=True, auto_augment=auto_augment, re_prob=0.0,
                            interpolation="bicubic", mean=(0, 0, 0), std=(1, 1, 1))


def accuracy(model: nn.Module, task: Any, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on uint8 images ``x``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            out = model(task.normalize(x[i:i + EVAL_BATCH].to(device)))
            correct += int((out.argmax(1).cpu() == y[i:i + EVAL_BATCH]).sum())
    return 100.0 * correct / len(x)


def train(model: nn.Module, recipe: Recipe, task: Any, data: dict[str, torch.Tensor], *, seed: int,
          device: torch.device, checkpoint: Path | None = None) -> dict[str, Any]:
    """Train ``model`` with ``recipe`` on ``data['x_train']`` (uint8), checkpointing every epoch to
    ``checkpoint`` and resuming from it; evaluate on the validation split.

    Every epoch reseeds the RNG from (seed, epoch), so a resumed training equals an uninterrupted one.
    Returns ``{accuracy, train_loss, epochs, status, reason}``; a non-finite loss stops training and
    returns ``status='diverged'`` with NaN accuracy.
    """
    model.to(device)
    opt = recipe.optimizer_for(model)
    n = len(data["x_train"])
    steps = math.ceil(n / recipe.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: recipe.lr_factor(s, steps))
    mixup = None
    if recipe.mixup or recipe.cutmix:
        from timm.data import Mixup  # noqa: PLC0415

        mixup = Mixup(mixup_alpha=recipe.mixup, cutmix_alpha=recipe.cutmix,
                      label_smoothing=recipe.label_smoothing, num_classes=task.num_classes)
    start, losses = 0, []
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, losses = int(state["epoch"]) + 1, list(state["losses"])
        log.info("resuming from %s at epoch %d", checkpoint, start)
    amp = recipe.amp and device.type == "cuda"
    erase, transform = None, None
    if recipe.augment == "timm":
        transform = timm_transform(task.resolution, recipe.auto_augment)
    if recipe.augment == "timm" and recipe.re_prob:
        from timm.data.random_erasing import RandomErasing  # noqa: PLC0415

        erase = RandomErasing(recipe.re_prob, device=str(device))
    for epoch in range(start, recipe.epochs):
        epoch_seed = seed * EPOCH_SEED_STRIDE + epoch  # timm's RandAugment draws from `random` and numpy too
        torch.manual_seed(epoch_seed)
        random.seed(epoch_seed)
        np.random.seed(epoch_seed % 2**32)  # noqa: NPY002
        perm = torch.randperm(n)
        model.train()
        total = 0.0
        for i in range(steps):
            idx = perm[i * recipe.batch_size:(i + 1) * recipe.batch_size]
            xb = task.normalize(augment(data["x_train"][idx], recipe, transform).to(device))
            yb = data["y_train"][idx].to(device)
            if erase is not None:
                xb = erase(xb)
            if mixup is not None and len(xb) % 2 == 0:
                xb, soft = mixup(xb, yb)
            else:
                soft = F.one_hot(yb, task.num_classes).float()
                soft = soft * (1 - recipe.label_smoothing) + recipe.label_smoothing / task.num_classes
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = torch.sum(-soft * F.log_softmax(model(xb).float(), 1), 1).mean()
            if not torch.isfinite(loss):
                return {"accuracy": math.nan, "train_loss": float(loss.detach()), "epochs": epoch,
                        "status": "diverged", "reason": f"non-finite loss at epoch {epoch} step {i}"}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
        if checkpoint is not None:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "epoch": epoch, "losses": losses}, tmp)
            os.replace(tmp, checkpoint)
        log.info("epoch %d/%d: train loss %.4f", epoch + 1, recipe.epochs, losses[-1])
    return {"accuracy": accuracy(model, task, data["x_val"], data["y_val"], device),
            "train_loss": losses[-1] if losses else math.nan, "epochs": recipe.epochs,
            "status": "ok", "reason": ""}


def split(task: Any, val_fraction: float, seed: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A seeded train/validation split of the task's images (uint8 NCHW tensors) and its record."""
    images, labels = task.pixels()
    perm = np.random.default_rng(seed).permutation(len(images))
    n_val = max(1, int(round(val_fraction * len(images))))
    val, tr = perm[:n_val], perm[n_val:]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(labels % task.num_classes)
    data = {"x_train": x[tr], "y_train": y[tr], "x_val": x[val], "y_val": y[val]}
    return data, {"n_train": len(tr), "n_val": n_val, "split_seed": seed, "val_digest": digest(val.tolist())}


def shard_file(out: Path, index: int, count: int) -> Path:
    """``out`` itself, or ``<stem>.shard<k>of<n>.jsonl`` next to it for shard k of n."""
    return out if count == 1 else out.with_name(f"{out.stem}.shard{index}of{count}{out.suffix}")


def done_archs(path: Path) -> set[str]:
    """Archs already recorded in a benchmark file (each is trained once)."""
    if not path.is_file():
        return set()
    return {json.loads(line)["arch"] for line in path.read_text().splitlines() if line.strip()}


def merge_shards(out: Path, count: int) -> Path:
    """Join ``<stem>.shard<k>of<n>.jsonl`` into ``out`` in sample order, each arch once."""
    files = [shard_file(out, k, count) for k in range(count)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"shard files missing: {missing}; build those shards first")
    rows = [[line for line in f.read_text().splitlines() if line.strip()] for f in files]
    seen, merged = set(), []
    for j in range(max(map(len, rows))):
        for k in range(count):
            if j < len(rows[k]) and (arch := json.loads(rows[k][j])["arch"]) not in seen:
                seen.add(arch)
                merged.append(rows[k][j])
    out.write_text("\n".join(merged) + "\n")
    return out


def build(cfg: Any) -> Path:
    """Train the sampled archs not yet in the output file; return the file."""
    from zcnas.cli import check_config, instantiate, resolve_device  # noqa: PLC0415
    from zcnas.probe import arch_seed  # noqa: PLC0415

    out = Path(cfg.out)
    if cfg.merge:
        path = merge_shards(out, cfg.shard.count)
        log.info("merged %d shards -> %s (%d archs)", cfg.shard.count, path, len(done_archs(path)))
        return path
    check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    space, task = instantiate(cfg.space), instantiate(cfg.task)
    recipe: Recipe = instantiate(cfg.recipe)
    device = resolve_device(cfg.device)
    data, split_info = split(task, cfg.val_fraction, cfg.seed)
    if task.source == "shipped":
        log.warning("training on the %d shipped CIFAR-10 test images (%d train / %d val): a demo, not a "
                    "benchmark; use task.source=cifar_bin|imagefolder task.root=... for real data",
                    len(data["x_train"]) + split_info["n_val"], split_info["n_train"], split_info["n_val"])
    archs = space.sample(cfg.n_archs, np.random.default_rng(cfg.seed))[cfg.shard.index::cfg.shard.count]
    path = shard_file(out, cfg.shard.index, cfg.shard.count)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt_dir = Path(cfg.checkpoint_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    done = done_archs(path)
    for i, arch in enumerate(archs):
        key = space.encode(arch)
        if key in done:
            continue
        t0 = time.perf_counter()
        torch.manual_seed(arch_seed(cfg.seed, key))
        model = space.build(arch, num_classes=task.num_classes)
        ckpt = ckpt_dir / f"{digest([key, cfg.seed, dict(cfg.recipe), split_info])}.pt"
        res = train(model, recipe, task, data, seed=arch_seed(cfg.seed, key), device=device, checkpoint=ckpt)
        if res["status"] != "ok":
            log.warning("arch %s diverged: %s -> NaN accuracy", key, res["reason"])
        row = {"arch": key, task.name: None if math.isnan(res["accuracy"]) else res["accuracy"],
               "meta": {"recipe": recipe.name, "epochs": res["epochs"], "seed": cfg.seed,
                        "wall_s": round(time.perf_counter() - t0, 2), "train_loss": res["train_loss"],
                        "status": res["status"], "reason": res["reason"], **split_info}}
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        ckpt.unlink(missing_ok=True)
        log.info("[%d/%d] %s: %.2f%% (%s, %.1f s)", i + 1, len(archs), key, res["accuracy"], res["status"],
                 row["meta"]["wall_s"])
    print(f"{len(done_archs(path))} archs in {path}")
    return path


def main() -> None:
    """Hydra entry point (``python -m zcnas.build [overrides]``)."""
    import hydra  # noqa: PLC0415

    from zcnas import CONF_DIR  # noqa: PLC0415
    from zcnas.cli import one_line_errors  # noqa: PLC0415

    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="build")
    def _run(cfg: Any) -> None:
        with one_line_errors("zcnas.build"):
            build(cfg)

    _run()


if __name__ == "__main__":
    main()
