"""Writes tests/data/indicators: pairs of point sets (an approximation and a reference front, in
d = 2..6) and moocore's additive epsilon and IGD+ of each approximation to its reference.

Reference fronts lie on the positive unit sphere; approximations are a sphere front moved by a
random offset per point (some better, most worse), so both indicators take positive and negative
parts. Run with moocore installed (pip install moocore numpy):
    python scripts/make_indicator_testdata.py
"""
import json
import os

import moocore
import numpy as np

rng = np.random.default_rng(2026_12)


def sphere(n, d):
    x = np.abs(rng.normal(size=(n, d)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


os.makedirs("tests/data/indicators", exist_ok=True)
values = {}
for d, n_ref, n_approx in [(2, 300, 100), (3, 400, 150), (4, 300, 200), (5, 200, 100), (6, 150, 80)]:
    reference = sphere(n_ref, d)
    approximation = sphere(n_approx, d) + rng.normal(0.05, 0.08, size=(n_approx, d))
    name = f"{d}d"
    np.savetxt(f"tests/data/indicators/reference-{name}.txt", reference, fmt="%.17g")
    np.savetxt(f"tests/data/indicators/approximation-{name}.txt", approximation, fmt="%.17g")
    values[name] = {
        "d": d,
        "additive_epsilon": float(moocore.epsilon_additive(approximation, ref=reference)),
        "igd_plus": float(moocore.igd_plus(approximation, ref=reference)),
        "moocore": moocore.__version__,
    }
with open("tests/data/indicators/moocore-values.json", "w") as f:
    json.dump(values, f, indent=1)
