"""TransNAS-Bench-101 micro/macro spaces, their decoders, and the autoencoder / jigsaw tasks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zcnas.data import asset_path
from zcnas.data.tasks import TNB101Task
from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.spaces import TNB101Space
from zcnas.spaces.tnb101 import TASKS, TNB101Arch, decode, encode


@pytest.mark.parametrize("variant,n", [("micro", 2), ("macro", 2), pytest.param("micro", 20, marks=pytest.mark.slow),
                                       pytest.param("macro", 20, marks=pytest.mark.slow)])
def test_params_equal_nas_bench_suite_zero_for_every_task(variant, n):
    """Our encoder + decoder #params equals Suite-Zero's precomputed `params` (NASLib's port of the
    benchmark's own networks) on n archs of each of the 7 tasks, every key round-tripping."""
    data = json.loads(asset_path(f"zc_transbench101_{variant}.json").read_text())
    assert set(data) == set(TASKS)
    for task, recs in data.items():
        space = TNB101Space(variant, task)
        assert all(encode(space.decode(k)) == k for k in recs)
        for key in list(recs)[:n]:
            assert space.param_count(space.decode(key)) == round(recs[key]["params"]["score"] * 1e6), (task, key)


def test_space_sizes_and_tnb_strings():
    assert len(TNB101Space("micro").all_codes()) == 4096
    assert len(TNB101Space("macro").all_codes()) == 3256  # TNB101 paper: 3,256 macro networks
    micro = decode("(1, 0, 0, 2, 1, 0)", "micro")
    assert micro.tnb_string() == "64-41414-1_00_210" and decode("64-41414-1_00_210", "micro") == micro
    macro = decode("(1, 2, 4, 2, 0, 0)", "macro")
    assert macro.tnb_string() == "64-1242-basic" and decode("64-1242-basic", "macro") == macro


@pytest.mark.parametrize("text,variant,why", [
    ("(1, 0, 0, 2, 1, 4)", "micro", "invalid TNB101 micro cell"),
    ("(1, 1, 1, 1, 0, 0)", "macro", "0 strided"),           # no downsampling
    ("(3, 3, 3, 3, 3, 0)", "macro", "0 doubling"),
    ("(1, 2, 0, 4, 0, 0)", "macro", "then 0s"),
    ("64-41414-1_00_21", "micro", "malformed TNB101 micro arch"),
    ("__import__('os')", "macro", "malformed TNB101 macro arch"),
])
def test_bad_archs_give_one_line_errors(text, variant, why):
    with pytest.raises(ValueError, match=why) as err:
        decode(text, variant)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("task", ["class_object", "class_scene", "normal", "room_layout", "segmentsemantic"])
def test_tasks_without_labels_name_the_missing_data(task):
    with pytest.raises(ValueError, match=f"TNB101 task '{task}' needs Taskonomy") as err:
        TNB101Task(name=task)
    assert "\n" not in str(err.value)


def test_autoencoder_task_is_exact_reconstruction_with_l1():
    task = TNB101Task(name="autoencoder")
    x, y = task.batch(4, 0)
    assert x.shape == (4, 3, 256, 256) and torch.equal(x, y) and task.stand_in
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0  # normalised with mean = std = 0.5
    assert float(task.loss(torch.zeros_like(y), y)) == pytest.approx(float(y.abs().mean()))


def test_probe_batch_is_the_tasks_own_batch():
    """zcnas.run probes with probe_batch: TNB101 tasks must give their own (input, target), not the
    base class's (images, class labels) (jigsaw tiles; the image as the autoencoder's target)."""
    digests = set()
    for name, shape in [("autoencoder", (4, 3, 256, 256)), ("jigsaw", (4, 9, 3, 64, 64))]:
        task = TNB101Task(name=name)
        x, y, d = task.probe_batch(4, 0)
        bx, by = task.batch(4, 0)
        assert x.shape == shape and torch.equal(x, bx) and torch.equal(y, by)
        assert d == task.probe_batch(4, 0)[2] and d != task.probe_batch(4, 1)[2]
        digests.add(d)
    assert len(digests) == 2


def test_jigsaw_tiles_follow_the_benchmark_permutation():
    task = TNB101Task(name="jigsaw")
    x, y = task.batch(6, 3)
    perms = np.load(asset_path("permutations_hamming_max_1000.npy"), allow_pickle=False)
    assert perms.shape == (1000, 9) and all(sorted(p) == list(range(9)) for p in perms.tolist())
    assert x.shape == (6, 9, 3, 64, 64) and y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < 1000
    assert torch.equal(x, task.batch(6, 3)[0])
    # rebuild sample 0's 255-pixel image (centre crop 90 %, resized back): tile n is a 64 x 64 window of
    # grid cell perm[n] (85-pixel cells)
    raw = TNB101Task(name="jigsaw")
    images, _ = raw.pixels()
    idx = np.random.default_rng(3).choice(len(images), 6, replace=False)
    full = raw.normalize(torch.from_numpy(images[idx[:1]]).permute(0, 3, 1, 2))
    crop = full[:, :, 13:242, 13:242]  # int(0.9 * 255) = 229 pixels, offset (255 - 229) // 2
    img = torch.nn.functional.interpolate(crop, size=(255, 255), mode="bilinear", align_corners=False)[0]
    cells = [img[:, (p // 3) * 85:(p // 3) * 85 + 85, (p % 3) * 85:(p % 3) * 85 + 85] for p in range(9)]
    for n, p in enumerate(perms[int(y[0])]):
        assert any(torch.equal(x[0, n], cells[p][:, i:i + 64, j:j + 64]) for i in range(22) for j in range(22)), n
    assert float(task.loss(torch.zeros(6, 1000), y)) == pytest.approx(np.log(1000), rel=1e-5)


@pytest.mark.parametrize("variant,codes", [("micro", (3, 1, 0, 2, 3, 1)), ("macro", (4, 1, 2, 3, 0, 0))])
@pytest.mark.parametrize("task,shape", [("jigsaw", (2, 1000)), ("autoencoder", (2, 3, 64, 64)),
                                        ("class_scene", (2, 63)), ("segmentsemantic", (2, 17, 64, 64))])
def test_networks_run_with_each_decoder(variant, codes, task, shape):
    space = TNB101Space(variant, task, base=8)
    net = space.build(TNB101Arch(variant, codes))
    x = torch.randn(2, 9, 3, 32, 32) if task == "jigsaw" else torch.randn(2, 3, 64, 64)
    assert net(x).shape == shape


def test_task_loss_reaches_the_gradient_proxies():
    """The L1 loss of the autoencoder, not cross-entropy, is what the gradient artifacts differentiate."""
    task = TNB101Task(name="autoencoder")
    task.resolution = 64  # small images for speed; the decoder's output follows the input size
    x, y = task.batch(4, 0)
    space = TNB101Space("micro", "autoencoder", base=8)
    torch.manual_seed(0)
    net = space.build(space.decode("(3, 3, 1, 2, 3, 1)"))
    probe = Probe(net, x, y, loss_fn=task.loss)
    g = probe.full_grads
    net.zero_grad()
    torch.nn.functional.l1_loss(net(x), y).backward()
    first = probe.layers[0][1].weight
    assert torch.allclose(g[0][0], first.grad.flatten(), atol=1e-6)
    net.zero_grad()
    s = score(Probe(net, x, y, loss_fn=task.loss), {"snip": {}, "grad_norm": {}, "epe_nas": {}})
    assert np.isfinite(s["snip"]) and np.isfinite(s["grad_norm"]) and np.isnan(s["epe_nas"])  # epe_nas needs classes


def test_sampling_and_mutation_stay_in_the_space():
    for variant in ("micro", "macro"):
        space = TNB101Space(variant)
        archs = space.sample(100, np.random.default_rng(0))
        assert len(set(archs)) == 100 and archs == space.sample(100, np.random.default_rng(0))
        child = space.mutate(archs[0], np.random.default_rng(1))
        assert child != archs[0] and isinstance(child, TNB101Arch)
        mix = space.crossover(archs[0], archs[1], np.random.default_rng(2))
        assert all(c in (x, y) for c, x, y in zip(mix.codes, archs[0].codes, archs[1].codes, strict=True)) or mix == archs[0]
