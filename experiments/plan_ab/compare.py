"""Compare two ab.sh output roots file by file: byte for byte, except run_summary.json, search_history.json and
calibration.json, compared as JSON without their wall-clock fields (seconds, started_ms, finished_ms, cost).
usage: python experiments/plan_ab/compare.py <old root> <new root>"""

import filecmp
import json
import pathlib
import sys

VOLATILE = {"seconds", "started_ms", "finished_ms", "cost"}


def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list):
        return [clean(v) for v in o]
    return o


def files(run: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*")
                  if p.is_file() and ".hydra" not in p.parts and not p.name.endswith(".log"))


def main(a: pathlib.Path, b: pathlib.Path) -> int:
    bad = 0
    for ra in sorted(p for p in a.iterdir() if p.is_dir() and p.name[0] in "rc" and p.name[1:].isdigit()):
        rb = b / ra.name
        fa, fb = files(ra), files(rb)
        if fa != fb:
            print(ra.name, "FILES DIFFER", set(fa) ^ set(fb))
            bad += 1
        same = 0
        for f in sorted(set(fa) & set(fb)):
            x, y = ra / f, rb / f
            if f.endswith(("run_summary.json", "search_history.json", "calibration.json")):
                ok = clean(json.loads(x.read_text())) == clean(json.loads(y.read_text()))
            else:
                ok = filecmp.cmp(x, y, shallow=False)
            same += ok
            if not ok:
                bad += 1
                print(ra.name, "DIFF", f)
        print(ra.name, f"{same} identical of {len(fa)}:", ", ".join(fa))
    print("BAD" if bad else "ALL IDENTICAL")
    return int(bool(bad))


if __name__ == "__main__":
    sys.exit(main(*map(pathlib.Path, sys.argv[1:3])))
