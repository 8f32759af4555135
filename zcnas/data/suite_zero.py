"""NAS-Bench-Suite-Zero precomputed proxies (Krishnakumar et al., NeurIPS 2022 D&B, arXiv 2210.03230;
files from ``automl/NASLib:naslib/data/zc_*.json``): per task, a table archs x (13 or 11 proxies) with
the task's validation metric, read instead of computed.

Arch keys are parsed with explicit patterns (never ``eval``): a tuple of ints (NB101 adjacency+ops,
NB201 and TransNAS-Bench-101 op/block codes) or NB301's compact genotype, a list of two lists of
``(input_node, op)`` pairs. NB201 keys are converted to NB201 strings so they join with zcnas's own
NB201 scores.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from zcnas.data._assets import asset_path
from zcnas.data.benchmarks import ProxyTables

FILES = {"nb101": "zc_nasbench101.json", "nb201": "zc_nasbench201.json", "nb301": "zc_nasbench301.json",
         "tnb101_micro": "zc_transbench101_micro.json", "tnb101_macro": "zc_transbench101_macro.json"}
_INT_TUPLE = re.compile(r"^\((\d+)(, \d+)*\)$")
_PAIR = re.compile(r"\((\d+), (\d+)\)")
NB201_NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")


def parse_key(space: str, key: str) -> str:
    """Validate a NASLib arch key and return zcnas's canonical string for it."""
    if space == "nb301":
        cells = key.split("], [")
        pairs = [_PAIR.findall(c) for c in cells]
        canon = "[" + ", ".join("[" + ", ".join(f"({a}, {b})" for a, b in p) + "]" for p in pairs) + "]"
        if len(pairs) != 2 or any(len(p) != 8 for p in pairs) or canon != key:
            raise ValueError(f"malformed NB301 arch key {key!r}")
        return key
    if not _INT_TUPLE.match(key):
        raise ValueError(f"malformed {space} arch key {key!r}; expected a tuple of ints")
    ints = [int(v) for v in key[1:-1].split(", ")]
    if space == "nb201":
        from zcnas.spaces.nb201 import encode, from_index_tuple  # noqa: PLC0415

        if len(ints) != 6 or max(ints) > 4:
            raise ValueError(f"malformed NB201 arch key {key!r}")
        return encode(from_index_tuple((ints[0], ints[1], ints[3], ints[2], ints[4], ints[5]), NB201_NASLIB_OPS))
    return key


def load_suite_zero(space: str, target: str | None = None, precomputed: str | list[str] | None = None) -> ProxyTables:
    """Load one NAS-Bench-Suite-Zero file (shipped, checksummed); ``target`` keeps one task.

    ``precomputed`` (``"all"`` or a list of names) exposes that task's precomputed proxies as
    ``scores`` columns ``sz_<name>``, which ``zcnas.run`` reports and combines next to the proxies it
    computes (needs ``target``: each task has its own precomputed scores).
    """
    if space not in FILES:
        raise ValueError(f"unknown Suite-Zero space {space!r}; valid: {sorted(FILES)}")
    data = json.loads(asset_path(FILES[space]).read_text())
    if set(data) == {"nasbench101"}:
        data = data["nasbench101"]
    tasks = {}
    for task, records in data.items():
        rows = {parse_key(space, key): {k: (v["score"] if isinstance(v, dict) else v)
                                        for k, v in rec.items() if k not in ("idx", "arch")}
                for key, rec in records.items()}
        tasks[task] = pd.DataFrame.from_dict(rows, orient="index").rename_axis("arch").astype(float)
    if target is not None:
        if target not in tasks:
            raise ValueError(f"Suite-Zero {space} has no task {target!r}; valid: {sorted(tasks)}")
        tasks = {target: tasks[target]}
    scores = None
    if precomputed:
        if target is None:
            raise ValueError(f"benchmark.precomputed needs benchmark.target=<task>; valid: {sorted(tasks)}")
        have = [c for c in tasks[target].columns if c != "val_accuracy"]
        names = have if precomputed == "all" else list(precomputed)
        unknown = sorted(set(names) - set(have))
        if unknown:
            raise ValueError(f"Suite-Zero {space}/{target} has no precomputed proxy {unknown}; valid: all or {have}")
        scores = tasks[target][names].add_prefix("sz_")
    return ProxyTables(f"suite_zero_{space}", tasks, scores)
