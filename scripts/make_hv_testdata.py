"""Writes tests/data/hv: non-dominated fronts (points on the positive unit sphere, and on the simplex)
with a few dominated and duplicated points added, and their hypervolumes by moocore.

Run with moocore installed (pip install moocore numpy):  python scripts/make_hv_testdata.py
"""
import json

import moocore
import numpy as np

rng = np.random.default_rng(2026)


def sphere(n, d):
    x = np.abs(rng.normal(size=(n, d)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def linear(n, d):
    return rng.dirichlet(np.ones(d), size=n)


cases = {
    "sphere-3d-5000": (sphere, 5000, 3),
    "linear-3d-3000": (linear, 3000, 3),
    "sphere-4d-3000": (sphere, 3000, 4),
    "linear-4d-2000": (linear, 2000, 4),
    "sphere-5d-1000": (sphere, 1000, 5),
    "sphere-6d-300": (sphere, 300, 6),
}
values = {}
for name, (gen, n, d) in cases.items():
    x = gen(n, d)
    x = np.vstack([x, x[:5] + 0.01, x[:2]])
    ref = np.full(d, 1.1)
    np.savetxt(f"tests/data/hv/{name}.txt", x, fmt="%.17g")
    values[name] = {"d": d, "n": int(len(x)), "reference": ref.tolist(), "hypervolume": float(moocore.hypervolume(x, ref=ref))}
json.dump(values, open("tests/data/hv/moocore-values.json", "w"), indent=1)
