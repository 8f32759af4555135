"""Training a found architecture (python -m zcnas.build arch_from=... recipe=...): the DARTS retraining
recipe's parts (cutout, auxiliary head and its loss weight, drop path rising with the epoch, gradient
clipping), a found DARTS genotype and NB201 cell trained from their selected_arch.json, the AutoFormer
ImageNet recipe's one-line errors, and the Slurm launcher composing onto zcnas.build."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from zcnas.build import Recipe, build, cutout, step_loss
from zcnas.spaces import DartsSpace, NB201Space
from zcnas.spaces.darts import drop_path

from .conftest import ROOT

GENOTYPE = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
"""DARTS_V2 (quark0/darts ``cnn/genotypes.py``)."""
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|"


def recipe(name: str, **over) -> Recipe:
    cfg = OmegaConf.load(ROOT / "conf" / "recipe" / f"{name}.yaml")
    cfg.pop("_target_")
    return Recipe(**{**OmegaConf.to_container(cfg), **over})


def build_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="build", overrides=["threads=1", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_darts_recipe_is_the_papers():
    r = recipe("darts_c10")
    assert (r.epochs, r.batch_size, r.lr, r.momentum, r.nesterov, r.weight_decay) == (600, 96, 0.025, 0.9, False, 3e-4)
    assert (r.cutout, r.auxiliary_weight, r.drop_path, r.grad_clip) == (16, 0.4, 0.2, 5.0)
    assert r.space == {"C": 36, "layers": 20, "auxiliary": True}
    # drop path rises linearly with the epoch: DARTS drop_path_prob * epoch / epochs
    assert [r.drop_path_at(e) for e in (0, 150, 300, 599)] == pytest.approx([0.0, 0.05, 0.1, 0.2 * 599 / 600])
    assert r.lr_factor(0, 521) == 1.0 and r.lr_factor(300 * 521, 521) == pytest.approx(0.5)
    a = recipe("autoformer_imagenet")
    assert (a.lr, a.min_lr, a.batch_size, a.epochs, a.warmup_epochs, a.weight_decay) == (1e-3, 1e-5, 1024, 300, 5, 0.05)
    assert (a.mixup, a.cutmix, a.label_smoothing, a.re_prob) == (0.8, 1.0, 0.1, 0.25)
    assert a.drop_path_at(0) == a.drop_path_at(299) == 0.1
    assert a.lr_factor(300 * 10 - 1, 10) == pytest.approx(1e-2, rel=1e-3)  # cosine ends at min_lr = lr / 100


def test_cutout_zeroes_a_16x16_patch_clipped_at_the_border():
    x = torch.ones(400, 3, 32, 32)
    torch.manual_seed(0)
    cutout(x, 16)
    torch.manual_seed(0)
    cy, cx = torch.randint(0, 32, (400,)), torch.randint(0, 32, (400,))
    for i in range(400):
        zero = (x[i] == 0).all(0)
        assert (x[i] == 0).any(0).equal(zero)  # all channels alike
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        h = min(32, int(cy[i]) + 8) - max(0, int(cy[i]) - 8)
        w = min(32, int(cx[i]) + 8) - max(0, int(cx[i]) - 8)
        assert int(zero.sum()) == h * w == len(rows) * len(cols)  # one rectangle, the box clipped
        assert rows.min() == max(0, int(cy[i]) - 8) and cols.min() == max(0, int(cx[i]) - 8)
    inside = ((cy >= 8) & (cy <= 24) & (cx >= 8) & (cx <= 24)).sum()
    assert int(((x == 0).all(1).sum((1, 2)) == 256).sum()) == int(inside) > 0


def test_darts_v2_at_the_retraining_size_has_the_papers_params():
    """DARTS (second order) on CIFAR-10: 3.3 M params (Liu et al., Table 1) without the auxiliary head."""
    arch = DartsSpace.decode(GENOTYPE)
    space = DartsSpace(**recipe("darts_c10").space)
    with torch.device("meta"):
        net = space.build(arch, 10)
    main = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("auxiliary_head"))
    assert main == space.param_count(arch, 10) == 3_349_342 and net.auxiliary


def test_auxiliary_head_and_its_loss_weight():
    arch = DartsSpace.decode(GENOTYPE)
    space = DartsSpace(C=4, layers=5, auxiliary=True)
    torch.manual_seed(0)
    net = space.build(arch, 10)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits, aux = net.train()(x)
    assert logits.shape == aux.shape == (3, 10) and net.aux_at == 3
    assert net.eval()(x).shape == (3, 10)  # eval: the logits alone
    n_main = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("auxiliary_head"))
    assert n_main == space.param_count(arch, 10) == DartsSpace(C=4, layers=5).param_count(arch, 10)
    n_aux = sum(p.numel() for n, p in net.named_parameters() if n.startswith("auxiliary_head"))
    c_aux = 4 * 16  # cell 3 of 5 follows the second reduction: 4 nodes x 4C channels
    assert n_aux == c_aux * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * 10 + 10
    soft = F.one_hot(torch.tensor([1, 2, 3]), 10).float()
    expect = F.cross_entropy(logits, soft.argmax(1)) + 0.4 * F.cross_entropy(aux, soft.argmax(1))
    assert float(step_loss((logits, aux), soft, 0.4)) == pytest.approx(float(expect), rel=1e-6)
    assert float(step_loss((logits, aux), soft, 0.0)) == pytest.approx(float(F.cross_entropy(logits, soft.argmax(1))))


def test_drop_path_drops_whole_samples_and_rescales():
    torch.manual_seed(0)
    out = drop_path(torch.ones(4000, 2, 3, 3), 0.2)
    kept = (out != 0).all((1, 2, 3))
    assert set(out.unique().tolist()) == {0.0, 1.25} and abs(1 - kept.float().mean().item() - 0.2) < 0.02
    net = DartsSpace(C=4, layers=3).build(DartsSpace.decode(GENOTYPE), 10)
    x = torch.randn(4, 3, 32, 32)
    net.train()
    torch.manual_seed(1)
    plain = net(x)
    net.set_drop_path(0.5)
    assert all(c.drop_prob == 0.5 for c in net.cells)
    torch.manual_seed(1)
    assert not torch.allclose(net(x), plain)
    net.eval()
    assert torch.allclose(net(x), net(x))  # eval: no drop path


def write_selection(path, arch: str, space: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "selected_arch.json").write_text(json.dumps({"arch": arch, "space": space, "num_classes": 10}))


def test_train_a_found_darts_genotype_with_the_darts_recipe(tmp_path):
    """The genotype a paper_darts_c10 search writes (probed at C=1, 5 cells) trained 2 epochs with
    recipe=darts_c10 at C=4, 3 cells on 256 shipped images: every recipe part in the record."""
    write_selection(tmp_path / "run", GENOTYPE, {"_target_": "zcnas.spaces.DartsSpace", "C": 1, "layers": 5})
    cfg = build_cfg(f"arch_from={tmp_path / 'run'}", "recipe=darts_c10", "recipe.epochs=2", "recipe.batch_size=32",
                    "recipe.space.C=4", "recipe.space.layers=3", "n_images=256", f"checkpoint_dir={tmp_path}/ck")
    path = build(cfg, tmp_path / "out")
    rec = json.loads(path.read_text())
    arch = DartsSpace.decode(GENOTYPE)
    assert rec["arch"] == DartsSpace.encode(arch) and rec["space"]["auxiliary"] is True
    assert rec["params_M"] == pytest.approx(DartsSpace(C=4, layers=3).param_count(arch, 10) / 1e6)
    assert rec["meta"]["n_train"] == 205 and rec["meta"]["n_val"] == 51 and rec["meta"]["status"] == "ok"
    hist = rec["history"]
    assert hist["drop_path"] == pytest.approx([0.0, 0.1])
    steps = math.ceil(205 / 32)
    assert hist["lr"] == pytest.approx([0.025, 0.025 * 0.5 * (1 + math.cos(math.pi * steps / (2 * steps)))])
    assert len(hist["loss"]) == 2 and all(np.isfinite(hist["loss"])) and hist["loss"][1] < hist["loss"][0]
    assert 0 <= rec["cifar10"] <= 100 and rec["flops_M"] > 0 and rec["cost"]["cpu_hours"] > 0
    state = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert any(k.startswith("auxiliary_head") for k in state) and "cells.0.preprocess0.1.weight" in state
    assert json.loads((tmp_path / "out" / "trained.jsonl").read_text())["cifar10"] == rec["cifar10"]


def test_train_a_found_nb201_cell_lowers_its_loss(tmp_path):
    write_selection(tmp_path / "run", CELL, {"_target_": "zcnas.spaces.NB201Space", "C": 4, "N": 1})
    cfg = build_cfg(f"arch_from={tmp_path / 'run' / 'selected_arch.json'}", "recipe=nb201", "recipe.epochs=2",
                    "recipe.batch_size=64", f"checkpoint_dir={tmp_path}/ck")
    rec = json.loads(build(cfg, tmp_path / "out").read_text())
    assert rec["arch"] == CELL
    assert rec["params_M"] == pytest.approx(NB201Space(C=4, N=1).param_count(NB201Space.decode(CELL), 10) / 1e6)
    loss = rec["history"]["loss"]
    assert loss[0] == pytest.approx(math.log(10), abs=0.25) and loss[1] < loss[0] - 0.02, loss
    assert rec["history"]["drop_path"] == [] and 0 <= rec["cifar10"] <= 100
    # a recipe written for another space is a one-line error naming it
    with pytest.raises(ValueError, match="recipe=darts_c10 is written for space=darts, not nb201"):
        build(build_cfg(f"arch_from={tmp_path / 'run'}", "recipe=darts_c10"), tmp_path / "bad")
    # an auxiliary weight on a network without the head
    with pytest.raises(ValueError, match="needs a network with an auxiliary head"):
        build(build_cfg(f"arch_from={tmp_path / 'run'}", "+recipe.auxiliary_weight=0.4", "recipe.epochs=1",
                        "n_images=20"), tmp_path / "bad")


def test_autoformer_imagenet_recipe_needs_imagenet(tmp_path):
    write_selection(tmp_path / "run", "embed=320|depth=12|mlp=" + ",".join(["3"] * 12) + "|heads=" + ",".join(["5"] * 12),
                    {"_target_": "zcnas.spaces.AutoFormerSpace", "variant": "small", "flavour": "cream", "img_size": 224,
                     "patch": 16})
    common = [f"arch_from={tmp_path / 'run'}", "recipe=autoformer_imagenet"]
    with pytest.raises(ValueError, match=r"trains on imagenet, not cifar10: add task=imagenet_224 task.root="):
        build(build_cfg(*common), tmp_path / "out")
    with pytest.raises(ValueError, match="task.root must be set"):
        build(build_cfg(*common, "task=imagenet_224"), tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=f"imagefolder root {tmp_path}/nope does not exist"):
        build(build_cfg(*common, "task=imagenet_224", f"task.root={tmp_path}/nope"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_autoformer_drop_path_is_linear_over_depth():
    from zcnas.spaces import AutoFormerSpace

    space = AutoFormerSpace("test", img_size=32, patch=16)
    net = space.build(space.sample(1, np.random.default_rng(0))[0], 10)
    net.set_drop_path(0.1)
    d = len(net.blocks)
    probs = [getattr(b.drop_path1, "drop_prob", 0.0) for b in net.blocks]
    assert probs == pytest.approx([0.1 * i / (d - 1) for i in range(d)])
    net.set_drop_path(0.0)
    assert all(isinstance(b.drop_path1, torch.nn.Identity) for b in net.blocks)


def test_slurm_launcher_composes_onto_build(tmp_path):
    cfg = build_cfg("launcher=slurm", f"arch_from={tmp_path}", "recipe=darts_c10", "hydra.launcher.gpus_per_node=1")
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert cfg.hydra.launcher.cpus_per_task == 2 and cfg.hydra.launcher.max_num_timeout == 3
    assert cfg.recipe.name == "darts_c10" and cfg.arch_from == str(tmp_path)
