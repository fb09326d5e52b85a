"""Stable-Baselines3's PPO on Verdant's environments, compared with Verdant's own agents and the
exact front (issue 22).

    python examples/sb3_ppo.py [--lb-steps 20000] [--geo-steps 20000] [--scenario geo-4dc]
                               [--verdant target/release/verdant]

Part 1, the load balancer: PPO trained on ``LoadBalancerEnv``'s training slice (observations
normalised by SB3's ``VecNormalize``), then one greedy episode on the held-out tail beside
Verdant's own PPO trained for as many steps (``verdant lb table``, one seed, when the CLI is
found), ``verdant lb``'s six rule baselines (run in Rust on the same episode) and a uniformly
random policy: mean and p95 response time, SLO violations.

Part 2, geo routing: PPO trained on ``GeoRoutingEnv`` (equal weights on the four objectives), its
day plan scored by Verdant's simulator beside the even and nearest rules and the exact front
(the reference LP, HiGHS): each plan's objectives, its PHV ratio to the exact front, and its gap
to the front's best in each objective. Verdant's own learned agents (MARLIN, the load balancer
in geo mode) run from the CLI: ``verdant compare`` (README, "Optimal versus learned").

The functions are what ``python/tests/test_sb3.py`` runs with a short budget.
"""

import argparse
import csv
import pathlib
import subprocess
import tempfile
import time

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import verdant

#: ``verdant lb``'s rule baselines, run in Rust by ``LoadBalancerEnv.run_baseline``.
BASELINES = verdant.LB_BASELINES


def train_load_balancer(steps, seed=0, envs=4):
    """PPO on ``envs`` copies of the training slice; the model and its frozen normaliser."""
    venv = VecNormalize(
        DummyVecEnv([lambda: verdant.LoadBalancerEnv() for _ in range(envs)]),
        norm_reward=False,
    )
    venv.seed(seed)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, seed=seed, device="cpu")
    model.learn(steps)
    venv.training = False
    return model, venv


def ppo_policy(model, normaliser):
    """The trained model's greedy action for one observation."""

    def act(observation):
        normalised = normaliser.normalize_obs(observation[None, :])
        return int(model.predict(normalised, deterministic=True)[0][0])

    return act


def random_policy(seed, actions):
    """Uniformly random servers."""
    rng = np.random.default_rng(seed)
    return lambda observation: int(rng.integers(0, actions))


def held_out_episode(policy, seed=0):
    """One episode on the held-out tail (the whole tail) under ``policy``; its metrics."""
    env = verdant.LoadBalancerEnv(split="eval")
    observation, _ = env.reset(seed=seed)
    done = False
    while not done:
        observation, _, done, _, info = env.step(policy(observation))
    return info["episode_metrics"]


def baseline_episodes(seed=0):
    """``verdant lb``'s rule baselines on the same held-out episode."""
    env = verdant.LoadBalancerEnv(split="eval")
    return {name: env.run_baseline(name, seed) for name in BASELINES}


def verdant_ppo(verdant_cli, steps, seed=0):
    """Verdant's own PPO (``verdant lb table``, one seed, ``steps`` environment steps) on the same
    scenario, evaluated on the same held-out tail; its metrics (the ``evaluation.csv`` row)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                str(verdant_cli),
                "lb",
                "table",
                "--quiet",
                "--out",
                out,
                "--seed",
                str(seed),
                "--set",
                f"agent.total_steps={steps}",
                "--set",
                "lb.seeds=1",
                "--set",
                'lb.algorithms=["ppo"]',
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (evaluation,) = pathlib.Path(out).glob("lb/*/evaluation.csv")
        with open(evaluation) as f:
            row = next(r for r in csv.DictReader(f) if r["agent"] == "ppo")
    return {k: float(v) for k, v in row.items() if k != "agent"}


def train_geo(scenario, steps, seed=0):
    """PPO on ``GeoRoutingEnv`` over ``scenario`` (equal weights)."""
    env = verdant.GeoRoutingEnv(scenario)
    model = PPO("MlpPolicy", env, n_steps=scenario.epochs * 2, seed=seed, device="cpu")
    model.learn(steps)
    return model


def geo_day(model, scenario):
    """The model's greedy plan for the day and its objectives (the environment's day score)."""
    env = verdant.GeoRoutingEnv(scenario)
    observation, _ = env.reset(seed=0)
    done = False
    while not done:
        action = model.predict(observation, deterministic=True)[0]
        observation, _, done, _, info = env.step(action)
    return env.plan(), info["day_objectives"]


def geo_comparison(scenario, learned):
    """Rows (name, objectives) for the learned plan, the rules and the exact front, with each
    row's PHV ratio to the exact front and gap (percent) to the front's best per objective."""
    front = verdant.exact_front(scenario)
    front_points = verdant.objective_matrix([p["objectives"] for p in front])
    rows = [("sb3-ppo", learned)]
    for rule in ("even", "nearest"):
        rows.append((rule, verdant.score_plan(scenario, verdant.rule_plan(scenario, rule))))
    rows += [(f"exact {p['source']}", p["objectives"]) for p in front if p["representative"]]
    points = verdant.objective_matrix([o for _, o in rows])
    # One reference point for every ratio: 1.1 x the worst value of any plan shown (beyond it,
    # so that a plan that is worst in one objective still counts in the others).
    ref = 1.1 * np.vstack([points, front_points]).max(axis=0)
    best = front_points.min(axis=0)
    table = []
    for (name, objectives), point in zip(rows, points):
        ratio = verdant.phv_ratio(point[None, :], front_points, ref)
        gaps = 100.0 * (point - best) / best
        table.append((name, objectives, ratio, gaps))
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lb-steps", type=int, default=20_000)
    parser.add_argument("--geo-steps", type=int, default=20_000)
    parser.add_argument("--scenario", default="geo-4dc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--verdant",
        default=pathlib.Path(__file__).resolve().parents[1] / "target" / "release" / "verdant",
        help="the verdant CLI, for its own PPO (skipped where it does not exist)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.time()
    model, normaliser = train_load_balancer(args.lb_steps, args.seed)
    print(f"load balancer: PPO trained for {args.lb_steps} steps in {time.time() - start:.0f} s")
    rows = {"sb3-ppo": held_out_episode(ppo_policy(model, normaliser))}
    if pathlib.Path(args.verdant).is_file():
        rows["verdant lb ppo (Rust)"] = verdant_ppo(args.verdant, args.lb_steps, args.seed)
    else:
        print(f"({args.verdant} not found: build it for Verdant's own PPO)")
    rows["uniform random (Python)"] = held_out_episode(random_policy(args.seed, 3))
    rows.update(baseline_episodes())
    print(f"{'policy':28} {'mean s':>8} {'p95 s':>8} {'SLO viol. %':>12}")
    for name, m in rows.items():
        print(
            f"{name:28} {m['mean_response_s']:8.3f} {m['p95_response_s']:8.3f} "
            f"{m['slo_violation_pct']:12.2f}"
        )

    scenario = verdant.Scenario(args.scenario)
    start = time.time()
    geo_model = train_geo(scenario, args.geo_steps, args.seed)
    print(f"\ngeo routing on {scenario.name}: PPO trained for {args.geo_steps} steps "
          f"in {time.time() - start:.0f} s")
    _, learned = geo_day(geo_model, scenario)
    print(f"{'plan':22} {'TTFT s':>8} {'carbon kg':>11} {'water L':>12} {'cost USD':>10} "
          f"{'PHV ratio':>10}  gaps to the exact front's best, %")
    for name, o, ratio, gaps in geo_comparison(scenario, learned):
        print(
            f"{name:22} {o['ttft_s']:8.3f} {o['carbon_kg']:11.0f} {o['water_l']:12.0f} "
            f"{o['cost_usd']:10.0f} {ratio:10.4f}  " + " ".join(f"{g:+.2f}" for g in gaps)
        )


if __name__ == "__main__":
    main()
