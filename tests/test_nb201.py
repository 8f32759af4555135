"""NB201 space: exact strings, the benchmark index mapping, the network, sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zcnas.data import asset_path, load_nb201
from zcnas.spaces import NB201Space
from zcnas.spaces.nb201 import OPS, decode, encode, from_index_tuple

# NAS-Bench-Suite-Zero op order and edge order (shared/data/README.md §1).
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")


def test_round_trip_all_15625_benchmark_strings():
    lines = asset_path("configs.txt").read_text().split("\n")
    assert len(lines) == 15625
    assert all(encode(decode(s)) == s for s in lines)
    assert len({decode(s) for s in lines}) == 15625  # the benchmark covers the space exactly once


def test_space_enumeration_covers_benchmark():
    space = NB201Space()
    ours = {encode(space.arch_at(i)) for i in range(len(space))}
    assert ours == set(load_nb201().table.index)


@pytest.mark.parametrize("bad", ["", "|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_malformed_string_one_line_error(bad):
    with pytest.raises(ValueError, match="malformed NB201 arch string") as err:
        decode(bad)
    assert "\n" not in str(err.value) and repr(bad) in str(err.value)


@pytest.mark.parametrize("dataset,classes,n", [
    ("cifar10", 10, 725),
    pytest.param("cifar100", 100, 725, marks=pytest.mark.slow),
    pytest.param("ImageNet16-120", 120, 724, marks=pytest.mark.slow)])
def test_params_equal_nas_bench_suite_zero(dataset, classes, n):
    """Our network's #params equals NASLib's precomputed `params` on every record (same network)."""
    data = json.loads(asset_path("zc_nasbench201.json").read_text())
    space = NB201Space()
    checked = 0
    for key, rec in data[dataset].items():
        t = tuple(int(v) for v in key.strip("()").split(","))
        arch = from_index_tuple((t[0], t[1], t[3], t[2], t[4], t[5]), NASLIB_OPS)
        with torch.device("meta"):
            count = sum(p.numel() for p in space.build(arch, classes).parameters())
        assert count / 1e6 == pytest.approx(rec["params"]["score"], abs=1e-9), (dataset, key)
        checked += 1
    assert checked == n


def test_network_shapes_and_relu_modules():
    space = NB201Space()
    arch = decode("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    net = space.build(arch, num_classes=100)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    # 15 cells x 6 convs + 2 reductions x 2 convs + last act
    assert len(relus) == 15 * 6 + 2 * 2 + 1
    # the all-3x3 cell is NB201's largest network: 1.53 M params with a 10-class head
    assert sum(p.numel() for p in space.build(arch, 10).parameters()) == 1_531_546


def test_sampling_is_seeded_uniform_and_distinct():
    space = NB201Space()
    a = space.sample(500, np.random.default_rng(3))
    assert a == space.sample(500, np.random.default_rng(3))
    assert len(set(a)) == 500
    counts = np.array([[arch.ops[e] == op for op in OPS] for arch in a for e in range(6)]).sum(0)
    assert counts.min() > 0.15 * 3000 and counts.max() < 0.25 * 3000  # ~600 each of 3000 edges
    with pytest.raises(ValueError, match="exceeds the NB201 space size"):
        space.sample(15626, np.random.default_rng(0))


def test_mutate_changes_exactly_one_edge():
    space = NB201Space()
    rng = np.random.default_rng(0)
    for arch in space.sample(20, rng):
        child = space.mutate(arch, rng)
        assert sum(x != y for x, y in zip(arch.ops, child.ops, strict=True)) == 1
