"""Compare two ab.sh output roots file by file, each root's own path read as ``<root>``: byte for byte, except
run_summary.json, search_history.json, calibration.json, trained.json and the builds' JSON lines, compared as JSON
without their wall-clock fields (seconds, started_ms, finished_ms, cost, wall_s).
usage: python experiments/plan_ab/compare.py <old root> <new root>"""

import json
import pathlib
import sys

VOLATILE = {"seconds", "started_ms", "finished_ms", "cost", "wall_s"}


def clean(o, root: str):
    """``o`` without its wall-clock fields, the output root in its strings (trained.json's ``from``) as ``<root>``."""
    if isinstance(o, dict):
        return {k: clean(v, root) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list):
        return [clean(v, root) for v in o]
    return o.replace(root, "<root>") if isinstance(o, str) else o


def files(run: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*")
                  if p.is_file() and ".hydra" not in p.parts and not p.name.endswith(".log"))


def main(a: pathlib.Path, b: pathlib.Path) -> int:
    bad = 0
    for ra in sorted(p for p in a.iterdir() if p.is_dir() and p.name[0] in "rcbm" and p.name[1:].isdigit()):
        rb = b / ra.name
        fa, fb = files(ra), files(rb)
        if fa != fb:
            print(ra.name, "FILES DIFFER", set(fa) ^ set(fb))
            bad += 1
        same = 0
        for f in sorted(set(fa) & set(fb)):
            x, y = ra / f, rb / f
            if f.endswith(("run_summary.json", "search_history.json", "calibration.json", "trained.json")):
                ok = clean(json.loads(x.read_text()), str(a)) == clean(json.loads(y.read_text()), str(b))
            elif f.endswith(".jsonl"):
                ok = ([clean(json.loads(line), str(a)) for line in x.read_text().splitlines()]
                      == [clean(json.loads(line), str(b)) for line in y.read_text().splitlines()])
            else:  # bytes, each root's own path (a combiner_from in config.yaml) read as <root>
                ok = x.read_bytes().replace(str(a).encode(), b"<root>") == y.read_bytes().replace(str(b).encode(), b"<root>")
            same += ok
            if not ok:
                bad += 1
                print(ra.name, "DIFF", f)
        print(ra.name, f"{same} identical of {len(fa)}:", ", ".join(fa))
    print("BAD" if bad else "ALL IDENTICAL")
    return int(bool(bad))


if __name__ == "__main__":
    sys.exit(main(*map(pathlib.Path, sys.argv[1:3])))
