//! Geo mode: the datacenters of a geo scenario as the load balancer's servers, so the same
//! agents and baselines route requests across datacenters and their routing becomes a
//! [`FractionPlan`] that the shared simulator scores.
//!
//! Each datacenter is one server. Its token rate is what its GPUs sustain for the demand's mean
//! request of each class (prefill plus batched decode, [`Scenario::busy_gpu_s`]), weighted by the
//! classes' request shares; its concurrency is its instances' KV-cache batch slots for that mean
//! request ([`Scenario::instance_batch`]). Both are taken at `node_share` of the nodes, the share
//! at which the requests are drawn ([`Scenario::draw_requests`]), so the load is the scenario's.
//! The load balancer sees load only: network latency, carbon, water and price are not in its
//! observation or reward (that is the single-agent paper's design); the simulator scores them.

use std::sync::Arc;

use super::env::{LbEnv, LbEnvConfig};
use super::metrics::EpisodeMetrics;
use super::policy::LbPolicy;
use super::workload::LbWorkload;
use crate::allocator::{AllocError, Allocator, Problem};
use crate::features::{request_features, FeatureMatrix, RobustScaler};
use crate::scenario::lb::{CapacityModel, RewardParams, Server};
use crate::scenario::Scenario;
use crate::sim::{FractionPlan, PlanError};
use crate::trace::Trace;

/// A geo scenario's requests and datacenters in the load balancer's terms.
#[derive(Debug, Clone)]
pub struct GeoRouting {
    /// The day's drawn requests, with their scaled features.
    pub workload: Arc<LbWorkload>,
    /// The datacenters as servers.
    pub config: LbEnvConfig,
    epochs: usize,
    origins: usize,
    classes: usize,
    epoch_s: f64,
    node_share: f64,
    scaler: RobustScaler,
}

impl GeoRouting {
    /// Draws the day's requests at `node_share` of the nodes (with `rng`) and derives each
    /// datacenter's server; `slo_s` is the response-time SLO of the reward and the metrics.
    pub fn new(
        scenario: &Scenario,
        node_share: f64,
        queue_capacity: usize,
        slo_s: f64,
        reward: RewardParams,
        rng: &mut impl rand::Rng,
    ) -> Result<Self, String> {
        if !(node_share.is_finite() && node_share > 0.0 && node_share <= 1.0) {
            return Err(format!("node share must be in (0, 1], got {node_share}"));
        }
        let d = &scenario.demand;
        let classes = scenario.classes.len();
        let mut requests = vec![0.0; classes];
        let mut input = vec![0.0; classes];
        let mut output = vec![0.0; classes];
        for c in 0..classes {
            for e in 0..d.epochs() {
                for o in 0..d.origins() {
                    requests[c] += d.requests(o, c, e);
                    input[c] += d.input_tokens(o, c, e);
                    output[c] += d.output_tokens(o, c, e);
                }
            }
        }
        let total: f64 = requests.iter().sum();
        if total <= 0.0 {
            return Err(format!("scenario {} has no demand to route", scenario.name));
        }
        let mut servers = Vec::with_capacity(scenario.datacenters.len());
        for dc in &scenario.datacenters {
            let (mut tokens_per_s, mut slots) = (0.0, 0.0);
            for (c, class) in scenario.classes.iter().enumerate() {
                let Some(m) = class.model else { continue };
                if requests[c] <= 0.0 {
                    continue;
                }
                let weight = requests[c] / total;
                let (mean_in, mean_out) = (input[c] / requests[c], output[c] / requests[c]);
                let mean_tokens = mean_in + mean_out;
                for pool in &dc.node_pools {
                    let gpus = f64::from(pool.nodes) * node_share * f64::from(pool.gpus_per_node);
                    if let Some((prefill, decode)) =
                        scenario.busy_gpu_s(m, pool, mean_in, mean_out, mean_tokens)
                    {
                        let gpu_s = prefill + decode;
                        if gpu_s > 0.0 {
                            tokens_per_s += weight * gpus / gpu_s * mean_tokens;
                        }
                        slots += weight
                            * scenario.instances(pool, m) as f64
                            * node_share
                            * scenario.instance_batch(m, pool, mean_tokens);
                    }
                }
            }
            if tokens_per_s.is_nan() || tokens_per_s <= 0.0 {
                return Err(format!(
                    "datacenter {} has no GPU that serves the demand's models",
                    dc.name
                ));
            }
            servers.push(Server {
                name: dc.name.clone(),
                tokens_per_s,
                concurrency: slots.round().clamp(1.0, f64::from(u32::MAX)) as u32,
            });
        }
        let config = LbEnvConfig {
            servers,
            queue_capacity,
            slo_s,
            capacity_model: CapacityModel::Shared,
            reward,
            episode_requests: None,
        };
        Self::routing(scenario, node_share, config, None, rng)
    }

    /// The same servers and feature scaling routing another scenario's requests (a scenario's
    /// held-out test days), drawn at the same node share with `rng`: what a policy trained on
    /// this routing meets on days it has not seen.
    pub fn held_out(&self, scenario: &Scenario, rng: &mut impl rand::Rng) -> Result<Self, String> {
        if scenario.datacenters.len() != self.config.servers.len() {
            return Err(format!(
                "scenario {} has {} datacenters, the routing {}",
                scenario.name,
                scenario.datacenters.len(),
                self.config.servers.len()
            ));
        }
        Self::routing(
            scenario,
            self.node_share,
            self.config.clone(),
            Some(&self.scaler),
            rng,
        )
    }

    /// `scenario`'s requests drawn at `node_share` for `config`'s servers, their features scaled
    /// by `scaler` or by a scaler fitted on them.
    fn routing(
        scenario: &Scenario,
        node_share: f64,
        config: LbEnvConfig,
        scaler: Option<&RobustScaler>,
        rng: &mut impl rand::Rng,
    ) -> Result<Self, String> {
        let drawn = scenario.draw_requests(node_share, rng);
        if drawn.is_empty() {
            return Err(format!(
                "node share {node_share} draws no requests from scenario {}",
                scenario.name
            ));
        }
        let trace = Trace {
            source: scenario.name.clone(),
            start_unix_s: Some(scenario.time.start_unix_s),
            class_names: scenario.classes.iter().map(|c| c.name.clone()).collect(),
            requests: drawn,
        };
        let mut features = request_features(&trace);
        let scaler = match scaler {
            Some(s) => s.clone(),
            None => RobustScaler::fit(&features, features.rows),
        };
        scaler.transform(&mut features);
        let features: Vec<f32> = features.data.iter().map(|&x| x as f32).collect();
        debug_assert_eq!(features.len(), trace.len() * FeatureMatrix::COLUMNS);
        Ok(GeoRouting {
            workload: Arc::new(LbWorkload::from_parts(
                format!("{} (geo)", scenario.name),
                trace.requests,
                features,
            )),
            config,
            epochs: scenario.time.epochs,
            origins: scenario.origins.len(),
            classes: scenario.classes.len(),
            epoch_s: scenario.time.epoch_s,
            node_share,
            scaler,
        })
    }

    /// Routes the day's requests with `policy` and turns the choices into fractions per (epoch,
    /// origin, class), with the routing episode's metrics. A cell without drawn requests takes the routing of its (epoch, class) over
    /// all origins, else of its epoch, else an even split.
    pub fn plan(
        &self,
        policy: &mut dyn LbPolicy,
        seed: u64,
    ) -> Result<(FractionPlan, EpisodeMetrics), PlanError> {
        let nd = self.config.servers.len();
        let (ne, no, nc) = (self.epochs, self.origins, self.classes);
        let mut counts = vec![0.0f64; ne * no * nc * nd];
        let mut env = LbEnv::new(self.workload.clone(), self.config.clone());
        env.reset(seed);
        policy.reset(seed);
        let mut k = 0;
        while !env.is_done() {
            let a = policy.choose(&env);
            let r = self.workload.requests[k];
            let e = ((r.arrival_s / self.epoch_s) as usize).min(ne.saturating_sub(1));
            let (o, c) = (usize::from(r.origin), usize::from(r.class));
            if o < no && c < nc {
                counts[((e * no + o) * nc + c) * nd + a] += 1.0;
            }
            env.step(a);
            k += 1;
        }
        let metrics = EpisodeMetrics::of(&env);
        let cell = |e: usize, o: usize, c: usize| &counts[((e * no + o) * nc + c) * nd..][..nd];
        let plan = FractionPlan::from_fn(ne, no, nc, nd, |e, o, c, d| {
            let own = cell(e, o, c);
            let own_total: f64 = own.iter().sum();
            if own_total > 0.0 {
                return own[d] / own_total;
            }
            let mut by_class = vec![0.0; nd];
            let mut by_epoch = vec![0.0; nd];
            for o2 in 0..no {
                for c2 in 0..nc {
                    for (j, v) in cell(e, o2, c2).iter().enumerate() {
                        by_epoch[j] += v;
                        if c2 == c {
                            by_class[j] += v;
                        }
                    }
                }
            }
            for v in [&by_class, &by_epoch] {
                let t: f64 = v.iter().sum();
                if t > 0.0 {
                    return v[d] / t;
                }
            }
            1.0 / nd as f64
        })?;
        Ok((plan, metrics))
    }
}

/// A load-balancing policy as an [`Allocator`]: it routes the day's drawn requests of a
/// [`GeoRouting`] (episode seed `seed`) and the routing becomes the plan. The routing episode's
/// own metrics (the load balancer's model, not the simulator's) are kept in
/// [`GeoRouter::episode`].
pub struct GeoRouter<'p> {
    name: String,
    routing: &'p GeoRouting,
    policy: Box<dyn LbPolicy + 'p>,
    seed: u64,
    /// The last routing episode's metrics.
    pub episode: Option<EpisodeMetrics>,
}

impl<'p> GeoRouter<'p> {
    /// `policy` routing `routing`'s requests with episode seed `seed`, called `name`.
    pub fn new(
        name: impl Into<String>,
        routing: &'p GeoRouting,
        policy: Box<dyn LbPolicy + 'p>,
        seed: u64,
    ) -> Self {
        GeoRouter {
            name: name.into(),
            routing,
            policy,
            seed,
            episode: None,
        }
    }
}

impl Allocator for GeoRouter<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn allocate(&mut self, _: &Problem) -> Result<FractionPlan, AllocError> {
        let (plan, episode) = self.routing.plan(self.policy.as_mut(), self.seed)?;
        self.episode = Some(episode);
        Ok(plan)
    }
}
