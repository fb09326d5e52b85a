"""Times verdant.hypervolume against moocore.hypervolume in one run (issue 22).

For d = 2..6 and n = 1,000 and 10,000 points on the positive unit sphere (all mutually
nondominated, the hard case), reference point 1.1 in every objective: the best of `repeats`
timings of each, their ratio, and whether the two values agree to 1e-12.

    python python/bench_hypervolume.py [--sizes 1000,10000] [--dims 2,3,4,5,6] [--repeats 3]
"""

import argparse
import math
import time

import moocore
import numpy as np

import verdant


def sphere(rng, n, d):
    x = np.abs(rng.standard_normal((n, d)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def best_time(f, repeats):
    best, value = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        value = f()
        best = min(best, time.perf_counter() - t)
    return best, value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--dims", default="2,3,4,5,6")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    print(f"moocore {moocore.__version__}; best of {a.repeats}; points on the unit sphere, ref 1.1")
    print("| d | n | verdant (s) | moocore (s) | moocore / verdant | equal to 1e-12 |")
    print("|---|---|---|---|---|---|")
    for d in map(int, a.dims.split(",")):
        for n in map(int, a.sizes.split(",")):
            points = sphere(rng, n, d)
            ref = np.full(d, 1.1)
            ours_s, ours = best_time(lambda: verdant.hypervolume(points, ref), a.repeats)
            theirs_s, theirs = best_time(lambda: moocore.hypervolume(points, ref=ref), a.repeats)
            equal = math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=0.0)
            print(
                f"| {d} | {n} | {ours_s:.4g} | {theirs_s:.4g} | {theirs_s / ours_s:.2f} | {equal} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
