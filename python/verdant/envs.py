"""Gymnasium and PettingZoo environments over Verdant's simulators (issue 22).

The stepping is Rust (``verdant._verdant``); these classes only hold the spaces and translate
calls, so ``gymnasium.utils.env_checker.check_env`` and PettingZoo's API tests see plain Python
environments:

- ``LoadBalancerEnv``: ``verdant lb``'s environment (one step per request, the action a server);
- ``LoadBalancerVecEnv``: N of them per call on numpy arrays (Gymnasium ``VectorEnv``, same-step
  autoreset);
- ``GeoRoutingEnv``: a geo scenario, one step per epoch, the action each class's fractions over
  the datacenters, the reward a weighted sum of the four objectives;
- ``MarlinEnv``: the same world as a PettingZoo ``ParallelEnv`` with MARLIN's four objective
  agents, their proposals blended by capital as in MARLIN's game.
"""

import functools
import json

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from verdant import _verdant
from verdant._verdant import Scenario

_LB = json.loads(_verdant.config_defaults("lb"))
_MARLIN = json.loads(_verdant.config_defaults("marlin"))["marlin"]

#: The four objectives, in Verdant's order; MarlinEnv's agents are named after them.
AGENTS = ("ttft", "carbon", "water", "cost")
_OBJECTIVE_KEYS = ("ttft_s", "carbon_kg", "water_l", "cost_usd")


def _episode_seed(np_random):
    return int(np_random.integers(0, 2**63 - 1))


class LoadBalancerEnv(gymnasium.Env):
    """``verdant lb``'s environment: heterogeneous servers fed an Azure LLM trace; one step routes
    one arriving request to a server (the action), time advancing by arrivals and completions.

    The observation is the request's 15 scaled features, then 7 values per server
    (``observation_names``); the reward is the load-balancing paper's composite (the scenario's
    ``[reward]`` weights). ``split`` picks the training slice or the held-out tail;
    ``episode_requests`` the length of an episode, a window at a start drawn on each reset (by
    default ``verdant lb``'s ``agent.episode_requests`` on the training slice, the whole tail on
    ``"eval"``). When an episode ends, ``info["episode_metrics"]`` holds ``verdant lb``'s table
    numbers (mean and percentile response times, SLO violations, drops, per server).
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario=None, split="train", episode_requests="default", scenario_set=()):
        if scenario is None:
            scenario = _LB["lb"]["scenario"]
        if episode_requests == "default":
            episode_requests = _LB["agent"]["episode_requests"] if split == "train" else None
        self._core = _verdant._LbEnv(scenario, split, episode_requests, list(scenario_set))
        self.observation_names = self._core.observation_names
        self.server_names = self._core.server_names
        self.observation_space = spaces.Box(*self._core.observation_bounds(), dtype=np.float32)
        self.action_space = spaces.Discrete(self._core.action_count)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._core.reset(_episode_seed(self.np_random)), {}

    def step(self, action):
        observation, reward, terminated = self._core.step(int(action))
        info = {}
        if terminated:
            info["episode_metrics"] = json.loads(self._core.metrics())
        return observation, float(reward), terminated, False, info

    def run_baseline(self, name, seed=0):
        """Runs one whole episode with ``verdant lb``'s rule baseline ``name`` (``round-robin``,
        ``least-connections``, ``least-loaded``, ``random``, ``normalised-least-loaded``,
        ``shortest-expected-delay``) in Rust, reset with ``seed``; its metrics. The environment
        is left at that episode's end (``reset`` before stepping again)."""
        return json.loads(self._core.run_baseline(name, seed))

    def episode_metrics(self):
        """``verdant lb``'s numbers for the episode so far (complete once it has ended)."""
        return json.loads(self._core.metrics())

    def response_times_s(self):
        """Response times of the requests served so far, seconds, in completion order."""
        return self._core.response_times_s()


class LoadBalancerVecEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` load-balancer environments stepped by one call on numpy arrays (the stepping
    is Rust's, without the GIL). An environment whose episode ends starts its next one in the
    same step (``AutoresetMode.SAME_STEP``): its returned observation is the new episode's first,
    and ``infos["episode_metrics"]`` (masked by ``infos["_episode_metrics"]``) holds the finished
    episode's numbers. Episode windows come from one stream seeded by ``reset(seed=...)``."""

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs,
        scenario=None,
        split="train",
        episode_requests="default",
        scenario_set=(),
        seed=0,
    ):
        if scenario is None:
            scenario = _LB["lb"]["scenario"]
        if episode_requests == "default":
            episode_requests = _LB["agent"]["episode_requests"] if split == "train" else None
        self._core = _verdant._LbVecEnv(
            scenario, num_envs, split, episode_requests, list(scenario_set), seed
        )
        self.num_envs = num_envs
        self.observation_names = self._core.observation_names
        self.single_observation_space = spaces.Box(
            *self._core.observation_bounds(), dtype=np.float32
        )
        self.single_action_space = spaces.Discrete(self._core.action_count)
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)
        return self._core.reset(_episode_seed(self.np_random)), {}

    def step(self, actions):
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        observations, rewards, terminated, finished = self._core.step(actions)
        infos = {}
        if finished:
            metrics = np.full(self.num_envs, None, dtype=object)
            mask = np.zeros(self.num_envs, dtype=bool)
            for i, text in finished:
                metrics[i] = json.loads(text)
                mask[i] = True
            infos = {"episode_metrics": metrics, "_episode_metrics": mask}
        return observations, rewards, terminated, np.zeros(self.num_envs, dtype=bool), infos


class _GeoWorld:
    """A scenario and its epoch-by-epoch core, shared by the geo environments."""

    def __init__(self, scenario, seed, utilisation_cap, project, blowdown, max_waiting):
        if not isinstance(scenario, Scenario):
            scenario = Scenario(scenario, seed)
        self.scenario = scenario
        if utilisation_cap is None:
            utilisation_cap = _MARLIN["utilisation_cap"]
        self.core = _verdant._GeoCore(scenario, utilisation_cap, project, blowdown, max_waiting)
        self.epochs, self.classes, self.datacenters, self.state_len = self.core.dims

    def action_space(self):
        return spaces.Box(0.0, 1.0, (self.classes, self.datacenters), dtype=np.float32)

    def observation_bounds(self):
        return self.core.observation_bounds()

    def observation(self, epoch):
        return self.core.observation(min(epoch, self.epochs - 1))

    def weights(self, action, name="action"):
        """An action as the core takes it: float64 of shape (classes, datacenters)."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.classes, self.datacenters):
            raise ValueError(
                f"{name} has shape {action.shape}; it needs (classes, datacenters) = "
                f"({self.classes}, {self.datacenters})"
            )
        return action


def _normalised(objectives, reference):
    return np.array([objectives[k] for k in _OBJECTIVE_KEYS]) / reference


class GeoRoutingEnv(gymnasium.Env):
    """A geo scenario routed epoch by epoch (Gymnasium): one step decides one epoch.

    Action: shape (classes, datacenters), each class's weights over the datacenters, normalised to
    fractions over those hosting it (all zero: even), then projected onto the utilisation cap
    (``project``, as MARLIN's proposals are). Observation: per datacenter its carbon, water and
    price (over the day's largest) and share of the fleet's GPUs, each class's requests in the
    epoch, the time of day (sine, cosine). Reward: ``-sum(w_j x objective_j / even_j)``, the
    epoch's TTFT, carbon, water and cost each over the even split's in that epoch, ``weights``
    summing to 1. ``info["objectives"]`` is the simulator's objective vector of the epoch;
    at the end ``info["day_objectives"]`` scores the day's plan (``plan()``) as ``score_plan``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario="geo-8dc",
        weights=(0.25, 0.25, 0.25, 0.25),
        seed=0,
        utilisation_cap=None,
        project=True,
        blowdown="blowdown-only",
        max_waiting_per_datacenter=100_000,
    ):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (4,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"weights: need 4 finite values >= 0, got {weights!r}")
        if weights.sum() <= 0:
            raise ValueError("weights: at least one must be positive")
        self.weights = weights / weights.sum()
        self._world = _GeoWorld(
            scenario, seed, utilisation_cap, project, blowdown, max_waiting_per_datacenter
        )
        self.scenario = self._world.scenario
        self.observation_space = spaces.Box(*self._world.observation_bounds(), dtype=np.float32)
        self.action_space = self._world.action_space()
        self._epoch = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._world.core.reset()
        self._epoch = 0
        return self._world.observation(0), {}

    def step(self, action):
        core, e = self._world.core, self._epoch
        if e >= self._world.epochs:
            raise RuntimeError("step() on a finished episode: call reset()")
        objectives, fractions = core.step(e, self._world.weights(action))
        reward = -float(self.weights @ _normalised(objectives, core.reference(e)))
        self._epoch = e + 1
        terminated = self._epoch == self._world.epochs
        info = {"epoch": e, "objectives": objectives, "fractions": fractions}
        if terminated:
            info["day_objectives"] = core.day_objectives()
        return self._world.observation(self._epoch), reward, terminated, False, info

    def plan(self):
        """The day's plan so far (epochs not yet decided: the even split), shape (epochs,
        origins, classes, datacenters): ``score_plan`` and ``write_plan`` take it."""
        return self._world.core.plan()


class MarlinEnv(ParallelEnv):
    """The geo world as a PettingZoo ``ParallelEnv`` with MARLIN's four objective agents (``ttft``,
    ``carbon``, ``water``, ``cost``): each epoch every agent proposes fractions (the action of
    ``GeoRoutingEnv``), each proposal is scored, and the epoch's plan is their blend weighted by
    capital; each agent's reward is ``-objective / even split's`` of that plan on its own
    objective, and its capital follows MARLIN's game (``verdant::geo::game``: performance and
    bonus against the proposals; constants from ``verdant marlin``'s defaults). An agent observes
    the world (``GeoRoutingEnv``'s observation) and every agent's share of the capital. What
    MARLIN adds inside its agents (critics' utilities, vetoes) is the agents' business here.
    """

    metadata = {"render_modes": [], "name": "verdant_marlin_v0"}

    def __init__(
        self,
        scenario="geo-8dc",
        seed=0,
        utilisation_cap=None,
        project=True,
        blowdown="blowdown-only",
        max_waiting_per_datacenter=100_000,
        capital_initial=None,
        capital_decay=None,
        capital_scale=None,
        bonus_scale=None,
    ):
        self._world = _GeoWorld(
            scenario, seed, utilisation_cap, project, blowdown, max_waiting_per_datacenter
        )
        self.scenario = self._world.scenario
        pick = lambda v, key: _MARLIN[key] if v is None else float(v)  # noqa: E731
        self.capital_initial = pick(capital_initial, "capital_initial")
        self.capital_decay = pick(capital_decay, "capital_decay")
        self.capital_scale = pick(capital_scale, "capital_scale")
        self.bonus_scale = pick(bonus_scale, "bonus_scale")
        self.possible_agents = list(AGENTS)
        self.agents = []
        self._capital = np.full(len(AGENTS), self.capital_initial)
        self._epoch = 0

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        low, high = self._world.observation_bounds()
        shares = np.ones(len(AGENTS), dtype=np.float32)
        return spaces.Box(
            np.concatenate([low, 0 * shares]), np.concatenate([high, shares]), dtype=np.float32
        )

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self._world.action_space()

    def _observations(self):
        shares = (self._capital / self._capital.sum()).astype(np.float32)
        world = self._world.observation(self._epoch)
        both = np.concatenate([world, shares])
        return {a: both.copy() for a in self.agents}

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self._world.core.reset()
        self._epoch = 0
        self._capital = np.full(len(AGENTS), self.capital_initial)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions):
        core, e = self._world.core, self._epoch
        if not self.agents:
            raise RuntimeError("step() on a finished episode: call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions: no action for agents {missing}")
        reference = core.reference(e)
        proposals, fractions = [], []
        for a in self.possible_agents:
            objectives, f = core.step(e, self._world.weights(actions[a], f"actions[{a!r}]"))
            proposals.append(_normalised(objectives, reference))
            fractions.append(f)
        shares = self._capital / self._capital.sum()
        blend = sum(w * f for w, f in zip(shares, fractions))
        objectives, executed = core.step(e, blend)
        consensus = _normalised(objectives, reference)
        self._capital = np.array(
            _verdant.capital_update(
                list(self._capital),
                list(consensus),
                [list(p) for p in proposals],
                self.capital_decay,
                self.capital_scale,
                self.bonus_scale,
            )
        )
        self._epoch = e + 1
        done = self._epoch == self._world.epochs
        rewards = {a: -float(consensus[j]) for j, a in enumerate(self.possible_agents)}
        infos = {
            a: {
                "epoch": e,
                "objectives": objectives,
                "capital": float(self._capital[j]),
                "fractions": executed,
            }
            for j, a in enumerate(self.possible_agents)
        }
        if done:
            day = core.day_objectives()
            for a in self.possible_agents:
                infos[a]["day_objectives"] = day
        observations = self._observations()
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def plan(self):
        """The day's plan so far, shape (epochs, origins, classes, datacenters)."""
        return self._world.core.plan()
