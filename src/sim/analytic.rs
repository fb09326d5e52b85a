//! Checks of both fidelities against queueing theory, on worlds small enough for it to give the
//! answer (`verdant validate` reports them; tests assert them).
//!
//! The world: one origin, one datacenter of one single-GPU node (one prefill lane), one model
//! whose memory never binds and whose decode is negligible, no network delay; one epoch as long
//! as the requests take. Prompt lengths follow an exponential distribution (its quantiles, rounded up
//! to whole tokens), so prefill times are nearly exponential, and arrivals are uniform in the
//! epoch given their number (a Poisson process). Then:
//! - below saturation the node is an M/G/1 queue whose mean wait is Pollaczek-Khinchine's
//!   `rho S (1 + cs^2) / (2 (1 - rho))` (S the mean prefill, cs^2 its squared coefficient of
//!   variation, both of the prompt-length sample);
//! - above it, the node serves `1 / S` requests per second: its throughput is its capacity;
//! - with `k` such nodes behind the round robin, each node receives every k-th request: Erlang-k
//!   inter-arrival times, and with (nearly) exponential prefills an E_k/M/1 queue, whose exact
//!   mean wait is GI/M/1's `sigma S / (1 - sigma)`, sigma the root of
//!   `sigma = (k rho / (k rho + 1 - sigma))^k` ([`gamma_arrivals_wait_per_service`], which the
//!   fluid wait reads its arrivals' variability from: with exponential service it is exact).

use super::des::DiscreteEventSimulator;
use super::queue::gamma_arrivals_wait_per_service;
use super::{FractionPlan, SimParams};
use crate::scenario::*;
use crate::seed::MasterSeed;
use crate::trace::{EpochDemand, Request};

/// Prefill speed of the check's node, tokens per second.
const PREFILL_TOKENS_PER_S: f64 = 1000.0;
/// Mean prompt length, tokens (a mean prefill of 0.5 s).
const MEAN_PROMPT_TOKENS: f64 = 500.0;
/// Prompt lengths in the world's sample.
const SAMPLE: usize = 20_000;

/// One analytic check: what theory gives and what each fidelity gives.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticCheck {
    /// What is checked, in words.
    pub name: String,
    /// Offered load (arrival rate x mean prefill).
    pub load: f64,
    /// Unit of the three values.
    pub unit: &'static str,
    /// Queueing theory's value.
    pub theory: f64,
    /// The fluid simulator's.
    pub fluid: f64,
    /// The discrete-event simulator's.
    pub discrete_event: f64,
}

impl AnalyticCheck {
    /// `|fidelity - theory| / theory` of the fluid and of the discrete-event simulator.
    pub fn relative_errors(&self) -> (f64, f64) {
        let rel = |x: f64| (x - self.theory).abs() / self.theory.abs();
        (rel(self.fluid), rel(self.discrete_event))
    }

    /// Whether both fidelities are within relative `tolerance` of theory.
    pub fn passes(&self, tolerance: f64) -> bool {
        let (fluid, des) = self.relative_errors();
        des <= tolerance && fluid <= tolerance
    }
}

/// The single-lane world of `nodes` nodes, each offered `load`, with `requests` requests in the
/// first of its `epochs` epochs (the others have none). Also returns the prompt sample's mean
/// prefill (s) and the squared coefficient of variation of prefill times.
///
/// The prompt sample is the exponential distribution's quantiles at `(i + 1/2) / n` (rounded up
/// to whole tokens), not a random draw: the waits of smooth arrivals at low load come from the
/// tail of the prefill times, which a random sample of this size represents only to a few
/// percent.
pub fn single_lane_world(
    nodes: u32,
    load: f64,
    requests: usize,
    epochs: usize,
) -> Result<(Scenario, f64, f64), ScenarioError> {
    let (s, prefill) = lane_world(nodes, &[MEAN_PROMPT_TOKENS], load, requests, epochs)?;
    let (mean, second) = prefill[0];
    Ok((s, mean, second / (mean * mean) - 1.0))
}

/// The world of [`single_lane_world`] with one model (and class) per entry of `mean_prompts`,
/// their prompts exponential with those mean lengths, sharing the nodes' lanes and equally many
/// of the `requests`; `load` is the nodes' utilisation by all of them. Also returns each
/// model's mean prefill (s) and mean squared prefill (s^2).
pub fn lane_world(
    nodes: u32,
    mean_prompts: &[f64],
    load: f64,
    requests: usize,
    epochs: usize,
) -> Result<(Scenario, Vec<(f64, f64)>), ScenarioError> {
    let k = mean_prompts.len().max(1);
    let mut sample = Vec::with_capacity(SAMPLE * k);
    let mut prefill = Vec::with_capacity(k);
    for (c, &mean_prompt) in mean_prompts.iter().enumerate() {
        let prompts: Vec<u32> = (0..SAMPLE)
            .map(|i| {
                let u = (i as f64 + 0.5) / SAMPLE as f64;
                (-(1.0 - u).ln() * mean_prompt).ceil().max(1.0) as u32
            })
            .collect();
        let seconds = |x: &u32| f64::from(*x) / PREFILL_TOKENS_PER_S;
        let n = SAMPLE as f64;
        prefill.push((
            prompts.iter().map(seconds).sum::<f64>() / n,
            prompts.iter().map(|x| seconds(x).powi(2)).sum::<f64>() / n,
        ));
        sample.extend(prompts.iter().map(|&input_tokens| Request {
            arrival_s: 0.0,
            input_tokens,
            output_tokens: 1,
            class: c as u16,
            origin: 0,
            shared_prefix_tokens: 0,
        }));
    }
    let work_s: f64 = prefill.iter().map(|p| p.0).sum::<f64>() / k as f64 * requests as f64;
    let epoch_s = work_s / (load * f64::from(nodes.max(1)));
    let mut demand = EpochDemand::zeros(1, k, epochs, epoch_s);
    let r = requests as f64 / k as f64;
    for (c, p) in prefill.iter().enumerate() {
        demand.set(0, c, 0, r, p.0 * PREFILL_TOKENS_PER_S, 1.0);
    }
    // Constant grid signals over every hour of the horizon.
    let hours = (epoch_s * epochs as f64 / 3600.0).ceil() as usize + 1;
    let grid = GridSignals {
        carbon_kg_per_kwh: vec![0.5; hours],
        carbon_signal: CarbonSignal::Average,
        price_usd_per_kwh: vec![0.1; hours],
        water_l_per_kwh: vec![1.0; hours],
        onsite_wue_l_per_kwh: vec![],
        renewable_kw: vec![0.0; hours],
        grid_import_max_kw: None,
    };
    let scenario = Scenario::from_parts(ScenarioParts {
        name: format!("single-lane-{load}"),
        description: "single-lane nodes behind a round robin, Poisson arrivals".into(),
        time: TimeGrid {
            start_unix_s: 0,
            epoch_s,
            epochs,
        },
        gpus: vec![GpuKind {
            name: "G".into(),
            tdp_w: 100.0,
            memory_gb: 1000.0,
            idle_tdp_fraction: 0.1,
            weight_load_gb_per_s: 1000.0,
        }],
        models: (0..k)
            .map(|c| LlmProfile {
                name: format!("m{c}"),
                weights_gb: 1.0,
                kv_cache_mb_per_token: 0.001,
                min_gpus: 1,
                prefill_tdp_fraction: 0.9,
                decode_tdp_fraction: 0.4,
                speed: vec![Some(ModelSpeed {
                    prefill_tokens_per_s: PREFILL_TOKENS_PER_S,
                    decode_tokens_per_s: 1e9,
                })],
            })
            .collect(),
        classes: (0..k)
            .map(|c| RequestClass {
                name: format!("c{c}"),
                model: Some(c),
                energy_kwh_per_input_token: None,
                energy_kwh_per_output_token: None,
                delay_penalty_usd_per_s: None,
                resource_units_per_token: vec![],
            })
            .collect(),
        origins: vec![Origin {
            name: "o".into(),
            latitude_deg: None,
            longitude_deg: None,
        }],
        datacenters: vec![Datacenter {
            name: "dc".into(),
            latitude_deg: None,
            longitude_deg: None,
            node_pools: vec![NodePool {
                gpu: 0,
                gpus_per_node: 1,
                nodes,
            }],
            facility: Facility::Pue { pue: 1.2 },
            carbon_tax_usd_per_kg: 0.0,
            grid,
            local_balancer: LocalBalancer::WeightedRoundRobin,
            resource_capacity: vec![],
            processing_s_per_token: vec![],
        }],
        network: Network {
            round_trip_s: vec![vec![0.0]],
            bandwidth_mbps: None,
        },
        demand,
        requests: sample,
        demand_source: "a single-lane world built by hand".to_owned(),
        water_treatment: WaterTreatment {
            potable_kwh_per_m3: 0.5,
            wastewater_kwh_per_m3: 0.6,
        },
        ttft_slo_s: 1e9,
        green_llm: None,
        split: None,
    })?;
    Ok((scenario, prefill))
}

/// Both fidelities' mean wait in a world of [`lane_world`] (one epoch, every class sent to its
/// one datacenter): the fluid mean TTFT less `mean_prefill_s` (the world's), and the
/// discrete-event mean TTFT, over requests drawn from the master seed's stream `stream`, less
/// the mean prefill of those requests.
fn measured_waits(
    s: &Scenario,
    mean_prefill_s: f64,
    stream: &str,
    seed: MasterSeed,
) -> Result<(f64, f64), Box<dyn std::error::Error + Send + Sync>> {
    let plan = FractionPlan::from_fn(1, 1, s.classes.len(), 1, |_, _, _, _| 1.0)?;
    let fluid = super::fluid::FluidSimulator::new(s, SimParams::default()).score(&plan)?;
    let drawn = s.draw_requests(1.0, &mut seed.rng(stream));
    let drawn_prefill_s = drawn.iter().map(|r| f64::from(r.input_tokens)).sum::<f64>()
        / drawn.len() as f64
        / PREFILL_TOKENS_PER_S;
    let to = vec![0u16; drawn.len()];
    let des = DiscreteEventSimulator::new(s, SimParams::default()).simulate(&drawn, &to, |_| {})?;
    Ok((
        fluid.latency.mean_ttft_s - mean_prefill_s,
        des.latency.mean_ttft_s - drawn_prefill_s,
    ))
}

/// One wait check per load in `loads`: `world(load)` builds the world and gives its mean
/// prefill (s) and theory's mean wait; both fidelities are measured on it with the request stream
/// `analytic.<stream>.<i>` of `seed`.
fn wait_checks(
    name: &str,
    stream: &str,
    loads: &[f64],
    seed: MasterSeed,
    world: impl Fn(f64) -> Result<(Scenario, f64, f64), ScenarioError>,
) -> Result<Vec<AnalyticCheck>, Box<dyn std::error::Error + Send + Sync>> {
    let mut out = Vec::new();
    for (i, &load) in loads.iter().enumerate() {
        let (s, service_s, theory) = world(load)?;
        let (fluid, discrete_event) =
            measured_waits(&s, service_s, &format!("analytic.{stream}.{i}"), seed)?;
        out.push(AnalyticCheck {
            name: name.to_owned(),
            load,
            unit: "s",
            theory,
            fluid,
            discrete_event,
        });
    }
    Ok(out)
}

/// Mean wait for one lane shared by two models of short and long prompts (mean 100 and 900
/// tokens, equally many requests) at each offered load in `loads` (below 1): first in first out,
/// both wait alike, Pollaczek-Khinchine's `lambda E[S^2] / (2 (1 - rho))` of the mixture;
/// against both fidelities (mean TTFT less mean prefill, over both models).
pub fn mixed_wait_checks(
    loads: &[f64],
    requests: usize,
    seed: MasterSeed,
) -> Result<Vec<AnalyticCheck>, Box<dyn std::error::Error + Send + Sync>> {
    wait_checks(
        "M/G/1 mean wait, two models at one lane",
        "mixed",
        loads,
        seed,
        |load| {
            let (s, prefill) = lane_world(1, &[100.0, 900.0], load, requests, 1)?;
            // Requests per second of each model, and the theory's mean prefill.
            let lambda = requests as f64 / 2.0 / s.time.epoch_s;
            let second: f64 = prefill.iter().map(|p| lambda * p.1).sum();
            let service_s = (prefill[0].0 + prefill[1].0) / 2.0;
            Ok((s, service_s, second / (2.0 * (1.0 - load))))
        },
    )
}

/// Mean wait for the lane at each offered load in `loads` (each below 1), with `requests`
/// requests per run: Pollaczek-Khinchine against both fidelities (their mean TTFT less the mean
/// prefill of what they served).
pub fn mg1_wait_checks(
    loads: &[f64],
    requests: usize,
    seed: MasterSeed,
) -> Result<Vec<AnalyticCheck>, Box<dyn std::error::Error + Send + Sync>> {
    wait_checks(
        "M/G/1 mean wait for the prefill lane",
        "arrivals",
        loads,
        seed,
        |load| {
            let (s, service_s, scv) = single_lane_world(1, load, requests, 1)?;
            let theory = load * service_s * (1.0 + scv) / (2.0 * (1.0 - load));
            Ok((s, service_s, theory))
        },
    )
}

/// Mean wait for the lane of `nodes` single-lane nodes behind the round robin, each offered
/// each load in `loads` (below 1), with `requests` requests per run: the exact E_k/M/1 wait
/// against both fidelities.
pub fn round_robin_wait_checks(
    nodes: u32,
    loads: &[f64],
    requests: usize,
    seed: MasterSeed,
) -> Result<Vec<AnalyticCheck>, Box<dyn std::error::Error + Send + Sync>> {
    wait_checks(
        &format!("E{nodes}/M/1 mean wait: round robin over {nodes} nodes"),
        "round-robin",
        loads,
        seed,
        |load| {
            let (s, service_s, _) = single_lane_world(nodes, load, requests, 1)?;
            let per_service = gamma_arrivals_wait_per_service(load, 1.0 / f64::from(nodes.max(1)));
            Ok((s, service_s, per_service * service_s))
        },
    )
}

/// Throughput of the node offered `load` (above 1) times its capacity in the first of two
/// epochs, requests per second of that epoch: capacity `1 / S` in theory; the discrete-event
/// simulator's prefill completions inside the epoch; the fluid simulator's prefill GPU-seconds
/// served in it (its backlog carries the rest to the second epoch) over the mean prefill.
pub fn saturation_check(
    load: f64,
    requests: usize,
    seed: MasterSeed,
) -> Result<AnalyticCheck, Box<dyn std::error::Error + Send + Sync>> {
    let (s, service_s, _) = single_lane_world(1, load, requests, 2)?;
    let epoch_s = s.time.epoch_s;
    let plan = FractionPlan::from_fn(2, 1, 1, 1, |_, _, _, _| 1.0)?;
    let outcome = super::fluid::FluidSimulator::new(&s, SimParams::default()).score(&plan)?;
    // One GPU: the utilisation of epoch 0 is its busy share, prefill but for a negligible
    // decode (one token at 1e9 tokens per second).
    let fluid = outcome.utilisation[0] / service_s;
    let drawn = s.draw_requests(1.0, &mut seed.rng("analytic.saturation"));
    let to = vec![0u16; drawn.len()];
    let mut completed = 0usize;
    DiscreteEventSimulator::new(&s, SimParams::default()).simulate(&drawn, &to, |r| {
        // No network delay and negligible decode: the first token leaves when prefill ends.
        if !r.dropped && drawn[r.index].arrival_s + r.ttft_s <= epoch_s {
            completed += 1;
        }
    })?;
    Ok(AnalyticCheck {
        name: "throughput of a saturated node".into(),
        load,
        unit: "requests/s",
        theory: 1.0 / service_s,
        fluid,
        discrete_event: completed as f64 / epoch_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fidelities_match_queueing_theory_within_2_percent() {
        let checks = mg1_wait_checks(&[0.3, 0.5, 0.7], 400_000, MasterSeed(7)).unwrap();
        for c in &checks {
            let (fluid, des) = c.relative_errors();
            assert!(fluid < 0.02, "{c:?}");
            assert!(des < 0.02, "{c:?}");
        }
        let c = saturation_check(1.5, 200_000, MasterSeed(7)).unwrap();
        let (fluid, des) = c.relative_errors();
        assert!(fluid < 0.02 && des < 0.02, "{c:?}");
    }

    #[test]
    fn two_models_at_one_lane_wait_as_their_mixture() {
        let checks = mixed_wait_checks(&[0.3, 0.5, 0.7], 1_000_000, MasterSeed(7)).unwrap();
        for c in &checks {
            assert!(c.passes(0.02), "{c:?}");
        }
    }

    #[test]
    fn work_left_at_the_horizon_is_charged_in_full() {
        // One epoch offered half, and one and a half times, what the node serves in it: IT
        // energy is the prefill work at its TDP fraction plus the idle time at the idle
        // fraction (decode is negligible), the drain after the horizon included.
        for load in [0.5, 1.5] {
            let (s, service_s, _) = single_lane_world(1, load, 200_000, 1).unwrap();
            let plan = FractionPlan::from_fn(1, 1, 1, 1, |_, _, _, _| 1.0).unwrap();
            let fluid = crate::sim::fluid::FluidSimulator::new(&s, SimParams::default())
                .score(&plan)
                .unwrap();
            let drawn = s.draw_requests(1.0, &mut MasterSeed(3).rng("drain"));
            let to = vec![0u16; drawn.len()];
            let des = DiscreteEventSimulator::new(&s, SimParams::default())
                .simulate(&drawn, &to, |_| {})
                .unwrap();
            let (gpu, model) = (&s.gpus[0], &s.models[0]);
            let expected_kwh = |work_s: f64| {
                gpu.tdp_w
                    * (model.prefill_tdp_fraction * work_s
                        + gpu.idle_tdp_fraction * (s.time.epoch_s - work_s).max(0.0))
                    / 3.6e6
            };
            let fluid_work_s = 200_000.0 * service_s;
            let des_work_s = drawn
                .iter()
                .map(|r| f64::from(r.input_tokens) / PREFILL_TOKENS_PER_S)
                .sum::<f64>();
            let (f, d) = (fluid.totals.it_kwh, des.totals.it_kwh);
            assert!(
                (f / expected_kwh(fluid_work_s) - 1.0).abs() < 0.01,
                "{load}: {f}"
            );
            assert!(
                (d / expected_kwh(des_work_s) - 1.0).abs() < 0.01,
                "{load}: {d}"
            );
        }
    }

    #[test]
    fn a_round_robin_over_eight_nodes_waits_as_e8_m_1_theory_says() {
        let checks =
            round_robin_wait_checks(8, &[0.3, 0.5, 0.7], 1_000_000, MasterSeed(7)).unwrap();
        for c in &checks {
            assert!(c.passes(0.02), "{c:?}");
        }
    }
}
