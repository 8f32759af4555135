"""NB101 space: the key parser, pruning/validity, channel rules and #params against published counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zcnas.data import asset_path
from zcnas.spaces import NB101Space
from zcnas.spaces.nb101 import NB101Arch, decode, encode, vertex_channels

# The Inception-like cell of the nasbench Colab (google-research/nasbench NASBench.ipynb, "Basic usage"):
# the dataset returns trainable_parameters: 2694282 for it, in this order and in the dataset's own
# (isomorphic) vertex order printed as module_adjacency / module_operations.
C1, C3, MP = "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3"
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
             ["input", C1, C3, C3, C3, MP, "output"])
INCEPTION_STORED = ([[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                     [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
                    ["input", C3, C1, MP, C3, C3, "output"])


def arch(matrix, ops):
    return NB101Arch(tuple(tuple(r) for r in matrix), tuple(ops))


@pytest.mark.parametrize("cell", [INCEPTION, INCEPTION_STORED])
def test_params_equal_the_nasbench_dataset(cell):
    with torch.device("meta"):
        assert sum(p.numel() for p in NB101Space().build(arch(*cell)).parameters()) == 2_694_282
    assert NB101Space().param_count(arch(*cell)) == 2_694_282


def test_params_of_the_projection_only_cell():
    """Input -> output only: every cell is a 1x1 conv-bn-relu projection (hand count from model_builder)."""
    stem = 27 * 128 + 256
    stacks = 3 * (128 * 128 + 256) + (128 * 256 + 512) + 2 * (256 * 256 + 512) + (256 * 512 + 1024) + 2 * (512 * 512 + 1024)
    assert NB101Space().param_count(arch([[0, 1], [0, 0]], ["input", "output"])) == stem + stacks + 512 * 10 + 10


def test_params_equal_nas_bench_suite_zero_and_keys_round_trip():
    """All 500 Suite-Zero NB101 cells: the key round-trips and our #params equals NASLib's precomputed
    `params` (its PyTorch port of the same network, 128-channel stem)."""
    data = json.loads(asset_path("zc_nasbench101.json").read_text())["nasbench101"]["cifar10"]
    space = NB101Space()
    for key, rec in data.items():
        a = decode(key)
        assert encode(a) == key
        assert space.param_count(a) == round(rec["params"] * 1e6), key
    assert len(data) == 500


def test_closed_form_param_count_equals_the_built_network():
    space = NB101Space()
    for a in space.sample(20, np.random.default_rng(5)):
        with torch.device("meta"):
            built = sum(p.numel() for p in space.build(a, 100).parameters())
        assert space.param_count(a, 100) == built


# compute_vertex_channels cases of google-research/nasbench nasbench/tests/model_builder_test.py
@pytest.mark.parametrize("matrix,c_in,c_out,expected", [
    ([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], 8, 16, [8, 16, 16, 16]),
    ([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], 16, 8, [16, 8, 8, 8]),
    ([[0, 1], [0, 0]], 5, 1, [5, 1]),
    ([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], 8, 15, [8, 8, 7, 15]),
    ([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5], 8, 8, [8, 3, 3, 2, 8]),
    ([[0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5], 8, 9, [8, 5, 5, 4, 9]),
    ([[0, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5], 8, 15, [8, 8, 7, 7, 15]),
])
def test_vertex_channels_as_the_reference(matrix, c_in, c_out, expected):
    assert vertex_channels(c_in, c_out, np.array(matrix)) == expected


def test_pruning_drops_dangling_vertices():
    # vertex 2 has no input path, vertex 4 no output path: both pruned; the key keeps the cell as given
    m = [[0, 1, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0], [0] * 7]
    a = arch(m, ["input", C3, C3, C1, MP, C3, "output"])
    pm, ops = a.pruned
    assert ops == ["input", C3, C1, "output"]
    assert pm.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert decode(encode(a)) == a
    net = NB101Space(stem=8).build(a)
    # stem + per cell: the two conv ops and the input's projection into vertex 1
    assert len([m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]) == 1 + 9 * 3
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


TEN_EDGES = [[0, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
             [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0] * 7]


@pytest.mark.parametrize("matrix,ops,why", [
    ([[0, 1], [1, 0]], ["input", "output"], "upper-triangular"),
    ([[0] * 8 for _ in range(8)], ["input"] + [C3] * 6 + ["output"], "8 vertices > 7"),
    (TEN_EDGES, ["input"] + [C3] * 5 + ["output"], "10 edges after pruning > 9"),
    ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"], "not reachable"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "ops must be"),
])
def test_bad_cells_give_one_line_errors_quoting_them(matrix, ops, why):
    with pytest.raises(ValueError, match=why) as err:
        arch(matrix, ops)
    assert "\n" not in str(err.value) and str(matrix[0]) in str(err.value)


@pytest.mark.parametrize("bad", ["", "(0, 1, 2)", "(0, 1, 0, 0, 7, 1)", "0, 1, 0, 0, 0, 1", "__import__('os')"])
def test_malformed_keys(bad):
    with pytest.raises(ValueError, match="malformed NB101 arch key") as err:
        decode(bad)
    assert "\n" not in str(err.value)


def test_sampling_and_mutation_give_valid_distinct_cells():
    space = NB101Space()
    archs = space.sample(50, np.random.default_rng(0))
    assert archs == space.sample(50, np.random.default_rng(0))
    assert len({(a.pruned[0].tobytes(), tuple(a.pruned[1])) for a in archs}) == 50
    assert all(a.pruned[0].sum() <= 9 and len(a.matrix) == 7 for a in archs)
    assert all(decode(encode(a)) == a for a in archs)
    child = space.mutate(archs[0], np.random.default_rng(1))
    assert isinstance(child, NB101Arch) and child.pruned[0].sum() <= 9
    mix = space.crossover(archs[0], archs[1], np.random.default_rng(2))
    assert mix.pruned[0].sum() <= 9 and all(o in (x, y) for o, x, y in zip(mix.ops, archs[0].ops, archs[1].ops, strict=True))


def test_benchmark_nb101_joins_the_space():
    from zcnas.data.suite_zero import load_suite_zero

    bench = load_suite_zero("nb101", target="cifar10")
    keys = bench.sample(20, np.random.default_rng(0))
    assert all(encode(decode(k)) == k for k in keys)
    acc = bench.lookup(keys)["cifar10"]
    assert acc.notna().all() and 70 < acc.min() and acc.max() < 95
