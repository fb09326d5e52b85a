"""Scenarios, plans and scoring from Python equal the CLI's (issue 22); Rust's errors arrive as
VerdantError with the CLI's message."""

import csv
import os
import pathlib
import subprocess

import numpy as np
import pytest

import verdant

ROOT = pathlib.Path(__file__).resolve().parents[2]


def verdant_cli():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "release" / "verdant"
    assert path.is_file(), f"{path}: build the CLI first (cargo build --release; test.sh does)"
    return str(path)


def random_plan(scenario, seed):
    """Shares drawn from a Dirichlet per (epoch, origin, class) over the hosting datacenters."""
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(len(scenario.datacenters)), size=scenario.plan_shape[:3])
    shares *= scenario.hosts()[None, None, :, :]
    return shares / shares.sum(axis=-1, keepdims=True)


def test_a_plan_scored_from_python_equals_verdant_simulate(tmp_path):
    seed = 7
    scenario = verdant.Scenario("geo-4dc", seed)
    plan = random_plan(scenario, 1)
    path = tmp_path / "plan.csv"
    verdant.write_plan(scenario, plan, path)
    assert np.array_equal(verdant.read_plan(scenario, path), plan)
    subprocess.run(
        [
            verdant_cli(),
            "simulate",
            "-q",
            "--seed",
            str(seed),
            "--set",
            "scenario=geo-4dc",
            "--set",
            f"plan={path}",
            "--out",
            str(tmp_path / "runs"),
        ],
        check=True,
    )
    (objectives,) = (tmp_path / "runs" / "simulate").glob("*/objectives.csv")
    with open(objectives) as f:
        rows = {r["fidelity"]: r for r in csv.DictReader(f)}
    for fidelity in ("fluid", "discrete-event"):
        ours = verdant.score_plan(scenario, plan, fidelity, seed=seed)
        cli = rows[fidelity]
        assert len(ours) == len(cli) - 1
        for key, value in ours.items():
            assert value == float(cli[key]), (fidelity, key, value, cli[key])


def test_rule_plans_are_plans_and_score_differently():
    scenario = verdant.Scenario("geo-4dc")
    even = verdant.rule_plan(scenario, "even")
    nearest = verdant.rule_plan(scenario, "nearest")
    assert even.shape == scenario.plan_shape
    assert np.allclose(even.sum(axis=-1), 1.0) and np.allclose(nearest.sum(axis=-1), 1.0)
    assert verdant.score_plan(scenario, even) != verdant.score_plan(scenario, nearest)


def test_bad_plans_and_arguments_raise():
    scenario = verdant.Scenario("geo-4dc")
    even = verdant.rule_plan(scenario, "even")
    with pytest.raises(ValueError, match="shape"):
        verdant.score_plan(scenario, even[:, :, :, :2])
    bad = even.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="epoch 0"):
        verdant.score_plan(scenario, bad)
    with pytest.raises(ValueError, match="fidelity"):
        verdant.score_plan(scenario, even, "exact")
    with pytest.raises(ValueError, match="rule"):
        verdant.rule_plan(scenario, "cheapest")
    with pytest.raises(TypeError):
        verdant.score_plan(scenario, even[0])


def test_a_bad_plan_file_names_file_line_and_column(tmp_path):
    scenario = verdant.Scenario("geo-4dc")
    path = tmp_path / "plan.csv"
    verdant.write_plan(scenario, verdant.rule_plan(scenario, "even"), path)
    lines = path.read_text().splitlines()
    fields = lines[3].split(",")
    fields[4] = "-0.5"
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(verdant.VerdantError) as error:
        verdant.read_plan(scenario, path)
    column = scenario.datacenters[1]
    assert str(error.value).startswith(f"{path}:4: field {column}: "), str(error.value)


def test_scenario_errors_carry_the_clis_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bundled = ROOT / "datasets" / "scenarios" / "geo-4dc.toml"
    bad.write_text(f'include = "{bundled}"\nname = "bad"\nunknown_key = 3\n')
    with pytest.raises(verdant.VerdantError) as error:
        verdant.Scenario(str(bad))
    cli = subprocess.run(
        [verdant_cli(), "scenario", str(bad)], capture_output=True, text=True, check=False
    )
    assert cli.returncode == 2
    assert str(error.value) in cli.stderr, (str(error.value), cli.stderr)
    with pytest.raises(verdant.VerdantError, match="bundled: "):
        verdant.Scenario("no-such-scenario")
    assert issubclass(verdant.VerdantError, ValueError)


def test_the_exact_front_from_python(tmp_path):
    scenario = verdant.Scenario("geo-4dc")
    front = verdant.exact_front(scenario)
    sources = [p["source"] for p in front]
    assert sources[:4] == ["min-ttft", "min-carbon", "min-water", "min-cost"]
    assert sum(p["representative"] for p in front) == 1
    points = verdant.objective_matrix([p["objectives"] for p in front])
    assert points.shape == (len(front), 4)
    # Each min-<objective> plan is the least of the front in its own objective, as the simulator
    # scores it, for the objectives the LP models exactly (carbon, water, cost are linear in the
    # fractions; TTFT's queueing term is not, docs/decisions/0010).
    for j in (1, 2, 3):
        assert points[j, j] <= points[:, j].min() * (1 + 1e-6) + 1e-9
    assert verdant.phv_ratio(points, points) == 1.0
    even = verdant.objective_matrix([verdant.score_plan(scenario, verdant.rule_plan(scenario, "even"))])
    assert 0.0 <= verdant.phv_ratio(even, points)


def test_the_certified_front_bounds_every_plan_it_covers():
    scenario = verdant.Scenario("geo-4dc")
    c = verdant.certified_front(scenario, front_budget_s=6, plans_budget_s=6)
    sources = [p["source"] for p in c["plans"]]
    assert sources[:4] == ["min-ttft", "min-carbon", "min-water", "min-cost"]
    assert [s for s in sources if s.startswith("bound-min-")] == [
        "bound-min-ttft",
        "bound-min-carbon",
        "bound-min-water",
        "bound-min-cost",
    ]
    labels = {"bounded", "spills", "unhosted", "no-schedule", "out-of-time"}
    assert {p["coverage"] for p in c["plans"]} <= labels
    bounded = [p for p in c["plans"] if p["coverage"] == "bounded"]
    assert len(bounded) >= 14, sources  # the reference LP's front is covered
    for p in bounded:
        for key, bound in p["bounds"].items():
            simulated = p["objectives"][key]
            # The model's bound at a plan is a proven lower bound of its simulated value.
            assert simulated >= bound - 1e-9 * abs(bound), (p["source"], key, simulated, bound)
        for key in verdant.OBJECTIVES:
            # No covered plan is below the front's bound.
            least = c["least"][key]
            assert p["objectives"][key] >= least - 1e-9 * abs(least), (p["source"], key)
    front_phv, outer_phv = c["phv_interval"]
    assert 0 < front_phv <= outer_phv
    assert c["stop"] in {"converged", "budget", "exhausted"}
