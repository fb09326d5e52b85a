//! Rule-based load balancers: the paper's four baselines and the two it lacked.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::env::LbEnv;

/// Chooses a server for the environment's current request from its live state.
pub trait LbPolicy {
    /// A short name for tables.
    fn name(&self) -> &str;
    /// Called at the start of each episode.
    fn reset(&mut self, _seed: u64) {}
    /// The server for the current request.
    fn choose(&mut self, env: &LbEnv) -> usize;
}

/// The rule-based policies by name, in table order.
pub const BASELINES: [&str; 6] = [
    "round-robin",
    "least-connections",
    "least-loaded",
    "random",
    "normalised-least-loaded",
    "shortest-expected-delay",
];

/// The baseline called `name` (one of [`BASELINES`]).
pub fn baseline(name: &str) -> Option<Box<dyn LbPolicy + Send>> {
    Some(match name {
        "round-robin" => Box::new(RoundRobin { next: 0 }),
        "least-connections" => Box::new(ArgMin {
            name: "least-connections",
            score: |env, i| (env.active(i) + env.queue_len(i)) as f64,
        }),
        "least-loaded" => Box::new(ArgMin {
            name: "least-loaded",
            score: LbEnv::tokens_in_flight,
        }),
        "random" => Box::new(Random {
            rng: ChaCha8Rng::seed_from_u64(0),
        }),
        "normalised-least-loaded" => Box::new(ArgMin {
            name: "normalised-least-loaded",
            score: |env, i| {
                let s = &env.config().servers[i];
                env.tokens_in_flight(i) / (s.tokens_per_s * f64::from(s.concurrency))
            },
        }),
        "shortest-expected-delay" => Box::new(ArgMin {
            name: "shortest-expected-delay",
            score: LbEnv::estimated_completion_s,
        }),
        _ => return None,
    })
}

/// Servers in turn.
struct RoundRobin {
    next: usize,
}

impl LbPolicy for RoundRobin {
    fn name(&self) -> &str {
        "round-robin"
    }
    fn reset(&mut self, _seed: u64) {
        self.next = 0;
    }
    fn choose(&mut self, env: &LbEnv) -> usize {
        let pick = self.next % env.server_count();
        self.next = pick + 1;
        pick
    }
}

/// Uniformly at random, seeded per episode.
struct Random {
    rng: ChaCha8Rng,
}

impl LbPolicy for Random {
    fn name(&self) -> &str {
        "random"
    }
    fn reset(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }
    fn choose(&mut self, env: &LbEnv) -> usize {
        self.rng.gen_range(0..env.server_count())
    }
}

/// The server with the lowest score; ties go to the lowest index.
struct ArgMin {
    name: &'static str,
    score: fn(&LbEnv, usize) -> f64,
}

impl LbPolicy for ArgMin {
    fn name(&self) -> &str {
        self.name
    }
    fn choose(&mut self, env: &LbEnv) -> usize {
        let mut best = 0;
        let mut best_score = f64::INFINITY;
        for i in 0..env.server_count() {
            let s = (self.score)(env, i);
            if s < best_score {
                best = i;
                best_score = s;
            }
        }
        best
    }
}

/// Runs `policy` through one whole episode of `env` (reset with `seed`).
pub fn run_episode(env: &mut LbEnv, policy: &mut dyn LbPolicy, seed: u64) -> f64 {
    env.reset(seed);
    policy.reset(seed);
    let mut total = 0.0;
    while !env.is_done() {
        let a = policy.choose(env);
        total += env.step(a).reward;
    }
    total
}
