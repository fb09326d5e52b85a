"""Times Verdant's and moocore's exact hypervolume on the same fronts, in one run, and prints the
ratio. Fronts: points on the positive unit sphere (all non-dominated), reference point 1.1 in
every objective, the sizes of issue 5's targets.

    python scripts/bench_hv.py [path/to/verdant]      (needs: pip install moocore numpy)

Verdant's time is measured inside the binary (`verdant hv --repeat N`), so process start-up is
not counted; moocore's is the median of N calls from Python (its C code dominates).
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import moocore
import numpy as np

verdant = sys.argv[1] if len(sys.argv) > 1 else "target/release/verdant"
rng = np.random.default_rng(7)
cases = [(3, 1000, 50), (3, 10000, 10), (4, 1000, 20), (4, 10000, 3), (5, 1000, 5)]
print(f"{'d':>2} {'n':>6} {'moocore ms':>11} {'verdant ms':>11} {'ratio':>6}  agree")
with tempfile.TemporaryDirectory() as tmp:
    for d, n, repeat in cases:
        x = np.abs(rng.normal(size=(n, d)))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        ref = np.full(d, 1.1)
        path = os.path.join(tmp, f"front-{d}-{n}.txt")
        np.savetxt(path, x, fmt="%.17g")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            value = moocore.hypervolume(x, ref=ref)
            times.append(time.perf_counter() - t)
        moo_ms = statistics.median(times) * 1e3
        out = subprocess.run(
            [verdant, "hv", path, "--ref", ",".join(["1.1"] * d), "--repeat", str(repeat)],
            check=True, capture_output=True, text=True,
        ).stdout
        line = [l for l in out.splitlines() if not l.startswith("#")][0]
        ours = float(line.split()[0])
        ms = float(re.search(r"([0-9.]+) ms per call", line).group(1))
        agree = abs(ours - value) <= 1e-12 * value
        print(f"{d:>2} {n:>6} {moo_ms:>11.3f} {ms:>11.3f} {ms / moo_ms:>6.2f}  {agree}")
