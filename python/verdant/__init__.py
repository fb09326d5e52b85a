"""Verdant from Python (issue 22): where should LLM inference run?

Scenarios, plans and scoring by Verdant's simulator (the CLI's numbers, to the bit), the exact
hypervolume and the indicators on numpy arrays, and environments for agents trained in Python:

- ``Scenario``, ``score_plan``, ``rule_plan``, ``read_plan``, ``write_plan``, ``exact_front``,
  ``certified_front``;
- ``hypervolume``, ``nondominated``, ``additive_epsilon``, ``igd_plus``, ``phv_ratio``;
- ``LoadBalancerEnv`` and ``LoadBalancerVecEnv`` (Gymnasium), ``GeoRoutingEnv`` (Gymnasium) and
  ``MarlinEnv`` (PettingZoo), imported on first use (they need gymnasium / pettingzoo).

Every objective is minimised. Errors of Verdant's checks on user data raise ``VerdantError`` (a
``ValueError``) with the CLI's message; bad arguments raise ``ValueError`` or ``TypeError``.
"""

from verdant._verdant import (
    LB_BASELINES,
    Scenario,
    VerdantError,
    additive_epsilon,
    hypervolume,
    igd_plus,
    nondominated,
    read_plan,
    rule_plan,
    score_plan,
    write_plan,
)
from verdant.analysis import (
    OBJECTIVES,
    certified_front,
    exact_front,
    objective_matrix,
    phv_ratio,
)

_ENVS = ("LoadBalancerEnv", "LoadBalancerVecEnv", "GeoRoutingEnv", "MarlinEnv")

__all__ = [
    "LB_BASELINES",
    "OBJECTIVES",
    "Scenario",
    "VerdantError",
    "additive_epsilon",
    "certified_front",
    "exact_front",
    "hypervolume",
    "igd_plus",
    "nondominated",
    "objective_matrix",
    "phv_ratio",
    "read_plan",
    "rule_plan",
    "score_plan",
    "write_plan",
    *_ENVS,
]


def __getattr__(name):
    # The environments import gymnasium and pettingzoo: only when asked for.
    if name in _ENVS:
        from verdant import envs

        return getattr(envs, name)
    raise AttributeError(f"module 'verdant' has no attribute {name!r}")
