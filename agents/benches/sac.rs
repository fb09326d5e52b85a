//! SAC training throughput at MARLIN's sizes on geo-8dc (issues 8 and 21): state 36, conditioning
//! 28, action 16 (2 classes x 8 datacenters), actor hidden 128, critic hidden 256, batch 256; one
//! update = twin critics, actor and temperature steps plus the soft target update.
//!
//! For each device it measures, in one run, the f32 matrix-multiply rate of a square product (the
//! machine's peak as libtorch reaches it) and agent updates per second two ways for each stack
//! size: the agents updated one at a time (stacks of one, in turn) and batched (one stack, one
//! update for all); it reports each rate's matrix-product FLOP rate as a share of that peak and the
//! batched rate over the one-at-a-time rate.
//!
//! `cargo bench -p verdant-agents --bench sac`. Environment: `VERDANT_BENCH_DEVICES` (`cpu`,
//! `cuda`, or both comma-separated; default the CPU and CUDA where libtorch sees it),
//! `VERDANT_BENCH_THREADS` (libtorch's threads, default 1), `VERDANT_BENCH_AGENTS` (stack sizes,
//! comma-separated, default `4,20`: one scheme's four agents, five schemes'), `VERDANT_BENCH_SECONDS` (time per measurement, default 3).

use std::time::{Duration, Instant};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use verdant_agents::marlin::sac::{Batch, SacConfig, SacStack};

const BATCH: i64 = 256;

fn config() -> SacConfig {
    SacConfig {
        state: 36,
        weights: 4,
        conditioning: 28,
        action: 16,
        actor_hidden: 128,
        critic_hidden: 256,
        actor_lr: 3e-4,
        critic_lr: 1e-3,
        alpha_lr: 3e-4,
        initial_alpha: 1.0,
        gamma: 0.95,
        tau: 0.005,
        film: true,
    }
}

/// Matrix-product FLOPs of one agent's update at batch `b` (2 per multiply-add; a full backward
/// pass counted as twice its forward pass, gradients of inputs and of weights, one to the inputs
/// only as once): the target step runs the actor and both target critics forward, the critic step
/// both critics forward and back, the actor step the actor forward and back and both critics
/// forward and back to their input (their weights frozen).
fn update_flop(c: &SacConfig, b: i64) -> f64 {
    let actor_in = c.state + c.weights + if c.film { 0 } else { c.conditioning };
    let film = if c.film {
        2 * c.conditioning * c.actor_hidden
    } else {
        0
    };
    let actor = 2
        * (actor_in * c.actor_hidden
            + film
            + c.actor_hidden * c.actor_hidden
            + c.actor_hidden * 2 * c.action);
    let q_in = c.state + c.weights + c.action;
    let q = 2 * (q_in * c.critic_hidden + c.critic_hidden * c.critic_hidden + c.critic_hidden);
    let target = actor + 2 * q;
    let critic = 3 * 2 * q;
    let actor_step = 3 * actor + 2 * 2 * q;
    (b * (target + critic + actor_step)) as f64
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Repeats `f` for at least `seconds` after one warm-up call; returns calls per second.
fn rate(device: Device, seconds: f64, mut f: impl FnMut()) -> f64 {
    f();
    sync(device);
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        f();
        calls += 1;
    }
    sync(device);
    calls as f64 / start.elapsed().as_secs_f64()
}

/// f32 GFLOP/s of an n x n x n product.
fn matmul_gflops(device: Device, seconds: f64) -> (i64, f64) {
    let n = if device.is_cuda() { 8192 } else { 1024 };
    let a = Tensor::rand([n, n], (Kind::Float, device));
    let b = Tensor::rand([n, n], (Kind::Float, device));
    let out = Tensor::zeros([n, n], (Kind::Float, device));
    let per_second = rate(device, seconds, || {
        let _ = a.matmul_out(&out, &b);
    });
    (n, per_second * 2.0 * (n * n * n) as f64 / 1e9)
}

/// Random transitions for `agents` agents (`[agents, BATCH, ..]`).
fn batch(c: &SacConfig, agents: i64, device: Device) -> Batch {
    let opts = (Kind::Float, device);
    let (n, b) = (agents, BATCH);
    Batch {
        state: Tensor::rand([n, b, c.state], opts),
        weights: Tensor::rand([n, b, c.weights], opts),
        conditioning: Tensor::rand([n, b, c.conditioning], opts),
        action: Tensor::rand([n, b, c.action], opts) * 2.0 - 1.0,
        reward: Tensor::rand([n, b], opts),
        next_state: Tensor::rand([n, b, c.state], opts),
        next_conditioning: Tensor::rand([n, b, c.conditioning], opts),
        done: Tensor::zeros([n, b], opts),
    }
}

/// One random stream per agent.
fn streams(agents: usize, offset: u64) -> Vec<ChaCha8Rng> {
    (0..agents as u64)
        .map(|i| ChaCha8Rng::seed_from_u64(offset + i))
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes no arguments of its own.
    let threads: i32 = env_or("VERDANT_BENCH_THREADS", 1);
    let stacks: Vec<usize> = env_or::<String>("VERDANT_BENCH_AGENTS", "4,20".into())
        .split(',')
        .map(|n| match n.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("VERDANT_BENCH_AGENTS: {n:?} is not a positive number of agents"),
        })
        .collect();
    let seconds: f64 = env_or("VERDANT_BENCH_SECONDS", 3.0);
    let devices: Vec<Device> = match std::env::var("VERDANT_BENCH_DEVICES") {
        Ok(list) => list
            .split(',')
            .map(|d| match d.trim() {
                "cpu" => Device::Cpu,
                "cuda" if tch::Cuda::is_available() => Device::Cuda(0),
                other => panic!("VERDANT_BENCH_DEVICES: {other:?} is not cpu or an available cuda"),
            })
            .collect(),
        Err(_) if tch::Cuda::is_available() => vec![Device::Cpu, Device::Cuda(0)],
        Err(_) => vec![Device::Cpu],
    };
    tch::set_num_threads(threads);
    let c = config();
    let flop = update_flop(&c, BATCH);
    println!(
        "SAC at geo-8dc sizes, batch {BATCH}: {:.3} GFLOP of matrix products per agent update; \
         libtorch threads {threads}. One at a time: n stacks of one agent updated in turn; \
         batched: one stack of n agents updated as one.",
        flop / 1e9
    );
    println!(
        "| device | f32 matmul (n) GFLOP/s | agents | mode | agent-updates/s | GFLOP/s | share of matmul | batched / one at a time |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let to_plan = |u: &Tensor| {
        (u * 3.0)
            .view([-1, 2, 8])
            .softmax(-1, Kind::Float)
            .view([-1, 16])
    };
    for device in devices {
        let (n, peak) = matmul_gflops(device, seconds);
        let name = verdant_agents::device::device_name(device);
        for &agents in &stacks {
            let mut inits = streams(agents, 0);
            let mut noise = streams(agents, 1000);
            let mut alone: Vec<SacStack> = inits
                .chunks_mut(1)
                .map(|init| SacStack::new(c, device, init))
                .collect();
            let one_data = batch(&c, 1, device);
            let mut next = 0;
            let one_at_a_time = rate(device, seconds, || {
                let i = next % agents;
                alone[i].update(&one_data, &to_plan, &mut noise[i..=i]);
                next += 1;
            });
            let mut stack = SacStack::new(c, device, &mut streams(agents, 0));
            let data = batch(&c, agents as i64, device);
            let batched = agents as f64
                * rate(device, seconds, || {
                    stack.update(&data, &to_plan, &mut noise);
                });
            for (mode, per_s) in [("one at a time", one_at_a_time), ("batched", batched)] {
                let achieved = per_s * flop / 1e9;
                println!(
                    "| {name} | {peak:.1} ({n}) | {agents} | {mode} | {per_s:.1} | {achieved:.1} | {:.1}% | {:.2} |",
                    100.0 * achieved / peak,
                    per_s / one_at_a_time
                );
            }
        }
    }
}
