"""Summarise experiments/autoformer_lswag: per target column, each proxy's Spearman (mean ± std over
seeds, via ``python -m zcnas.summarize``) and whether L-SWAG matches or beats #params.

Usage: python experiments/autoformer_lswag/summarize.py [experiments/autoformer_lswag/results | a sweep dir]
"""

from __future__ import annotations

import sys
from pathlib import Path

from zcnas.summarize import collect, summarize


def main(root: Path) -> None:
    """Print a markdown table: target x proxy (ρ mean ± std) and the L-SWAG vs #params verdict."""
    s = summarize(collect([root]))
    proxies = list(dict.fromkeys(s.proxy))
    print(f"seeds: up to {int(s.seeds.max())}\n")
    print("| setting | target | " + " | ".join(proxies) + " | L-SWAG ≥ #params? |")
    print("|---|---|" + "---|" * (len(proxies) + 1))
    for (setting, target), g in s.groupby(["setting", "target"], sort=False):
        m = g.set_index("proxy")
        cells = [f"{m.loc[p, 'spearman']:.3f} ± {m.loc[p, 'spearman_std']:.3f}" if p in m.index else "–" for p in proxies]
        verdict = ("yes" if m.loc["lswag", "spearman"] >= m.loc["params", "spearman"] else "no") \
            if {"lswag", "params"} <= set(m.index) else "–"
        print(f"| {setting} | {target} | " + " | ".join(cells) + f" | {verdict} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/autoformer_lswag/results"))
