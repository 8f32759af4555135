"""DARTS / NB301 space: both encodings parsed explicitly, the evaluation network's #params, bad input,
and a user's file of Genotype strings joined through the space's canonical key."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from zcnas.data import asset_path
from zcnas.data.benchmarks import load_file
from zcnas.data.suite_zero import load_suite_zero
from zcnas.run import canonical_keys
from zcnas.spaces import DartsSpace
from zcnas.spaces.darts import DartsArch, decode, encode

# quark0/darts cnn/genotypes.py DARTS_V2, verbatim
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def built_params(space, arch, classes=10):
    with torch.device("meta"):
        return sum(p.numel() for p in space.build(arch, classes).parameters())


def test_darts_v2_params_equal_the_published_count():
    """DARTS's CIFAR-10 evaluation network (C=36, 20 cells) of DARTS_V2 has 3.349342 M parameters without
    the auxiliary head: quark0/darts cnn/train.py logs "param size = 3.349342MB" (count_parameters_in_MB
    skips 'auxiliary'); the DARTS paper reports 3.3 M."""
    space = DartsSpace(C=36, layers=20)
    assert built_params(space, decode(DARTS_V2)) == 3_349_342
    assert space.param_count(decode(DARTS_V2)) == 3_349_342


def test_genotype_and_compact_forms_round_trip():
    a = decode(DARTS_V2)
    assert a.genotype() == DARTS_V2
    assert encode(a) == ("[[(0, 3), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)], "
                         "[(0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)]]")
    assert decode(encode(a)) == a
    # range(2, 6) concat lists, double quotes and free whitespace are accepted
    loose = DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)").replace("'", '"').replace(", ", ",  ")
    assert decode(loose) == a


def test_all_suite_zero_keys_parse_and_params_track_naslib():
    """All 725 NB301 keys round-trip; our closed-form count equals the built network on a sample and ranks
    exactly as Suite-Zero's `params` (NASLib's own NB301 graph, which differs by ~1%: not the same network)."""
    data = json.loads(asset_path("zc_nasbench301.json").read_text())["cifar10"]
    space = DartsSpace()
    archs = [decode(k) for k in data]
    assert [encode(a) for a in archs] == list(data)
    ours = [space.param_count(a) for a in archs]
    assert spearmanr(ours, [data[k]["params"]["score"] for k in data]).statistic > 0.999
    for a in archs[:5]:
        assert built_params(space, a) == space.param_count(a)


def test_network_shapes_reductions_and_none_op():
    space = DartsSpace(C=4, layers=5)
    normal = tuple(("none" if j == 0 else "sep_conv_5x5", j // 2) for j in range(8))
    reduce = tuple(("skip_connect", min(j // 2, 1)) for j in range(8))
    a = DartsArch(normal, reduce)
    assert "(0, 7)" in encode(a) and decode(encode(a)) == a
    net = space.build(a, 100)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    shapes = []
    handles = [c.register_forward_hook(lambda _m, _i, o: shapes.append(tuple(o.shape[1:]))) for c in net.cells]
    net(torch.randn(1, 3, 32, 32))
    for h in handles:
        h.remove()
    # reductions at layers // 3 = 1 and 2 * layers // 3 = 3: channels x2, resolution / 2
    assert shapes == [(16, 32, 32), (32, 16, 16), (32, 16, 16), (64, 8, 8), (64, 8, 8)]
    assert built_params(space, a, 100) == space.param_count(a, 100)


@pytest.mark.parametrize("bad,why", [
    (DARTS_V2.replace("dil_conv_3x3", "conv_9x9"), "unknown op 'conv_9x9'"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "input 5 out of range 0..4"),
    (DARTS_V2.replace("('max_pool_3x3', 0), ('max_pool_3x3', 1), ", "", 1), "has 6"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"), "unsupported"),
    ("Genotype(normal=__import__('os').system('true'))", "malformed DARTS genotype"),
    ("[[(0, 9)] * 8, [(0, 1)] * 8]", "malformed DARTS arch"),
    ("[[(0, 8), (1, 3), (0, 3), (1, 3), (1, 3), (0, 2), (0, 2), (2, 5)], "
     "[(0, 0), (1, 0), (2, 2), (1, 0), (0, 0), (2, 2), (2, 2), (1, 0)]]", "op index 8 out of range"),
])
def test_bad_genotypes_give_one_line_errors(bad, why):
    with pytest.raises(ValueError, match=why) as err:
        decode(bad)
    assert "\n" not in str(err.value)


def test_sampling_is_the_nb301_space():
    space = DartsSpace()
    archs = space.sample(200, np.random.default_rng(0))
    assert archs == space.sample(200, np.random.default_rng(0)) and len(set(archs)) == 200
    for a in archs:
        for cell in (a.normal, a.reduce):
            assert all(op != "none" for op, _ in cell)
            assert all(cell[2 * i][1] != cell[2 * i + 1][1] for i in range(4))  # two distinct inputs per node
    rng = np.random.default_rng(1)
    child = space.mutate(archs[0], rng)
    assert sum(x != y for x, y in zip(child.normal + child.reduce, archs[0].normal + archs[0].reduce, strict=True)) <= 1
    assert isinstance(space.crossover(archs[0], archs[1], rng), DartsArch)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_file_of_genotype_strings_joins_the_scored_archs(tmp_path, fmt):
    """benchmark=file with DARTS Genotype strings (the common DARTS results format): rows are keyed by
    the space's compact key, so the archs the run scores find their accuracy."""
    sz = load_suite_zero("nb301", target="cifar10")
    keys = sz.sample(8, np.random.default_rng(3))
    acc = sz.lookup(keys)["cifar10"].tolist()
    path = tmp_path / f"genotypes.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"arch": decode(k).genotype(), "top1": a}) + "\n" for k, a in zip(keys, acc, strict=True)))
    else:
        import pandas as pd

        pd.DataFrame({"arch": [decode(k).genotype() for k in keys], "top1": acc}).to_csv(path, index=False)
    bench = canonical_keys(load_file(str(path)), DartsSpace())
    assert bench.lookup(keys)["top1"].tolist() == acc
    bad = tmp_path / "bad.csv"
    bad.write_text('arch,top1\n"' + DARTS_V2.replace("skip_connect", "skip") + '",90\n')
    with pytest.raises(ValueError, match="unknown op 'skip'"):
        canonical_keys(load_file(str(bad)), DartsSpace())
