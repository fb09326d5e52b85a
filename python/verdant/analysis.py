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


def _exact_defaults():
    # verdant compare's [methods.exact]: marlin.toml's, with compare.toml's laid over them.
    marlin = json.loads(_verdant.config_defaults("marlin"))["methods"]["exact"]
    compare = json.loads(_verdant.config_defaults("compare"))["methods"]["exact"]
    return {**marlin, **compare}


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
    exact = _exact_defaults()
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


def certified_front(
    scenario,
    front_grid=None,
    utilisation_cap=None,
    time_limit_s=None,
    plan_time_limit_s=None,
    front_budget_s=None,
    plans_budget_s=None,
    blowdown="blowdown-only",
    max_waiting_per_datacenter=100_000,
):
    """``verdant compare``'s exact front certified by the bound model (issue 14, decision 0010):
    the front's plans and those the certification adds (the bound model's anchors
    ``bound-min-<objective>`` and refinement steps ``bound-step-<k>``), each scored by the fluid
    simulator and, where the model covers it, with the model's proven lower bound of each
    objective at that plan and its gap (simulated over bound).

    Returns a dict: ``plans`` (dicts: ``source``, ``representative``, ``plan``, ``objectives``,
    ``coverage`` (``bounded``, ``spills``, ``unhosted``, ``no-schedule``, ``out-of-time``),
    ``bounds``, ``bound_status``, ``gaps``, ``carries``), ``least`` (the front's bound: no plan the
    model covers scores below it in any objective) and ``least_status``, ``stop`` (why the
    refinement stopped), ``steps``, ``reference`` (worst value of each objective over the front,
    TTFT's at the scenario's service level) and ``phv_interval`` (the front's PHV and the most any
    covered plans can have, at that reference: the optimal PHV lies between), ``seconds``.
    Budgets and limits default to ``verdant compare``'s ``methods.exact`` keys."""
    exact = _exact_defaults()

    def pick(value, key):
        return exact[key] if value is None else value

    r = _verdant._certified_front(
        scenario,
        int(pick(front_grid, "front_grid")),
        float(pick(utilisation_cap, "utilisation_cap")),
        time_limit_s,
        float(pick(plan_time_limit_s, "certify_plan_time_limit_s")),
        float(pick(front_budget_s, "certify_front_budget_s")),
        float(pick(plans_budget_s, "certify_plans_budget_s")),
        blowdown,
        max_waiting_per_datacenter,
    )
    names = r["bound_objectives"]
    plans = []
    for source, representative, plan, coverage, bounds, statuses, carries in r["plans"]:
        objectives = score_plan(
            scenario, plan, blowdown=blowdown, max_waiting_per_datacenter=max_waiting_per_datacenter
        )
        entry = {
            "source": source,
            "representative": representative,
            "plan": plan,
            "objectives": objectives,
            "coverage": coverage,
            "bounds": None,
            "bound_status": None,
            "gaps": None,
            "carries": carries,
        }
        if bounds is not None:
            entry["bounds"] = dict(zip(names, bounds))
            entry["bound_status"] = dict(zip(names, statuses))
            entry["gaps"] = {
                k: (objectives[k] - b) / max(abs(objectives[k]), 1e-12)
                for k, b in zip(names, bounds)
            }
        plans.append(entry)
    anchors_s, front_s, plans_s = r["seconds"]
    return {
        "plans": plans,
        "least": dict(zip(OBJECTIVES, r["least"])),
        "least_status": dict(zip(OBJECTIVES, r["least_status"])),
        "stop": r["stop"],
        "steps": r["steps"],
        "cuts": r["cuts"],
        "reference": dict(zip(OBJECTIVES, r["reference"])),
        "phv_interval": (r["front_phv"], r["outer_phv"]),
        "seconds": {"anchors": anchors_s, "front": front_s, "plans": plans_s},
    }
