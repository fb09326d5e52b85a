"""Environment steps per second from Python (issue 22): the vectorised load balancer
(``LoadBalancerVecEnv``) at several widths, stepped with numpy's random actions, and the
one-environment ``LoadBalancerEnv`` stepped per request, one core (the stepping runs without the
GIL but on the calling thread).

    python python/bench_envs.py [--seconds 3]

Prints one row per configuration: environments, steps, seconds, million steps per second. The
goal of issue 22 is at least 1 M steps/s for the vectorised form.
"""

import argparse
import time

import numpy as np

import verdant


def vectorised(num_envs, seconds):
    venv = verdant.LoadBalancerVecEnv(num_envs)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = venv.single_action_space.n
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            venv.step(rng.integers(0, actions, num_envs))
        steps += 20 * num_envs
    return steps, time.perf_counter() - start


def single(seconds):
    env = verdant.LoadBalancerEnv()
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            _, _, done, _, _ = env.step(steps % 3)
            steps += 1
            if done:
                env.reset()
    return steps, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{'form':24} {'envs':>6} {'steps':>12} {'seconds':>8} {'M steps/s':>10}")
    steps, elapsed = single(args.seconds)
    print(f"{'LoadBalancerEnv':24} {1:6} {steps:12} {elapsed:8.2f} {steps / elapsed / 1e6:10.3f}")
    for n in (16, 64, 256, 1024, 4096):
        steps, elapsed = vectorised(n, args.seconds)
        print(
            f"{'LoadBalancerVecEnv':24} {n:6} {steps:12} {elapsed:8.2f} "
            f"{steps / elapsed / 1e6:10.3f}"
        )


if __name__ == "__main__":
    main()
