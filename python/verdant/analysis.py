"""Objective vectors of scored plans as numpy arrays, and the PHV ratio against a front."""

import json

import numpy as np

from verdant import _verdant
from verdant._verdant import hypervolume, nondominated, score_plan

#: The four compared objectives, in Verdant's order (all minimised).
OBJECTIVES = ("ttft_s", "carbon_kg", "water_l", "cost_usd")


def objective_matrix(scores):
    """Rows of (TTFT s, carbon kg, water L, cost USD) from ``score_plan``'s dicts."""
    rows = [[float(s[k]) for k in OBJECTIVES] for s in scores]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(OBJECTIVES))


def phv_ratio(points, front, ref=None):
    """The hypervolume of ``points`` over that of ``front`` (both shape (n, d), minimised), under
    one reference point: ``ref``, or by default the worst value of either set in each objective
    (``verdant compare``'s rule, without its TTFT service-level cap, on these two sets only). 1
    means as good as the front; above 1, the points dominate space the front does not."""
    points = np.asarray(points, dtype=np.float64)
    front = np.asarray(front, dtype=np.float64)
    if points.ndim != 2 or front.ndim != 2 or points.shape[1] != front.shape[1]:
        raise ValueError(
            f"points {points.shape} and front {front.shape} need shape (n, d) with the same d"
        )
    if ref is None:
        ref = np.vstack([points, front]).max(axis=0)
    ref = np.asarray(ref, dtype=np.float64)
    denominator = hypervolume(front[nondominated(front)], ref)
    if denominator <= 0.0:
        raise ValueError("the front dominates no volume under the reference point")
    return hypervolume(points, ref) / denominator


def exact_front(
    scenario,
    front_grid=None,
    utilisation_cap=None,
    time_limit_s=None,
    blowdown="blowdown-only",
    max_waiting_per_datacenter=100_000,
):
    """``verdant compare``'s exact front on ``scenario`` (the reference LP's epsilon-constraint
    front, or Green-LLM's on a scenario with its terms; HiGHS), each plan scored by the fluid
    simulator: a list of dicts with ``source`` (``min-ttft``, ``lattice-3``, ...),
    ``representative``, ``plan`` (shape (epochs, origins, classes, datacenters)) and
    ``objectives`` (``score_plan``'s dict). ``front_grid`` and ``utilisation_cap`` default to
    ``verdant compare``'s ``methods.exact`` keys; ``time_limit_s`` bounds each solve."""
    exact = json.loads(_verdant.config_defaults("compare"))["methods"]["exact"]
    front_grid = exact["front_grid"] if front_grid is None else int(front_grid)
    cap = exact["utilisation_cap"] if utilisation_cap is None else float(utilisation_cap)
    plans = _verdant._exact_front(
        scenario, front_grid, cap, time_limit_s, blowdown, max_waiting_per_datacenter
    )
    return [
        {
            "source": source,
            "representative": representative,
            "plan": plan,
            "objectives": score_plan(
                scenario,
                plan,
                blowdown=blowdown,
                max_waiting_per_datacenter=max_waiting_per_datacenter,
            ),
        }
        for source, representative, plan in plans
    ]
