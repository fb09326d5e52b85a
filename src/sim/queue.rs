//! The queueing terms of the fluid simulator (docs/metrics.md, "Queueing"; docs/decisions/0007).
//!
//! - [`WaitCurve`]: the stationary mean wait for a prefill lane, per second of mean prefill, of a
//!   GPU kind's pools at the kind's prefill utilisation: each node is an M/G/c queue (c prefill
//!   lanes: `gpus_per_node / min_gpus`), by Allen-Cunneen: `(ca^2 + cs^2) / 2 x C(c, rho) /
//!   (c (1 - rho))` per second of mean service, with Erlang C's probability of waiting `C`
//!   (exact for M/M/c; with Poisson arrivals, ca^2 = 1, and one lane it is
//!   Pollaczek-Khinchine), with the arrivals' part `ca^2` replaced by the value that makes it
//!   exact for the round robin's smoother Gamma arrivals at exponential service
//!   ([`arrival_variability`], from GI/M/1's root). Above a knee where the
//!   queue would take longer than an epoch to reach its steady state, the curve continues along
//!   its tangent, so it stays finite and increasing: what a sustained overload costs is the
//!   backlog's business.
//! - [`mean_backlog`]: the fluid backlog (a Lindley recursion on work) averaged over an epoch.

/// Points of a tabulated [`WaitCurve`] between 0 and its knee.
const POINTS: usize = 65;

/// The GPU time a node loses to prefill groups: a request of a model that prefills on `k` GPUs
/// takes the group of `k` consecutive GPUs that frees first (all its GPUs free), so a GPU of the
/// group that frees earlier waits idle for the others (the discrete-event lanes' rule). Where one
/// node serves models of different group sizes, a one-GPU prefill can hold half of a pair. Lost
/// GPU-seconds per busy GPU-second, at the node's prefill utilisations [`GroupIdle::AT`], measured by
/// simulating the rule; linear between them, proportional below the first.
#[derive(Debug, Clone, Default)]
pub struct GroupIdle {
    /// Lost share at each of [`GroupIdle::AT`]; empty where nothing is lost (one group size).
    lost: Vec<f64>,
}

impl GroupIdle {
    /// Squared coefficient of variation of the simulated nodes' inter-arrival times: nearly
    /// periodic, as the round robin makes them for a node of a large pool.
    pub const ARRIVAL_SCV: f64 = 0.01;

    /// The utilisations at which the lost share is measured.
    pub const AT: [f64; 9] = [0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98];

    /// A node of `gpus` GPUs serving `jobs`, each `(group size, share of the requests, prefill
    /// seconds of a sample of its requests)`, with arrivals whose gaps have squared
    /// coefficient of variation `ca2` (Gamma), simulated for `n` requests per utilisation with
    /// `rng`. Nothing is lost where every job has the same group size.
    pub fn new(
        gpus: u32,
        jobs: &[(u32, f64, Vec<f64>)],
        ca2: f64,
        n: usize,
        rng: &mut impl rand::Rng,
    ) -> Self {
        let sizes = |f: fn(u32, u32) -> u32| jobs.iter().map(|j| j.0).reduce(f);
        let usable = jobs
            .iter()
            .all(|j| j.0 >= 1 && j.0 <= gpus && !j.2.is_empty());
        if !usable || sizes(u32::min) == sizes(u32::max) || jobs.is_empty() {
            return GroupIdle::default();
        }
        // One sequence of requests for every utilisation (common random numbers: the curve
        // is smooth in the utilisation, its points differ by the load alone).
        let sequence = draw_sequence(jobs, ca2, n, rng);
        let lost = Self::AT
            .iter()
            .map(|&rho| simulate_groups(gpus, jobs, &sequence, rho))
            .collect();
        GroupIdle { lost }
    }

    /// Nothing lost (one group size).
    pub fn none() -> &'static GroupIdle {
        static NONE: GroupIdle = GroupIdle { lost: Vec::new() };
        &NONE
    }

    /// Lost GPU-seconds per busy GPU-second at prefill utilisation `rho` (at and above the
    /// last of [`GroupIdle::AT`]: its value, the saturated node's).
    pub fn at(&self, rho: f64) -> f64 {
        if self.lost.is_empty() || rho <= 0.0 {
            return 0.0;
        }
        if rho <= Self::AT[0] {
            return self.lost[0] * rho / Self::AT[0];
        }
        for i in 1..Self::AT.len() {
            if rho <= Self::AT[i] {
                let t = (rho - Self::AT[i - 1]) / (Self::AT[i] - Self::AT[i - 1]);
                return self.lost[i - 1] + t * (self.lost[i] - self.lost[i - 1]);
            }
        }
        self.lost[Self::AT.len() - 1]
    }

    /// Whether anything is lost (the node serves models of different group sizes).
    pub fn any(&self) -> bool {
        !self.lost.is_empty()
    }

    /// Requests per utilisation that [`GroupIdle::of_scenario`] simulates.
    pub const REQUESTS: usize = 20_000;

    /// Per kind of node in `scenario` (GPU kind, GPUs per node; each once) that serves models
    /// of different group sizes: what it loses, for the scenario's mix of models (each model's
    /// share of the demand's requests) and their prompt lengths in its request sample, with
    /// nearly periodic arrivals (the round robin's, squared coefficient of variation 0.01),
    /// [`GroupIdle::REQUESTS`] requests per utilisation drawn from a fixed stream (master seed
    /// 0, `group_idle`: the loss is a property of the rule and the mix, not a draw of the
    /// world, so every reader gets the same table). The fluid simulator counts it
    /// (docs/metrics.md, "Prefill groups").
    pub fn of_scenario(s: &crate::scenario::Scenario) -> Vec<(usize, u32, GroupIdle)> {
        let mut rng = crate::seed::MasterSeed(0).rng("group_idle");
        let n = Self::REQUESTS;
        let requests: Vec<f64> = (0..s.models.len())
            .map(|m| s.model_demand(&s.demand, m)[0])
            .collect();
        let prompts: Vec<Vec<f64>> = (0..s.models.len())
            .map(|m| s.sample_prompt_tokens(m).collect())
            .collect();
        let mut out: Vec<(usize, u32, GroupIdle)> = Vec::new();
        for p in s.datacenters.iter().flat_map(|d| &d.node_pools) {
            if p.nodes == 0 || out.iter().any(|x| (x.0, x.1) == (p.gpu, p.gpus_per_node)) {
                continue;
            }
            let jobs: Vec<(u32, f64, Vec<f64>)> = s
                .models
                .iter()
                .enumerate()
                .filter_map(|(m, model)| {
                    let speed = model.speed[p.gpu]?;
                    let hosted = model.min_gpus <= p.gpus_per_node && requests[m] > 0.0;
                    (hosted && !prompts[m].is_empty()).then(|| {
                        let seconds = prompts[m]
                            .iter()
                            .map(|&x| x / speed.prefill_tokens_per_s)
                            .collect();
                        (model.min_gpus, requests[m], seconds)
                    })
                })
                .collect();
            let idle = GroupIdle::new(p.gpus_per_node, &jobs, Self::ARRIVAL_SCV, n, &mut rng);
            if idle.any() {
                out.push((p.gpu, p.gpus_per_node, idle));
            }
        }
        out
    }
}

/// A request of [`GroupIdle`]'s simulation: its arrival time at unit arrival rate, its job,
/// and the busy GPU-seconds of its prefill (seconds drawn from the job's sample times its group
/// size).
type Drawn = (f64, usize, f64);

/// About `n` requests of `jobs`, each job arriving in its own stream at its share of the unit
/// rate with Gamma gaps of squared coefficient of variation `ca2` (the discrete-event round robin
/// is per model: a node takes every k-th request of each model's stream, so the models'
/// arrivals interleave, which a mix drawn request by request would not), merged by time.
fn draw_sequence(
    jobs: &[(u32, f64, Vec<f64>)],
    ca2: f64,
    n: usize,
    rng: &mut impl rand::Rng,
) -> Vec<Drawn> {
    use rand_distr::Distribution;
    let total_share: f64 = jobs.iter().map(|j| j.1).sum();
    let shape = 1.0 / ca2.clamp(1e-3, 1.0);
    let mut sequence = Vec::with_capacity(n + jobs.len());
    for (job, (k, share, sample)) in jobs.iter().enumerate() {
        let rate = share / total_share;
        let Ok(gap) = rand_distr::Gamma::new(shape, 1.0 / (shape * rate)) else {
            continue;
        };
        // The stream starts at a uniform phase of its first gap.
        let mut t = -rng.gen::<f64>() / rate;
        for _ in 0..(n as f64 * rate).round() as usize {
            t += gap.sample(rng);
            let busy = f64::from(*k) * sample[rng.gen_range(0..sample.len())];
            sequence.push((t, job, busy));
        }
    }
    sequence.sort_by(|a, b| a.0.total_cmp(&b.0));
    sequence
}

/// One run of [`GroupIdle`]'s rule over `sequence` at utilisation `rho`: lost over busy
/// GPU-seconds, the first tenth of the requests left out (warm-up).
fn simulate_groups(gpus: u32, jobs: &[(u32, f64, Vec<f64>)], sequence: &[Drawn], rho: f64) -> f64 {
    // Busy GPU-seconds per request, from the sequence's own draws.
    let busy_per_request = sequence.iter().map(|d| d.2).sum::<f64>() / sequence.len().max(1) as f64;
    if !(busy_per_request > 0.0 && rho > 0.0) {
        return 0.0;
    }
    let seconds_per_unit = busy_per_request / (rho * f64::from(gpus));
    let mut free = vec![0.0_f64; gpus as usize];
    let (mut lost, mut busy) = (0.0, 0.0);
    let warm_up = sequence.len() / 10;
    for (i, &(at, job, busy_gpu_s)) in sequence.iter().enumerate() {
        let t = at * seconds_per_unit;
        let k = jobs[job].0 as usize;
        let service = busy_gpu_s / k as f64;
        let (mut best, mut free_at) = (0, f64::INFINITY);
        for (g, group) in free.chunks_exact(k).enumerate() {
            let m = group.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if m < free_at {
                (best, free_at) = (g, m);
            }
        }
        let start = t.max(free_at);
        let group = &mut free[best * k..(best + 1) * k];
        if i >= warm_up {
            lost += group.iter().map(|&f| start - t.max(f)).sum::<f64>();
            busy += busy_gpu_s;
        }
        group.fill(start + service);
    }
    if busy > 0.0 {
        lost / busy
    } else {
        0.0
    }
}

/// Mean wait per second of mean service at utilisation `rho` (< 1) of an M/M/c queue with `c`
/// servers: Erlang C's probability of waiting over `c (1 - rho)`; without the `(1 + cs^2) / 2`
/// variability factor (Allen-Cunneen) it takes for M/G/c, with which it is exact for c = 1.
pub fn mmc_wait_per_service(rho: f64, c: u32) -> f64 {
    let c = c.max(1);
    if rho <= 0.0 {
        return 0.0;
    }
    let a = rho * f64::from(c);
    // sum_{k < c} a^k / k! and a^c / c!, as terms of one running product.
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho);
    let waiting = last / (sum + last);
    waiting / (f64::from(c) * (1.0 - rho))
}

/// The exact mean wait of a GI/M/1 queue at utilisation `rho` (< 1) whose inter-arrival times
/// are Gamma distributed with squared coefficient of variation `ca2` (shape `k = 1 / ca2`;
/// Erlang-k for integer k: the gaps a round robin over k nodes leaves between a node's requests
/// of a Poisson stream), per second of mean service: `sigma / (1 - sigma)`, sigma the root in
/// (0, 1) of GI/M/1's `sigma = A(sigma) = (k rho / (k rho + 1 - sigma))^k` (the Laplace
/// transform of the inter-arrival time at `1 - sigma`, in units of the mean service). `A` is
/// convex, so Newton's method on `sigma - A(sigma)` from 0 climbs to the root without passing
/// it. `ca2 = 1` is M/M/1, `rho / (1 - rho)`.
pub fn gamma_arrivals_wait_per_service(rho: f64, ca2: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let rho = rho.min(1.0 - 1e-9);
    let k = 1.0 / ca2.max(1e-6);
    let kr = k * rho;
    let mut sigma = 0.0_f64;
    for _ in 0..200 {
        let a = (kr / (kr + 1.0 - sigma)).powf(k);
        let slope = k * a / (kr + 1.0 - sigma);
        let next = sigma + (a - sigma) / (1.0 - slope);
        if !next.is_finite() || next >= 1.0 {
            break;
        }
        let done = (next - sigma).abs() <= 1e-15 * next.max(1e-300);
        sigma = next;
        if done {
            break;
        }
    }
    sigma / (1.0 - sigma)
}

/// The arrivals' part of the variability factor at utilisation `rho`: the `x` in Allen-Cunneen's
/// `(x + cs^2) / 2` that makes the formula exact for exponential service (`cs^2 = 1`) and
/// Gamma arrivals of `ca2` at one lane, `2 W / W_M/M/1 - 1` with `W` the exact
/// [`gamma_arrivals_wait_per_service`]. It is `ca2` in heavy traffic (Kingman) and 1 for Poisson
/// arrivals (Pollaczek-Khinchine), and it falls below `ca2` in light traffic, where smooth
/// arrivals rarely find the lane busy (Kraemer and Langenbach-Belz's correction, measured 2-5%
/// above the exact E8/M/1 wait, reads the same effect from a fitted exponential).
pub fn arrival_variability(rho: f64, ca2: f64) -> f64 {
    if rho <= 0.0 || (ca2 - 1.0).abs() < 1e-12 {
        return 1.0;
    }
    let rho = rho.min(1.0 - 1e-9);
    2.0 * gamma_arrivals_wait_per_service(rho, ca2) * (1.0 - rho) / rho - 1.0
}

/// The prefill lanes of one node pool, as a [`WaitCurve`] of its GPU kind sees them.
#[derive(Debug, Clone, Copy)]
pub struct PoolLanes<'a> {
    /// Prefill lanes per node (the node's GPUs over the model's group size).
    pub lanes: u32,
    /// Share of the kind's requests of the model the pool takes.
    pub weight: f64,
    /// Squared coefficient of variation of a node's inter-arrival times.
    pub arrival_scv: f64,
    /// The pool's prefill utilisation over its kind's.
    pub load_factor: f64,
    /// The GPU time its nodes lose to prefill groups.
    pub lost: &'a GroupIdle,
}

/// The mean wait of the pools of one GPU kind serving one model, per second of the model's mean
/// prefill on that kind, as a function of the kind's prefill utilisation. Tabulated as
/// `h(rho) = wait x (1 - rho)`, which is smooth and bounded (Erlang C is a probability), and
/// divided by `1 - rho` when read, so that a few points interpolate it closely.
#[derive(Debug, Clone, Default)]
pub struct WaitCurve {
    /// `h` at `rho = i x knee / (POINTS - 1)`; empty: no wait (the kind hosts none).
    table: Vec<f64>,
    /// `(POINTS - 1) / knee`.
    per_step: f64,
    knee: f64,
    value_at_knee: f64,
    slope_at_knee: f64,
}

impl WaitCurve {
    /// The curve of `pools`, each taking [`PoolLanes::weight`] of the kind's requests (weights
    /// sum to 1), each of its nodes seeing arrivals whose squared coefficient of variation of
    /// inter-arrival times is [`PoolLanes::arrival_scv`], at [`PoolLanes::load_factor`] times
    /// the kind's utilisation (the balancer's shares need not keep every pool of a kind equally
    /// busy), plus the GPU time it loses to prefill groups ([`PoolLanes::lost`]: its lanes are
    /// as busy as at `u (1 + lost(u))`, u its utilisation);
    /// `service_scv` is that of the prefill time and `mean_service_s` its mean, which with the
    /// epoch length `epoch_s` sets the knee: `(1 - sqrt(mean_service_s / epoch_s))^2` (where an
    /// M/M/1 queue's relaxation time, about `service / (1 - sqrt(rho))^2`, reaches the epoch),
    /// within [0.5, 0.999] for the busiest pool (its lanes' utilisation, lost time counted).
    /// The wait of a pool is Allen-Cunneen's, `(ca^2 + cs^2) / 2` times the M/M/c wait at its
    /// lanes' utilisation, with `ca^2` read through [`arrival_variability`].
    pub fn new(
        pools: &[PoolLanes<'_>],
        service_scv: f64,
        mean_service_s: f64,
        epoch_s: f64,
    ) -> Self {
        if pools.is_empty() || mean_service_s.is_nan() || mean_service_s <= 0.0 {
            return WaitCurve::default();
        }
        let lanes_knee = (1.0 - (mean_service_s / epoch_s).sqrt())
            .powi(2)
            .clamp(0.5, 0.999);
        // Per pool, the utilisation u at which u (1 + lost(u)) reaches the lanes' knee (a
        // fixed point: the lost share is a few percent and changes slowly); the kind's knee is
        // the first pool's to get there.
        let knee = pools
            .iter()
            .filter(|p| p.load_factor > 0.0)
            .map(|p| {
                let mut u = lanes_knee;
                for _ in 0..8 {
                    u = lanes_knee / (1.0 + p.lost.at(u));
                }
                u / p.load_factor
            })
            .fold(f64::INFINITY, f64::min);
        if !knee.is_finite() {
            return WaitCurve::default();
        }
        let cs2 = service_scv.max(0.0);
        // A pool's wait per second of mean service at its utilisation u with arrivals of
        // squared coefficient of variation ca2: Allen-Cunneen at its lanes' utilisation, the
        // time lost to prefill groups counted as busy.
        let lanes_wait = |p: &PoolLanes, u: f64, ca2: f64| -> f64 {
            let rho = u * (1.0 + p.lost.at(u));
            let variability = (arrival_variability(rho, ca2.max(0.0)) + cs2).max(0.0) / 2.0;
            variability * mmc_wait_per_service(rho, p.lanes)
        };
        let value = |rho: f64| -> f64 {
            pools
                .iter()
                .map(|p| p.weight * lanes_wait(p, rho * p.load_factor.max(0.0), p.arrival_scv))
                .sum::<f64>()
        };
        let table = (0..POINTS)
            .map(|i| {
                let rho = knee * i as f64 / (POINTS - 1) as f64;
                value(rho) * (1.0 - rho)
            })
            .collect();
        // The tangent's slope (central difference; the busiest pool's knee is at most 0.999).
        let busiest = pools
            .iter()
            .map(|p| p.load_factor)
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let step = 1e-7 / busiest;
        let slope_at_knee = (value(knee + step) - value(knee - step)) / (2.0 * step);
        WaitCurve {
            table,
            per_step: (POINTS - 1) as f64 / knee,
            knee,
            value_at_knee: value(knee),
            slope_at_knee,
        }
    }

    /// The wait per second of mean prefill at prefill utilisation `rho` (at least 0): `h`
    /// linear between tabulated points, over `1 - rho`, up to the knee; along the tangent
    /// beyond it.
    #[inline]
    pub fn at(&self, rho: f64) -> f64 {
        let Ok(table) = <&[f64; POINTS]>::try_from(self.table.as_slice()) else {
            return 0.0;
        };
        read(
            table,
            self.per_step,
            self.knee,
            self.value_at_knee,
            self.slope_at_knee,
            rho,
        )
    }

    /// Where the curve leaves the M/G/c form for its tangent.
    pub fn knee(&self) -> f64 {
        self.knee
    }
}

/// Many [`WaitCurve`]s side by side (for the fluid simulator's inner loop: each curve's table
/// and knee in one block, no pointer to follow), read by index.
#[derive(Debug, Clone, Default)]
pub struct WaitTables {
    curves: Vec<Tabulated>,
}

/// One curve of [`WaitTables`]: its `h` at the `POINTS` utilisations, then `per_step`, `knee`,
/// `value_at_knee` and `slope_at_knee` (a fixed-size table: reading it needs no bounds check).
#[derive(Debug, Clone)]
struct Tabulated {
    h: [f64; POINTS],
    per_step: f64,
    knee: f64,
    value_at_knee: f64,
    slope_at_knee: f64,
}

impl WaitTables {
    /// The curves, in order (an empty curve reads 0 everywhere).
    pub fn new(curves: &[WaitCurve]) -> Self {
        let curves = curves
            .iter()
            .map(|c| match <[f64; POINTS]>::try_from(c.table.as_slice()) {
                Ok(h) => Tabulated {
                    h,
                    per_step: c.per_step,
                    knee: c.knee,
                    value_at_knee: c.value_at_knee,
                    slope_at_knee: c.slope_at_knee,
                },
                Err(_) => Tabulated {
                    h: [0.0; POINTS],
                    per_step: 0.0,
                    knee: f64::INFINITY,
                    value_at_knee: 0.0,
                    slope_at_knee: 0.0,
                },
            })
            .collect();
        WaitTables { curves }
    }

    /// [`WaitCurve::at`] of curve `k`.
    #[inline]
    pub fn at(&self, k: usize, rho: f64) -> f64 {
        let c = &self.curves[k];
        read(
            &c.h,
            c.per_step,
            c.knee,
            c.value_at_knee,
            c.slope_at_knee,
            rho,
        )
    }
}

/// A curve's wait at `rho` from its `POINTS` values of `h` and its knee: `h` linear between
/// points over `1 - rho` below the knee, the tangent beyond it.
#[inline(always)]
fn read(
    h: &[f64; POINTS],
    per_step: f64,
    knee: f64,
    value_at_knee: f64,
    slope_at_knee: f64,
    rho: f64,
) -> f64 {
    if rho >= knee {
        return value_at_knee + slope_at_knee * (rho - knee);
    }
    let x = rho.max(0.0) * per_step;
    let i = (x as u32).min(POINTS as u32 - 2) as usize;
    let t = x - i as f64;
    let (a, b) = (h[i], h[i + 1]);
    (a + t * (b - a)) / (1.0 - rho)
}

/// The mean over an epoch of a fluid backlog that starts at `start` and changes at a constant
/// rate by `net` over the epoch, never below 0 (`b(t) = max(0, start + net t)`, `t` in [0, 1]):
/// `start + net / 2` while it stays positive, else the triangle until it drains,
/// `start^2 / (-2 net)`. Continuous in both arguments.
#[inline]
pub fn mean_backlog(start: f64, net: f64) -> f64 {
    if start + net >= 0.0 {
        start + net / 2.0
    } else {
        start * start / (-2.0 * net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lanes that lose nothing to prefill groups.
    fn lanes(lanes: u32, weight: f64, arrival_scv: f64, load_factor: f64) -> PoolLanes<'static> {
        PoolLanes {
            lanes,
            weight,
            arrival_scv,
            load_factor,
            lost: GroupIdle::none(),
        }
    }

    /// Erlang C by its textbook recursion on the Erlang B formula, for the comparison below.
    fn erlang_c(c: u32, rho: f64) -> f64 {
        let a = rho * f64::from(c);
        let mut b = 1.0;
        for k in 1..=c {
            b = a * b / (f64::from(k) + a * b);
        }
        b / (1.0 - rho * (1.0 - b))
    }

    #[test]
    fn one_lane_is_mm1_and_more_lanes_are_erlang_c() {
        for rho in [0.1, 0.5, 0.8, 0.95] {
            let mm1 = rho / (1.0 - rho);
            assert!((mmc_wait_per_service(rho, 1) - mm1).abs() < 1e-12 * mm1.max(1.0));
            for c in [2, 4, 8] {
                let exact = erlang_c(c, rho) / (f64::from(c) * (1.0 - rho));
                let ours = mmc_wait_per_service(rho, c);
                assert!(
                    (ours - exact).abs() <= 1e-9 * exact,
                    "c {c} rho {rho}: {ours} vs {exact}"
                );
            }
        }
        // More lanes at the same utilisation wait less.
        assert!(mmc_wait_per_service(0.8, 8) < mmc_wait_per_service(0.8, 2));
    }

    /// The mean wait of a single-server queue by Lindley's recursion over `n` customers: Gamma
    /// inter-arrival times of shape `k` (sums of k exponential gaps; k integer) and exponential
    /// services of mean 1, at utilisation `rho`; a fixed-seed xorshift stream, so that the test
    /// is repeatable.
    fn lindley_wait(k: u32, rho: f64, n: usize) -> f64 {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut exponential = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            -(1.0 - u).ln()
        };
        let (mut wait, mut sum) = (0.0_f64, 0.0);
        for _ in 0..n {
            sum += wait;
            let gap = (0..k).map(|_| exponential()).sum::<f64>() / (f64::from(k) * rho);
            wait = (wait + exponential() - gap).max(0.0);
        }
        sum / n as f64
    }

    #[test]
    fn gamma_arrivals_wait_is_m_m_1_for_poisson_and_gi_m_1_otherwise() {
        for rho in [0.3, 0.7, 0.9] {
            let mm1 = rho / (1.0 - rho);
            assert!((gamma_arrivals_wait_per_service(rho, 1.0) - mm1).abs() < 1e-9 * mm1);
            assert_eq!(arrival_variability(rho, 1.0), 1.0);
            let two = gamma_arrivals_wait_per_service(rho, 0.5);
            let eight = gamma_arrivals_wait_per_service(rho, 0.125);
            assert!(eight < two && two < mm1, "{rho}: {eight} {two} {mm1}");
            // Heavy traffic: the arrivals' part tends to ca^2 (Kingman).
            assert!(arrival_variability(rho, 0.125) < 1.0);
        }
        assert!((arrival_variability(0.9999, 0.125) - 0.125).abs() < 1e-3);
        // E2/M/1 at rho = 0.5: sigma = (1 / (2 - sigma))^2 has the root (3 - sqrt 5) / 2.
        let sigma = (3.0 - 5f64.sqrt()) / 2.0;
        let exact = sigma / (1.0 - sigma);
        assert!((gamma_arrivals_wait_per_service(0.5, 0.5) - exact).abs() < 1e-12);
        // Against Lindley's recursion, for Erlang-4 arrivals.
        for rho in [0.5, 0.8] {
            let simulated = lindley_wait(4, rho, 2_000_000);
            let theory = gamma_arrivals_wait_per_service(rho, 0.25);
            assert!(
                (simulated / theory - 1.0).abs() < 0.03,
                "{rho}: {simulated} vs {theory}"
            );
        }
    }

    #[test]
    fn the_curve_is_continuous_and_increasing_past_its_knee() {
        let curve = WaitCurve::new(
            &[lanes(1, 0.5, 1.0, 1.0), lanes(4, 0.5, 1.0, 1.0)],
            1.0,
            0.5,
            900.0,
        );
        let (mut previous, mut rho) = (curve.at(0.0), 0.0);
        assert_eq!(previous, 0.0);
        while rho < 1.5 {
            rho += 1e-4;
            let v = curve.at(rho);
            assert!(v >= previous, "not increasing at {rho}");
            assert!(v - previous < 0.1, "jump at {rho}: {previous} -> {v}");
            previous = v;
        }
        let exact = 0.5 * (0.6 / 0.4) + 0.5 * mmc_wait_per_service(0.6, 4);
        assert!((curve.at(0.6) - exact).abs() < 1e-3 * exact);
        assert!(curve.knee() > 0.9 && curve.knee() < 0.999);
        assert_eq!(WaitCurve::default().at(0.7), 0.0);
        let tables = WaitTables::new(&[WaitCurve::default(), curve.clone()]);
        for rho in [0.0, 0.3, 0.6, 0.95, 1.2] {
            assert_eq!(tables.at(0, rho), 0.0);
            assert_eq!(tables.at(1, rho), curve.at(rho));
        }
    }

    #[test]
    fn a_busier_pool_waits_as_at_its_own_utilisation() {
        let alone = WaitCurve::new(&[lanes(2, 1.0, 0.01, 1.0)], 1.0, 0.5, 900.0);
        let busier = WaitCurve::new(&[lanes(2, 1.0, 0.01, 1.2)], 1.0, 0.5, 900.0);
        for rho in [0.2, 0.5, 0.7] {
            let (a, b) = (alone.at(1.2 * rho), busier.at(rho));
            assert!((a - b).abs() <= 2e-3 * a, "{rho}: {a} vs {b}");
        }
        // Its knee comes as much sooner in the kind's utilisation.
        assert!((busier.knee() * 1.2 - alone.knee()).abs() < 1e-12);
    }

    #[test]
    fn lanes_that_lose_time_wait_as_busier_lanes() {
        // A pool that loses 5% of its busy time (from utilisation 0.3 on) waits as a lossless
        // one at 1.05 times its utilisation, and reaches its knee 1.05 times sooner.
        let lost = GroupIdle {
            lost: vec![0.05; GroupIdle::AT.len()],
        };
        let lossy = WaitCurve::new(
            &[PoolLanes {
                lost: &lost,
                ..lanes(2, 1.0, 0.01, 1.0)
            }],
            1.0,
            0.5,
            900.0,
        );
        let lossless = WaitCurve::new(&[lanes(2, 1.0, 0.01, 1.0)], 1.0, 0.5, 900.0);
        for rho in [0.3, 0.5, 0.7, 0.85] {
            let (a, b) = (lossless.at(1.05 * rho), lossy.at(rho));
            assert!((a - b).abs() <= 2e-3 * a, "{rho}: {a} vs {b}");
        }
        assert!((lossy.knee() * 1.05 - lossless.knee()).abs() < 1e-9);
    }

    #[test]
    fn one_pair_loses_the_small_prefills_share_in_heavy_traffic() {
        // Two GPUs, exponential prefills: small ones (one GPU, mean 0.1 s) for 70% of the
        // requests, large ones (the pair, mean 0.5 s) for 30%. In heavy traffic both GPUs are
        // busy; each small prefill unsettles the pair by an exponential time, and a large one
        // waits that long on one GPU: lost time per large prefill = mean small x share of small
        // requests (0.1 x 0.7), busy time per request 0.7 x 0.1 + 0.3 x 2 x 0.5 = 0.37.
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let exp = |mean: f64, rng: &mut rand_chacha::ChaCha8Rng| -> Vec<f64> {
            use rand::Rng;
            (0..4000)
                .map(|_| -mean * (1.0 - rng.gen::<f64>()).ln())
                .collect()
        };
        let jobs = vec![(1, 0.7, exp(0.1, &mut rng)), (2, 0.3, exp(0.5, &mut rng))];
        let idle = GroupIdle::new(2, &jobs, 1.0, 200_000, &mut rng);
        let heavy = 0.3 * 0.1 * 0.7 / 0.37;
        let at = idle.at(0.98);
        assert!(at > 0.8 * heavy && at < 1.05 * heavy, "{at} vs {heavy}");
        assert!(idle.at(0.5) < idle.at(0.9) && idle.at(0.9) < at);
        assert!(idle.at(0.0) == 0.0);
        // One group size: nothing lost.
        let same = GroupIdle::new(2, &[(2, 1.0, exp(0.5, &mut rng))], 1.0, 1000, &mut rng);
        assert_eq!(same.at(0.9), 0.0);
    }

    #[test]
    fn mean_backlog_matches_the_integral() {
        for (start, net) in [
            (0.0, 1.0),
            (2.0, 1.0),
            (2.0, -1.0),
            (1.0, -4.0),
            (0.0, -1.0),
        ] {
            let n = 100_000;
            let numeric: f64 = (0..n)
                .map(|i| (start + net * (i as f64 + 0.5) / n as f64).max(0.0))
                .sum::<f64>()
                / n as f64;
            assert!(
                (mean_backlog(start, net) - numeric).abs() < 1e-6,
                "{start} {net}"
            );
        }
    }
}
