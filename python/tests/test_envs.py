"""The environments (issue 22): Gymnasium's and PettingZoo's own checkers, stepping from Python
equal to Verdant's Rust stepping, and bad arguments raising instead of crashing."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

import verdant


def checked(env):
    """Gymnasium's check_env on env; the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    return [str(w.message) for w in caught]


def test_check_env_passes_on_the_load_balancer():
    messages = checked(verdant.LoadBalancerEnv())
    # The one warning: lb-nominal's trace spans one day, so its scaled day-of-week feature is 0
    # throughout and its bounds are equal (the bounds are the features' extremes over the trace).
    env = verdant.LoadBalancerEnv()
    space = env.observation_space
    equal = [n for n, lo, hi in zip(env.observation_names, space.low, space.high) if lo == hi]
    assert equal == ["day_of_week"], equal
    assert all("maximum and minimum values are equal" in m for m in messages), messages


def test_check_env_passes_on_geo_routing_without_warnings():
    assert checked(verdant.GeoRoutingEnv("geo-4dc")) == []


def test_pettingzoo_api_and_seed_tests_pass_on_marlin_env():
    parallel_api_test(verdant.MarlinEnv("geo-4dc"), num_cycles=200)
    parallel_seed_test(lambda: verdant.MarlinEnv("geo-4dc"))


def test_a_round_robin_from_python_equals_verdant_lbs_rule():
    env = verdant.LoadBalancerEnv(split="eval")
    n = env.action_space.n
    env.reset(seed=3)
    done, step, total = False, 0, 0.0
    while not done:
        _, reward, done, truncated, info = env.step(step % n)
        assert not truncated
        total += reward
        step += 1
    ours = info["episode_metrics"]
    rust = env.run_baseline("round-robin", seed=3)
    assert ours == rust
    assert ours["requests"] == step
    assert abs(ours["cumulative_reward"] - total) <= 1e-9 * abs(total)


def test_load_balancer_episodes_follow_the_seed():
    def episode(seed):
        env = verdant.LoadBalancerEnv(episode_requests=300)
        obs, _ = env.reset(seed=seed)
        rewards, done = [], False
        while not done:
            obs, r, done, _, _ = env.step(0)
            rewards.append(r)
        return rewards

    assert episode(5) == episode(5)
    assert episode(5) != episode(6)


def test_load_balancer_bad_actions_raise():
    env = verdant.LoadBalancerEnv(episode_requests=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action 7 out of range"):
        env.step(7)
    with pytest.raises(ValueError, match="out of range"):
        env.step(-1)
    env.step(0)
    env.step(0)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    with pytest.raises(ValueError, match="split"):
        verdant.LoadBalancerEnv(split="test")
    with pytest.raises(verdant.VerdantError, match="no scenario file"):
        verdant.LoadBalancerEnv(scenario="no-such-scenario")


def test_the_vectorised_load_balancer_steps_in_lockstep_and_resets_finished_envs():
    def run(seed):
        venv = verdant.LoadBalancerVecEnv(4, episode_requests=50)
        obs, _ = venv.reset(seed=seed)
        assert obs.shape == (4, venv.single_observation_space.shape[0])
        assert obs.dtype == np.float32
        rng = np.random.default_rng(0)
        finished, rewards = [], []
        for _ in range(120):
            obs, r, term, trunc, infos = venv.step(rng.integers(0, 3, 4))
            assert venv.single_observation_space.contains(obs[0])
            assert not trunc.any()
            rewards.append(r.copy())
            if term.any():
                assert (infos["_episode_metrics"] == term).all()
                finished += [m["requests"] for m in infos["episode_metrics"][term]]
        return np.array(rewards), finished

    a, finished = run(1)
    b, _ = run(1)
    assert (a == b).all()
    # 120 steps of 50-request episodes: two finished episodes per environment.
    assert finished == [50] * 8
    venv = verdant.LoadBalancerVecEnv(2)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="2 environments"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        venv.step(np.array([0, 9]))


def test_geo_routing_steps_build_the_plan_that_score_plan_scores():
    env = verdant.GeoRoutingEnv("geo-4dc", project=False)
    scenario = env.scenario
    obs, _ = env.reset(seed=0)
    even = np.ones(env.action_space.shape)
    done, rewards = False, []
    while not done:
        obs, reward, done, _, info = env.step(even)
        rewards.append(reward)
    assert len(rewards) == scenario.epochs
    plan = env.plan()
    assert np.array_equal(plan, verdant.rule_plan(scenario, "even"))
    assert info["day_objectives"] == verdant.score_plan(scenario, plan)
    # The even split scores -1 (each objective over itself) in every epoch with equal weights.
    assert np.allclose(rewards, -1.0, rtol=0, atol=1e-9)


def test_geo_routing_normalises_and_projects_actions():
    env = verdant.GeoRoutingEnv("geo-4dc")
    env.reset(seed=0)
    hosts = env.scenario.hosts()
    action = np.zeros(env.action_space.shape)
    action[:, 0] = 1.0
    _, _, _, _, info = env.step(action)
    fractions = info["fractions"]
    assert np.allclose(fractions.sum(axis=1), 1.0)
    assert (fractions[~hosts] == 0).all()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full(env.action_space.shape, np.nan))
    with pytest.raises(ValueError, match="weights"):
        verdant.GeoRoutingEnv("geo-4dc", weights=(1, 0, 0))


def test_marlin_env_with_agreeing_agents_is_the_geo_environment():
    geo = verdant.GeoRoutingEnv("geo-4dc")
    marlin = verdant.MarlinEnv("geo-4dc")
    shape = (geo.scenario.epochs, *geo.action_space.shape)
    actions = np.random.default_rng(4).uniform(size=shape)
    geo.reset(seed=0)
    marlin.reset(seed=0)
    for a in actions:
        _, _, done, _, info = geo.step(a)
        _, rewards, terms, _, infos = marlin.step({agent: a for agent in marlin.agents})
    assert done and all(terms.values()) and marlin.agents == []
    # The same plan up to the rounding of the capital-weighted blend of equal proposals.
    ours, theirs = infos["carbon"]["day_objectives"], info["day_objectives"]
    assert ours.keys() == theirs.keys()
    assert all(np.isclose(ours[k], theirs[k], rtol=1e-12, atol=0) for k in ours), (ours, theirs)
    assert np.allclose(geo.plan(), marlin.plan(), rtol=0, atol=1e-14)
    # Capital stays within MARLIN's bounded EMA: [0, capital_scale x (1 + bonus_scale)].
    top = marlin.capital_scale * (1 + marlin.bonus_scale)
    assert all(0 <= i["capital"] <= top for i in infos.values())
