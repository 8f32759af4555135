"""``python -m zcnas.build``: train sampled architectures from scratch into a ground-truth file.

The data flow: compose config -> plan (the config read once: :func:`zcnas.plan.build_plan`) -> space,
task, recipe -> a seeded train/validation split of the task's images -> a seeded sample of archs
(shard k of n: every n-th from the k-th) -> per arch not yet in the output file: train with the recipe
(checkpoint every epoch, resume from it), evaluate on the validation split, append one JSON line
``{"arch", <task>: accuracy, "meta": {...}}`` -> the file loads with ``benchmark=file benchmark.path=...``.
``merge=true`` joins shard files into one.

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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.cache import digest

if TYPE_CHECKING:
    from zcnas.plan import BuildPlan

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
        min_lr: the cosine's end (AutoFormer/DeiT: 1e-5; default 0).
        cutout: side of the square zeroed at a uniform centre (clipped at the border) in every
            normalised training image (DeVries & Taylor 2017; quark0/darts ``cnn/utils.py`` ``Cutout``);
            0 = off.
        auxiliary_weight: weight of the auxiliary head's cross-entropy added to the loss (DARTS 0.4;
            needs a network with one: space=darts, built with ``auxiliary``); 0 = off.
        drop_path: drop-path probability (0 = off) on a network with ``set_drop_path`` (DARTS cells,
            AutoFormer blocks); ``drop_path_schedule``: ``linear`` = ``drop_path * epoch / epochs``
            (DARTS ``cnn/train.py``), ``constant`` (DeiT/AutoFormer).
        space: space arguments the recipe trains at, over the space's own (DARTS retraining:
            ``{C: 36, layers: 20, auxiliary: true}``); a space that lacks one is a one-line error.
        for_space, for_task: the space / task names the recipe is written for (null: any); another is a
            one-line error naming the overrides to add.
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
    min_lr: float = 0.0
    cutout: int = 0
    auxiliary_weight: float = 0.0
    drop_path: float = 0.0
    drop_path_schedule: str = "linear"
    space: dict[str, Any] | None = None
    for_space: str | None = None
    for_task: str | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"recipe.optimizer={self.optimizer!r}; valid: sgd, adamw")
        if self.augment not in ("cifar", "timm", "none"):
            raise ValueError(f"recipe.augment={self.augment!r}; valid: cifar, timm, none")
        if self.drop_path_schedule not in ("linear", "constant"):
            raise ValueError(f"recipe.drop_path_schedule={self.drop_path_schedule!r}; valid: linear, constant")
        for key in ("cutout", "auxiliary_weight", "drop_path", "min_lr"):
            if getattr(self, key) < 0:
                raise ValueError(f"recipe.{key}={getattr(self, key)} must be >= 0")
        if self.drop_path >= 1:
            raise ValueError(f"recipe.drop_path={self.drop_path} must be < 1 (a probability of dropping)")
        for key, lo in (("epochs", 1), ("batch_size", 1), ("warmup_epochs", 0)):  # no recipe trains with fewer
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"recipe.{key}={value!r} must be an integer >= {lo}")
        for key in ("lr", "momentum", "weight_decay", "label_smoothing", "re_prob", "mixup", "cutmix"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"recipe.{key}={value!r} must be a finite number >= 0")
        if self.lr == 0:
            raise ValueError("recipe.lr=0 trains nothing; give a learning rate > 0")
        for key in ("momentum", "label_smoothing", "re_prob"):
            if getattr(self, key) >= 1:
                raise ValueError(f"recipe.{key}={getattr(self, key)} must be < 1")
        self.space = dict(self.space or {})

    def drop_path_at(self, epoch: int) -> float:
        """Drop-path probability of ``epoch`` (0-based): DARTS ``drop_path_prob * epoch / epochs``, or constant."""
        if self.drop_path_schedule == "constant":
            return self.drop_path
        return self.drop_path * epoch / self.epochs

    def optimizer_for(self, model: nn.Module) -> torch.optim.Optimizer:
        """SGD (momentum, Nesterov) or AdamW over all parameters."""
        if self.optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                   nesterov=self.nesterov, weight_decay=self.weight_decay)
        return torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """Linear warm-up, then cosine to ``min_lr`` (a factor of ``lr``), per optimisation step."""
        warm, total = self.warmup_epochs * steps_per_epoch, self.epochs * steps_per_epoch
        if step < warm:
            return (step + 1) / warm
        floor = self.min_lr / self.lr if self.lr else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


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


def cutout(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero a ``length`` x ``length`` square (clipped at the border) at a uniform centre of every image of
    a normalised (B, C, H, W) batch, in place; returns it (quark0/darts ``cnn/utils.py`` ``Cutout``: after
    normalisation, so the patch is the dataset mean; global torch RNG)."""
    b, _, h, w = x.shape
    cy, cx = torch.randint(0, h, (b,)), torch.randint(0, w, (b,))
    for i in range(b):
        y0, y1 = max(0, int(cy[i]) - length // 2), min(h, int(cy[i]) + length // 2)
        x0, x1 = max(0, int(cx[i]) - length // 2), min(w, int(cx[i]) + length // 2)
        x[i, :, y0:y1, x0:x1] = 0
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
    Per step: augment, normalise, cutout (``recipe.cutout``), Mixup/CutMix or label smoothing, loss =
    CE(logits) + ``auxiliary_weight`` x CE(auxiliary logits) (DARTS), gradient clipping; per epoch the
    drop-path probability of :meth:`Recipe.drop_path_at`.
    Returns ``{accuracy, train_loss, epochs, status, reason, history}`` (``history``: per epoch the mean
    training loss, the learning rate at its start and its drop-path probability); a non-finite loss
    stops training and returns ``status='diverged'`` with NaN accuracy.
    """
    check_model(model, recipe)
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
    start, losses, lrs, drops = 0, [], [], []
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, losses = int(state["epoch"]) + 1, list(state["losses"])
        lrs, drops = list(state.get("lrs", [])), list(state.get("drops", []))
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
        np.random.seed(epoch_seed % 2**32)
        perm = torch.randperm(n)
        if recipe.drop_path:
            model.set_drop_path(recipe.drop_path_at(epoch))  # type: ignore[operator]  # check_model: it has one
            drops.append(recipe.drop_path_at(epoch))
        lrs.append(opt.param_groups[0]["lr"])
        model.train()
        total = 0.0
        for i in range(steps):
            idx = perm[i * recipe.batch_size:(i + 1) * recipe.batch_size]
            xb = task.normalize(augment(data["x_train"][idx], recipe, transform).to(device))
            yb = data["y_train"][idx].to(device)
            if recipe.cutout:
                xb = cutout(xb, recipe.cutout)
            if erase is not None:
                xb = erase(xb)
            if mixup is not None and len(xb) % 2 == 0:
                xb, soft = mixup(xb, yb)
            else:
                soft = F.one_hot(yb, task.num_classes).float()
                soft = soft * (1 - recipe.label_smoothing) + recipe.label_smoothing / task.num_classes
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = step_loss(model(xb), soft, recipe.auxiliary_weight)
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
                        "scheduler": sched.state_dict(), "epoch": epoch, "losses": losses, "lrs": lrs,
                        "drops": drops}, tmp)
            os.replace(tmp, checkpoint)
        log.info("epoch %d/%d: train loss %.4f", epoch + 1, recipe.epochs, losses[-1])
    return {"accuracy": accuracy(model, task, data["x_val"], data["y_val"], device),
            "train_loss": losses[-1] if losses else math.nan, "epochs": recipe.epochs,
            "status": "ok", "reason": "", "history": {"loss": losses, "lr": lrs, "drop_path": drops}}


def step_loss(out: torch.Tensor | tuple[torch.Tensor, torch.Tensor], soft: torch.Tensor,
              aux_weight: float) -> torch.Tensor:
    """Soft-target cross-entropy of the logits, plus ``aux_weight`` x that of the auxiliary logits when
    the network returns ``(logits, aux)`` (DARTS ``cnn/train.py``: ``loss += auxiliary_weight * loss_aux``)."""
    logits, aux = out if isinstance(out, tuple) else (out, None)
    loss = torch.sum(-soft * F.log_softmax(logits.float(), 1), 1).mean()
    if aux is not None and aux_weight:
        loss = loss + aux_weight * torch.sum(-soft * F.log_softmax(aux.float(), 1), 1).mean()
    return loss


def check_model(model: nn.Module, recipe: Recipe) -> None:
    """One-line errors for a recipe that needs what the network lacks (auxiliary head, drop path)."""
    if recipe.auxiliary_weight and not getattr(model, "auxiliary", False):
        raise ValueError(f"recipe.auxiliary_weight={recipe.auxiliary_weight} needs a network with an auxiliary head "
                         f"(space=darts with space.auxiliary=true); {type(model).__name__} has none: set "
                         "recipe.auxiliary_weight=0")
    if recipe.drop_path and not hasattr(model, "set_drop_path"):
        raise ValueError(f"recipe.drop_path={recipe.drop_path} needs a network with drop path (darts, autoformer); "
                         f"{type(model).__name__} has none: set recipe.drop_path=0")


def split(task: Any, val_fraction: float, seed: int,
          n_images: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A seeded train/validation split of the task's images (the first ``n_images`` only, when given;
    uint8 NCHW tensors) and its record."""
    images, labels = task.pixels()
    if n_images:
        images, labels = images[:n_images], labels[:n_images]
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


def training_data(task: Any, plan: BuildPlan) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """:func:`split` of the task's images by the plan's ``val_fraction``, ``seed`` and ``n_images``, with a
    warning when they are the shipped CIFAR-10 test images (a demo, not a benchmark)."""
    data, split_info = split(task, plan.val_fraction, plan.seed, plan.n_images)
    if task.source == "shipped":
        log.warning("training on the shipped CIFAR-10 test images (%d train / %d val): a demo, not a benchmark; "
                    "use task.source=cifar_bin|imagefolder task.root=... for real data", split_info["n_train"],
                    split_info["n_val"])
    return data, split_info


def trained_row(key: str, task: Any, recipe: Recipe, res: dict[str, Any], seed: int, seconds: float,
                split_info: dict[str, Any]) -> dict[str, Any]:
    """One trained arch as a ``benchmark=file`` row: ``{arch, <task>: accuracy (None if diverged), meta}``."""
    return {"arch": key, task.name: None if math.isnan(res["accuracy"]) else res["accuracy"],
            "meta": {"recipe": recipe.name, "epochs": res["epochs"], "seed": seed, "wall_s": round(seconds, 2),
                     "train_loss": res["train_loss"], "status": res["status"], "reason": res["reason"], **split_info}}


def space_for(space_cfg: dict[str, Any], recipe: Recipe) -> Any:
    """The space from its config (``_target_`` + arguments) with the recipe's ``space`` arguments over
    it; an argument the space does not take, or a space the recipe is not for, is a one-line error."""
    from zcnas.spaces import space_class, space_from_config  # noqa: PLC0415

    if not isinstance(space_cfg, dict):
        raise ValueError(f"space config {str(space_cfg)[:80]!r} is not a mapping with a _target_")
    cls = space_class(space_cfg.get("_target_"))  # zcnas's own spaces only (arch_from files are data)
    name = next((f.default for f in fields(cls) if f.name == "name"), cls.__name__)
    if recipe.for_space and name != recipe.for_space:
        raise ValueError(f"recipe={recipe.name} is written for space={recipe.for_space}, not {name}: pick a recipe "
                         f"for {name} (e.g. recipe=nb201) or an arch of {recipe.for_space}")
    over = recipe.space or {}
    unknown = sorted(set(over) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"recipe={recipe.name} sets space arguments {unknown} that {cls.__name__} does not take")
    return space_from_config({**space_cfg, **over})


def build(cfg: Any, out_dir: Path | None = None) -> Path:
    """Train the sampled archs not yet in the output file and return the file; with ``arch_from``
    train that one arch (see :func:`train_arch`) and return its ``trained.json``. ``cfg`` is read once,
    into a :class:`~zcnas.plan.BuildPlan`."""
    from zcnas.cli import instantiate, resolve_device  # noqa: PLC0415
    from zcnas.plan import build_plan  # noqa: PLC0415
    from zcnas.probe import arch_seed  # noqa: PLC0415

    plan = build_plan(cfg)
    if plan.merge:
        path = merge_shards(plan.out, plan.shard["count"])
        log.info("merged %d shards -> %s (%d archs)", plan.shard["count"], path, len(done_archs(path)))
        return path
    if plan.threads:
        torch.set_num_threads(int(plan.threads))
    recipe: Recipe = instantiate(plan.recipe)
    task = instantiate(plan.task)
    if recipe.for_task and task.name != recipe.for_task:
        raise ValueError(f"recipe={recipe.name} trains on {recipe.for_task}, not {task.name}: add "
                         + ("task=imagenet_224 task.root=<ImageNet-1k train dir, <class>/<image>>"
                            if recipe.for_task == "imagenet" else f"task={recipe.for_task}"))
    if plan.arch_from:
        from zcnas.export import read_selection  # noqa: PLC0415

        sel, sel_path = read_selection(Path(plan.arch_from))
        space = space_for(dict(sel["space"]), recipe)
        return train_arch(plan, space, space.decode(sel["arch"]), recipe, task, sel_path,
                          out_dir or plan.checkpoint_dir.parent / "trained")
    space = space_for(plan.space, recipe)
    device = resolve_device(plan.device)
    data, split_info = training_data(task, plan)
    archs = space.sample(plan.n_archs, np.random.default_rng(plan.seed))[plan.shard["index"]::plan.shard["count"]]
    path = shard_file(plan.out, plan.shard["index"], plan.shard["count"])
    path.parent.mkdir(parents=True, exist_ok=True)
    plan.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    done = done_archs(path)
    for i, arch in enumerate(archs):
        key = space.encode(arch)
        if key in done:
            continue
        t0 = time.perf_counter()
        torch.manual_seed(arch_seed(plan.seed, key))
        model = space.build(arch, num_classes=task.num_classes)
        ckpt = plan.checkpoint_dir / f"{digest([key, plan.seed, plan.recipe, split_info])}.pt"
        res = train(model, recipe, task, data, seed=arch_seed(plan.seed, key), device=device, checkpoint=ckpt)
        if res["status"] != "ok":
            log.warning("arch %s diverged: %s -> NaN accuracy", key, res["reason"])
        row = trained_row(key, task, recipe, res, plan.seed, time.perf_counter() - t0, split_info)
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        ckpt.unlink(missing_ok=True)
        log.info("[%d/%d] %s: %.2f%% (%s, %.1f s)", i + 1, len(archs), key, res["accuracy"], res["status"],
                 row["meta"]["wall_s"])
    print(f"{len(done_archs(path))} archs in {path}")
    return path


def train_arch(plan: BuildPlan, space: Any, arch: Any, recipe: Recipe, task: Any, source: Path, out_dir: Path) -> Path:
    """Train one found arch (a search's ``selected_arch.json``) with ``recipe`` at the recipe's size;
    write ``trained.json`` (accuracy on the held-out split, #params and MFLOPs of the trained network,
    per-epoch loss / learning rate / drop-path history, cost), ``trained.jsonl`` (the same row as a
    sampled build's, ``benchmark=file`` reads it) and ``model.pt`` (the weights) into ``out_dir``."""
    from zcnas.cli import resolve_device  # noqa: PLC0415
    from zcnas.probe import arch_seed  # noqa: PLC0415
    from zcnas.results import cpu_seconds, run_cost, write_json  # noqa: PLC0415
    from zcnas.search.run import flops_m  # noqa: PLC0415

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    device = resolve_device(plan.device)
    data, split_info = training_data(task, plan)
    key = space.encode(arch)
    torch.manual_seed(arch_seed(plan.seed, key))
    model = space.build(arch, num_classes=task.num_classes)
    n_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("auxiliary_head"))
    out_dir.mkdir(parents=True, exist_ok=True)
    plan.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    ckpt = plan.checkpoint_dir / f"{digest([key, plan.seed, asdict(recipe), split_info, str(source)])}.pt"
    log.info("training %s (%s, %.3f M params) with recipe=%s for %d epochs on %s", key, space.name, n_params / 1e6,
             recipe.name, recipe.epochs, device)
    res = train(model, recipe, task, data, seed=arch_seed(plan.seed, key), device=device, checkpoint=ckpt)
    seconds = time.perf_counter() - t0
    row = trained_row(key, task, recipe, res, plan.seed, seconds, split_info)
    (out_dir / "trained.jsonl").write_text(json.dumps(row) + "\n")
    torch.save(model.state_dict(), out_dir / "model.pt")
    path = write_json(out_dir / "trained.json", {
        **row, "from": str(source), "space": {"_target_": f"{type(space).__module__}.{type(space).__name__}",
                                              **{k: v for k, v in asdict(space).items() if k != "name"}},
        "num_classes": task.num_classes, "params_M": n_params / 1e6,
        "flops_M": flops_m(space, arch, task.num_classes, task.resolution), "recipe": asdict(recipe), "history": res.get("history", {}),
        "cost": run_cost(cpu0, seconds, device)})
    ckpt.unlink(missing_ok=True)
    print(f"{key}: {res['accuracy']:.2f}% after {res['epochs']} epochs ({res['status']}) -> {path}")
    return path


def main() -> None:
    """Hydra entry point (``python -m zcnas.build [overrides]``)."""
    import hydra  # noqa: PLC0415

    from zcnas.cli import check_argv, one_line_errors  # noqa: PLC0415
    from zcnas.paths import CONF_DIR  # noqa: PLC0415

    check_argv("zcnas.build")
    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="build")
    def _run(cfg: Any) -> None:
        from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

        with one_line_errors("zcnas.build"):
            build(cfg, Path(HydraConfig.get().runtime.output_dir))

    _run()


if __name__ == "__main__":
    main()
