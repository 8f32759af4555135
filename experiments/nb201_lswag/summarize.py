"""Summarise experiments/nb201_lswag runs: mean ± std of Spearman/Kendall over seeds per proxy.

Usage: python experiments/nb201_lswag/summarize.py [experiments/nb201_lswag/results]
(``<task>_seed<k>_correlations.json``, the files run.sh's runs are copied to, or a sweep dir). A thin
call of ``python -m zcnas.summarize``, which also writes summary.csv and the plots there.
"""

from __future__ import annotations

import sys

from zcnas.summarize import main

if __name__ == "__main__":
    main(sys.argv[1:] or ["experiments/nb201_lswag/results"])
