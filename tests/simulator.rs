//! The shared simulator: golden values by hand, conservation, monotonicity, the Green-LLM
//! cross-check and determinism.

use std::path::Path;

use verdant::scenario::*;
use verdant::seed::MasterSeed;
use verdant::sim::des::DiscreteEventSimulator;
use verdant::sim::fluid::FluidSimulator;
use verdant::sim::{FractionPlan, Outcome, SimParams};
use verdant::trace::{EpochDemand, Request};

const IDLE: f64 = 0.1;
const TDP: f64 = 100.0;

/// One origin, one class, two datacenters of one node with one 100 W, 10 GB GPU; one hour.
/// Model: 2 GB weights, 1 MB KV per token, prefill 100 tokens/s at 0.8 TDP, decode 10 tokens/s
/// at 0.4 TDP, weights load at 1 GB/s. Grid: 0.5 kg/kWh, 0.1 USD/kWh, 2 L/kWh. Round trips 20 ms
/// and 100 ms.
fn tiny(requests: f64, input: f64, output: f64) -> Scenario {
    let grid = GridSignals {
        carbon_kg_per_kwh: vec![0.5],
        carbon_signal: CarbonSignal::Average,
        price_usd_per_kwh: vec![0.1],
        water_l_per_kwh: vec![2.0],
        onsite_wue_l_per_kwh: vec![],
        renewable_kw: vec![0.0],
        grid_import_max_kw: None,
    };
    let dc = |name: &str| Datacenter {
        name: name.into(),
        latitude_deg: None,
        longitude_deg: None,
        node_pools: vec![NodePool {
            gpu: 0,
            gpus_per_node: 1,
            nodes: 1,
        }],
        facility: Facility::Cop {
            supply_temperature_c: 20.0,
            cooling_factor: 3.0,
            infrastructure_fraction: 0.13,
            latent_heat_mj_per_kg: 2.45,
            cycles_of_concentration: 5.0,
        },
        carbon_tax_usd_per_kg: 0.0,
        grid: grid.clone(),
        local_balancer: LocalBalancer::WeightedRoundRobin,
        resource_capacity: vec![],
        processing_s_per_token: vec![],
    };
    let mut demand = EpochDemand::zeros(1, 1, 1, 3600.0);
    demand.set(0, 0, 0, requests, input, output);
    Scenario::from_parts(ScenarioParts {
        name: "tiny".into(),
        description: String::new(),
        time: TimeGrid {
            start_unix_s: 0,
            epoch_s: 3600.0,
            epochs: 1,
        },
        gpus: vec![GpuKind {
            name: "G".into(),
            tdp_w: TDP,
            memory_gb: 10.0,
            idle_tdp_fraction: IDLE,
            weight_load_gb_per_s: 1.0,
        }],
        models: vec![LlmProfile {
            name: "m".into(),
            weights_gb: 2.0,
            kv_cache_mb_per_token: 1.0,
            min_gpus: 1,
            prefill_tdp_fraction: 0.8,
            decode_tdp_fraction: 0.4,
            speed: vec![Some(ModelSpeed {
                prefill_tokens_per_s: 100.0,
                decode_tokens_per_s: 10.0,
            })],
        }],
        classes: vec![RequestClass {
            name: "c".into(),
            model: Some(0),
            energy_kwh_per_input_token: None,
            energy_kwh_per_output_token: None,
            delay_penalty_usd_per_s: None,
            resource_units_per_token: vec![],
        }],
        origins: vec![Origin {
            name: "o".into(),
            latitude_deg: None,
            longitude_deg: None,
        }],
        datacenters: vec![dc("near"), dc("far")],
        network: Network {
            round_trip_s: vec![vec![0.02, 0.1]],
            bandwidth_mbps: None,
        },
        demand,
        requests: vec![],
        demand_source: "built by hand".to_owned(),
        water_treatment: WaterTreatment {
            potable_kwh_per_m3: 0.5,
            wastewater_kwh_per_m3: 0.6,
        },
        ttft_slo_s: 3.5,
        green_llm: None,
        split: None,
    })
    .unwrap()
}

fn all_to(s: &Scenario, d: usize) -> FractionPlan {
    let n = s.datacenters.len();
    FractionPlan::from_fn(
        s.time.epochs,
        s.origins.len(),
        s.classes.len(),
        n,
        |_, _, _, j| if j == d { 1.0 } else { 0.0 },
    )
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

/// Checks the accounting equations (5-10) on one datacenter-epoch given its IT energy.
fn check_accounting(x: &verdant::sim::DcEpoch, it_kwh: f64) {
    let cop = 0.0068 * 400.0 + 0.0008 * 20.0 + 0.458; // 3.194
    assert!(close(x.it_kwh, it_kwh), "IT {} vs {it_kwh}", x.it_kwh);
    assert!(close(x.cooling_kwh, 3.0 * it_kwh / cop));
    assert!(close(x.infrastructure_kwh, 0.13 * it_kwh));
    let facility = it_kwh * (1.0 + 3.0 / cop + 0.13);
    assert!(close(x.facility_kwh, facility));
    assert!(close(x.grid_kwh, facility));
    assert!(close(x.energy_cost_usd, 0.1 * facility));
    let evaporative = it_kwh * 3.6 / 2.45;
    assert!(close(x.water_evaporative_l, evaporative));
    assert!(
        close(x.water_blowdown_l, evaporative / 4.0),
        "blowdown = E / (COC - 1)"
    );
    assert!(close(x.water_grid_l, 2.0 * facility));
    assert!(close(x.carbon_grid_kg, 0.5 * facility));
    let water_kwh = (evaporative * 1.25) / 1000.0 * 0.5 + 2.0 * facility / 1000.0 * 0.6;
    assert!(close(x.carbon_water_kg, 0.5 * water_kwh));
}

#[test]
fn fluid_golden_values() {
    // 10 requests of 100 input and 50 output tokens, all to "near".
    let s = tiny(10.0, 100.0, 50.0);
    let out = FluidSimulator::new(&s, SimParams::default())
        .score(&all_to(&s, 0))
        .unwrap();
    // A request of 150 tokens holds 150 / 8000 of an instance's KV room ((10 - 2) GB x 1000
    // MB/GB / 1 MB per token) and draws that share of the decode power.
    let prefill_s = 1000.0 / 100.0;
    let decode_s = 500.0 / 10.0 * (150.0 / 8000.0);
    let busy = prefill_s + decode_s;
    let it_j = TDP * (0.8 * prefill_s + 0.4 * decode_s + IDLE * (3600.0 - busy));
    check_accounting(out.dc_epoch(0, 0), it_j / 3.6e6);
    // "far" gets nothing: idle energy only.
    check_accounting(out.dc_epoch(1, 0), TDP * IDLE * 3600.0 / 3.6e6);
    assert!(close(out.utilisation[0], busy / 3600.0));
    // TTFT = round trip + prefill of a mean request + the M/M/1 wait t rho / (1 - rho) of the
    // node's one prefill lane at its prefill utilisation (no prompt sample: exponential
    // prefill times assumed), read from a table (linear between points: 1e-5 here).
    let rho = prefill_s / 3600.0;
    let ttft = 0.02 + 1.0 + rho / (1.0 - rho);
    assert!(
        (out.latency.mean_ttft_s - ttft).abs() < 1e-5,
        "{} vs {ttft}",
        out.latency.mean_ttft_s
    );
    assert!((out.latency.mean_e2e_s - (ttft + 5.0)).abs() < 1e-5);
    assert_eq!(out.latency.served, 10.0);
    let o = out.objectives();
    assert!(close(
        o.cost_usd,
        out.dc_epoch(0, 0).energy_cost_usd + out.dc_epoch(1, 0).energy_cost_usd
    ));
}

#[test]
fn fluid_datacenter_without_an_instance_saturates() {
    // "far" has GPUs of a second kind, on which the model has no speed: it hosts no instance.
    let mut parts = tiny(10.0, 100.0, 50.0).into_parts();
    let mut other = parts.gpus[0].clone();
    other.name = "H".into();
    parts.gpus.push(other);
    parts.models[0].speed.push(None);
    parts.datacenters[1].node_pools[0].gpu = 1;
    let s = Scenario::from_parts(parts).unwrap();
    let out = FluidSimulator::new(&s, SimParams::default())
        .score(&all_to(&s, 1))
        .unwrap();
    // Requests there wait one epoch for their first token (and never decode); nothing runs, so
    // both datacenters draw idle power only.
    assert!(close(out.latency.mean_ttft_s, 0.1 + 3600.0));
    assert!(close(out.latency.mean_e2e_s, 0.1 + 3600.0));
    assert_eq!(out.latency.slo_violation_rate, 1.0);
    assert_eq!(out.latency.served, 10.0);
    for d in 0..2 {
        check_accounting(out.dc_epoch(d, 0), TDP * IDLE * 3600.0 / 3.6e6);
        assert_eq!(out.utilisation[d], 0.0);
    }
    assert_eq!(out.requests, vec![0.0, 10.0]);
}

fn request(t: f64, input: u32, output: u32) -> Request {
    Request {
        arrival_s: t,
        input_tokens: input,
        output_tokens: output,
        class: 0,
        origin: 0,
        shared_prefix_tokens: 0,
    }
}

#[test]
fn discrete_event_golden_values() {
    let s = tiny(0.0, 0.0, 0.0);
    let requests = [request(0.0, 100, 50), request(0.5, 100, 50)];
    let mut records = Vec::new();
    let out = DiscreteEventSimulator::new(&s, SimParams::default())
        .simulate(&requests, &[0, 0], |r| records.push(*r))
        .unwrap();
    // r0 reaches the DC at 0.01, loads weights 2 s, prefills 1 s (ends 3.01), first token back
    // at 3.02; decodes 5 s. r1 reaches at 0.51 and waits for the one lane until 3.01.
    records.sort_by_key(|r| r.index);
    assert!(
        close(records[0].ttft_s, 3.02) && close(records[0].e2e_s, 8.02),
        "{records:?}"
    );
    assert!(
        close(records[1].ttft_s, 3.52) && close(records[1].e2e_s, 8.52),
        "{records:?}"
    );
    assert_eq!(out.latency.p50_ttft_s, Some(records[0].ttft_s));
    assert_eq!(out.latency.p95_ttft_s, Some(records[1].ttft_s));
    assert_eq!(out.latency.slo_violation_rate, 0.5, "one TTFT above 3.5 s");
    // Energy: loading 2 s at 0.4, two prefills of 1 s at 0.8, and each request's 5 s of decode
    // at 0.4 on the share of the KV room it holds (150 of 8000 tokens); the rest idles.
    let decode = 2.0 * 5.0 * 150.0 / 8000.0;
    let busy = 2.0 + 2.0 + decode;
    let weighted = 2.0 * 0.4 + 2.0 * 0.8 + decode * 0.4;
    check_accounting(
        out.dc_epoch(0, 0),
        TDP * (weighted + IDLE * (3600.0 - busy)) / 3.6e6,
    );
    check_accounting(out.dc_epoch(1, 0), TDP * IDLE * 3600.0 / 3.6e6);
}

#[test]
fn requests_wait_for_memory_and_oversized_ones_are_dropped() {
    let s = tiny(0.0, 0.0, 0.0);
    // KV: 4000 MB each; weights 2000 MB; node 10,000 MB: two fit, the third waits for the first
    // to finish; the fourth (9000 tokens) can never fit and is dropped. Prefill is short (0.1 s)
    // and decode long (399 s), so memory, not the prefill lane, holds the third back.
    let requests = [
        request(0.0, 10, 3990),
        request(0.0, 10, 3990),
        request(0.0, 10, 3990),
        request(0.1, 10, 8990),
    ];
    let mut records = Vec::new();
    let out = DiscreteEventSimulator::new(&s, SimParams::default())
        .simulate(&requests, &[0; 4], |r| records.push(*r))
        .unwrap();
    records.sort_by_key(|r| r.index);
    assert!(records[3].dropped);
    assert!(
        close(records[0].ttft_s, 0.01 + 2.0 + 0.1 + 0.01),
        "{records:?}"
    );
    assert!(
        close(records[1].ttft_s, 0.01 + 2.0 + 0.2 + 0.01),
        "{records:?}"
    );
    // r0 frees its memory at the DC at e2e - 0.01; r2 then prefills 0.1 s.
    let r0_done_at_dc = records[0].e2e_s - 0.01;
    assert!(
        close(records[2].ttft_s, r0_done_at_dc + 0.1 + 0.01),
        "{records:?}"
    );
    assert_eq!(
        out.latency.served + out.latency.dropped + out.latency.outside_horizon,
        4.0
    );
}

#[test]
fn every_request_is_served_once_or_counted() {
    let s = tiny(0.0, 0.0, 0.0);
    let mut requests: Vec<Request> = (0..500)
        .map(|i| request(f64::from(i) * 7.0, 20 + (i % 50), 5 + (i % 7)))
        .collect();
    requests.push(request(-1.0, 10, 10));
    requests.push(request(4000.0, 10, 10));
    let plan = FractionPlan::new(1, 1, 1, 2, vec![0.3, 0.7]).unwrap();
    let to = plan.assign(&requests, 3600.0);
    let mut seen = vec![0u32; requests.len()];
    let out = DiscreteEventSimulator::new(&s, SimParams::default())
        .simulate(&requests, &to, |r| seen[r.index] += 1)
        .unwrap();
    assert_eq!(out.latency.outside_horizon, 2.0);
    assert!(seen[..500].iter().all(|&n| n == 1) && seen[500..].iter().all(|&n| n == 0));
    assert_eq!(out.latency.served + out.latency.dropped, 500.0);
    for x in &out.dc_epochs {
        assert!(x.it_kwh >= 0.0 && x.water_l() >= 0.0 && x.carbon_kg() >= 0.0);
    }
    let again = DiscreteEventSimulator::new(&s, SimParams::default())
        .simulate(&requests, &to, |_| {})
        .unwrap();
    assert_eq!(out, again, "same plan, same outcome");
}

#[test]
fn more_load_never_lowers_energy() {
    let mut last_fluid = 0.0;
    let mut last_des = 0.0;
    for n in [0.0, 5.0, 50.0, 500.0, 5000.0] {
        let s = tiny(n, 200.0, 80.0);
        let fluid = FluidSimulator::new(&s, SimParams::default())
            .score(&all_to(&s, 0))
            .unwrap();
        assert!(fluid.totals.facility_kwh >= last_fluid, "fluid at {n}");
        last_fluid = fluid.totals.facility_kwh;
        let requests: Vec<Request> = (0..n as u32)
            .map(|i| request(f64::from(i) * 3600.0 / (n + 1.0), 200, 80))
            .collect();
        let des = DiscreteEventSimulator::new(&s, SimParams::default())
            .simulate(&requests, &vec![0; requests.len()], |_| {})
            .unwrap();
        assert!(des.totals.facility_kwh >= last_des, "discrete-event at {n}");
        last_des = des.totals.facility_kwh;
        // The avoided datacenter draws idle power only.
        check_accounting(des.dc_epoch(1, 0), TDP * IDLE * 3600.0 / 3.6e6);
    }
}

#[test]
fn bad_plans_are_rejected() {
    let s = tiny(1.0, 1.0, 1.0);
    let wrong = FractionPlan::new(1, 1, 1, 3, vec![1.0, 0.0, 0.0]).unwrap();
    assert!(FluidSimulator::new(&s, SimParams::default())
        .score(&wrong)
        .is_err());
    let des = DiscreteEventSimulator::new(&s, SimParams::default());
    assert!(des.simulate(&[request(0.0, 1, 1)], &[5], |_| {}).is_err());
    assert!(des.simulate(&[request(0.0, 1, 1)], &[], |_| {}).is_err());
}

#[test]
fn fluid_cost_and_carbon_match_green_llm_objectives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(
        &verdant::scenario::bundled_dir().join("green-llm-base.toml"),
        MasterSeed(0),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("datasets/green-llm-base/params.json")).unwrap(),
    )
    .unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    // A deterministic, uneven plan.
    let (ni, nj, nk, nt) = (9, 9, 5, 24);
    let plan = FractionPlan::from_fn(nt, ni, nk, nj, |t, i, k, j| {
        let w = |j: usize| 1.0 + ((t * 7 + i * 5 + k * 3 + j * 11) % 13) as f64;
        w(j) / (0..nj).map(w).sum::<f64>()
    })
    .unwrap();
    let out = FluidSimulator::new(&s, SimParams::default())
        .score(&plan)
        .unwrap();
    let (mut f_e, mut f_c) = (0.0, 0.0);
    for j in 0..nj {
        for t in 0..nt {
            let mut pc = 0.0;
            for i in 0..ni {
                for k in 0..nk {
                    let e_k = f(&json["tau_in_kWh_per_token[k]"][k])
                        * f(&json["h_input_tokens[k]"][k])
                        + f(&json["tau_out_kWh_per_token[k]"][k])
                            * f(&json["f_output_tokens[k]"][k]);
                    pc += e_k * f(&json["lambda[i][k][t]"][i][k][t]) * plan.row(t, i, k)[j];
                }
            }
            let pd = f(&json["PUE[j]"][j]) * pc;
            let pg = (pd - f(&json["P_w_kW[j][t]"][j][t])).max(0.0);
            f_e += f(&json["c_usd_per_kWh[j][t]"][j][t]) * pg;
            f_c += f(&json["delta_usd_per_kgCO2[j]"][j])
                * f(&json["theta_kg_per_kWh[j][t]"][j][t])
                * pg;
        }
    }
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    assert!(
        rel(out.totals.energy_cost_usd, f_e) < 1e-9,
        "{} vs {f_e}",
        out.totals.energy_cost_usd
    );
    assert!(
        rel(out.totals.carbon_tax_usd, f_c) < 1e-9,
        "{} vs {f_c}",
        out.totals.carbon_tax_usd
    );
    assert!(f_e > 0.0 && f_c > 0.0);
}

#[test]
fn geo_scenarios_score_with_both_fidelities() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(
        &verdant::scenario::bundled_dir().join("geo-4dc.toml"),
        MasterSeed(0),
    )
    .unwrap();
    let even = FractionPlan::from_fn(
        s.time.epochs,
        s.origins.len(),
        s.classes.len(),
        4,
        |_, _, _, _| 0.25,
    )
    .unwrap();
    let out: Outcome = FluidSimulator::new(&s, SimParams::default())
        .score(&even)
        .unwrap();
    // An even split gives every datacenter (all alike) the fleet's nominal load: 95% at peak.
    let peak = out.utilisation.iter().cloned().fold(0.0, f64::max);
    assert!((peak - 0.95).abs() < 1e-9, "{peak}");
    assert!(out.latency.mean_ttft_s > 0.0 && out.totals.carbon_kg() > 0.0);
    // Discrete-event on a sample: the trace's requests over the first hour, 1% of the nodes.
    let trace = verdant::trace::read_trace(
        &root.join("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
        verdant::trace::TraceFormat::Azure,
        false,
    )
    .unwrap()
    .trace;
    let mut requests = trace.requests.clone();
    let first = requests[0].arrival_s;
    for (i, r) in requests.iter_mut().enumerate() {
        r.arrival_s -= first;
        r.origin = (i % 6) as u16;
        r.class = u16::from(i % 10 >= 7);
    }
    let to = even.assign(&requests, s.time.epoch_s);
    let params = SimParams {
        node_fraction: 0.01,
        ..SimParams::default()
    };
    let des = DiscreteEventSimulator::new(&s, params)
        .simulate(&requests, &to, |_| {})
        .unwrap();
    assert_eq!(
        des.latency.served + des.latency.dropped + des.latency.outside_horizon,
        requests.len() as f64
    );
    assert!(des.latency.p99_ttft_s.unwrap() >= des.latency.p50_ttft_s.unwrap());
}

#[test]
fn scoring_epoch_by_epoch_adds_up_to_scoring_the_day() {
    use verdant::allocator::rules::Nearest;
    use verdant::sim::fluid::FluidSimulator;
    use verdant::sim::{Outcome, SimParams};
    let path = verdant::scenario::bundled_dir().join("geo-4dc.toml");
    let scenario = verdant::scenario::Scenario::load(&path, verdant::seed::MasterSeed(3)).unwrap();
    let plan = Nearest.plan(&scenario).unwrap();
    let mut sim = FluidSimulator::new(&scenario, SimParams::default());
    let day = sim.score(&plan).unwrap();
    let mut out = Outcome::default();
    let (mut carbon, mut water, mut cost, mut ttft_weighted, mut served) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for e in 0..scenario.time.epochs {
        let o = sim.score_epoch(&plan, e, &mut out).unwrap();
        let requests: f64 = (0..4)
            .map(|d| out.requests[d * scenario.time.epochs + e])
            .sum();
        carbon += o.carbon_kg;
        water += o.water_l;
        cost += o.cost_usd;
        ttft_weighted += o.ttft_s * requests;
        served += requests;
    }
    let d = day.objectives();
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-12);
    assert!(rel(carbon, d.carbon_kg) < 1e-9);
    assert!(rel(water, d.water_l) < 1e-9);
    assert!(rel(cost, d.cost_usd) < 1e-9);
    assert!(rel(ttft_weighted / served, d.ttft_s) < 1e-9);
    // Re-scoring one epoch in place leaves the outcome as the whole day's.
    sim.score_epoch(&plan, 5, &mut out).unwrap();
    assert_eq!(out.dc_epochs, day.dc_epochs);
    assert!(sim.score_epoch(&plan, 96, &mut out).is_err());
}

/// The fluid TTFT has no cliff: as demand rises through the point where the nearest rule
/// overloads a datacenter, the mean TTFT rises by small steps for small load steps (the model
/// before issue 18 charged a whole epoch, 900 s, the moment utilisation reached 1).
#[test]
fn fluid_ttft_is_continuous_in_load() {
    use verdant::allocator::rules::Nearest;
    let s = verdant::scenario::bundled("geo-4dc").unwrap();
    let plan = Nearest.plan(&s).unwrap();
    let mut previous: Option<f64> = None;
    let (mut lowest, mut highest) = (f64::INFINITY, 0.0_f64);
    for k in 0..=60 {
        let load = 0.7 + 0.005 * f64::from(k);
        let world = s.scaled(Scaled::Demand, load).unwrap();
        let ttft = FluidSimulator::new(&world, SimParams::default())
            .score(&plan)
            .unwrap()
            .latency
            .mean_ttft_s;
        if let Some(before) = previous {
            assert!(
                ttft >= before,
                "TTFT falls at load {load}: {before} -> {ttft}"
            );
            assert!(
                ttft - before <= 0.05 * before + 0.05,
                "jump at load {load}: {before} -> {ttft}"
            );
        }
        previous = Some(ttft);
        lowest = lowest.min(ttft);
        highest = highest.max(ttft);
    }
    // The sweep does cross into overload: TTFT grows several-fold over it.
    assert!(highest > 4.0 * lowest, "{lowest} {highest}");
}

/// `tiny`'s parts, for worlds built from it.
fn tiny_parts() -> ScenarioParts {
    tiny(0.0, 0.0, 0.0).into_parts()
}

#[test]
fn token_room_splits_a_nodes_kv_memory_over_the_instances_it_holds() {
    let mut parts = tiny_parts();
    // A second model: 3 GB of weights, 0.5 MB per token, two GPUs per instance.
    let mut big = parts.models[0].clone();
    (
        big.name,
        big.weights_gb,
        big.kv_cache_mb_per_token,
        big.min_gpus,
    ) = ("big".into(), 3.0, 0.5, 2);
    parts.models.push(big);
    let pair = NodePool {
        gpu: 0,
        gpus_per_node: 2,
        nodes: 1,
    };
    parts.datacenters[0].node_pools = vec![pair];
    let s = Scenario::from_parts(parts).unwrap();
    // 20 GB less both models' weights (5 GB), over 2 + 1 instances: 5000 MB each.
    assert_eq!(s.node_kv_memory_mb(&pair), (15_000.0, 3));
    assert!(close(s.token_room(0, &pair), 5000.0));
    assert!(close(s.token_room(1, &pair), 10_000.0));
    // One GPU per node: only the small model fits, alone with its weights.
    let single = NodePool {
        gpus_per_node: 1,
        ..pair
    };
    assert!(close(s.token_room(0, &single), 8000.0));
    assert_eq!(s.token_room(1, &single), 0.0);
}

#[test]
fn drawn_requests_take_the_token_counts_of_their_own_epoch() {
    let mut parts = tiny_parts();
    parts.time.epochs = 2;
    parts.time.epoch_s = 1800.0;
    let mut demand = EpochDemand::zeros(1, 1, 2, 1800.0);
    demand.set(0, 0, 0, 100.0, 100.0, 10.0);
    demand.set(0, 0, 1, 100.0, 900.0, 90.0);
    parts.demand = demand;
    parts.requests = (0..20)
        .map(|i| {
            let late = i >= 10;
            request(
                if late { 1800.0 } else { 0.0 } + f64::from(i),
                if late { 900 } else { 100 },
                if late { 90 } else { 10 },
            )
        })
        .collect();
    let s = Scenario::from_parts(parts).unwrap();
    let drawn = s.draw_requests(1.0, &mut MasterSeed(3).rng("test"));
    assert!(drawn.len() > 150, "{}", drawn.len());
    for r in &drawn {
        let expected = if r.arrival_s < 1800.0 { 100 } else { 900 };
        assert_eq!(r.input_tokens, expected, "{r:?}");
    }
}

#[test]
fn a_kind_out_of_memory_sends_requests_on_to_the_other_kind() {
    // One datacenter of two one-GPU nodes, a slow kind and a fast one, equal shares: the slow
    // kind is offered twice what it can prefill, the fast one a fifth. The slow node's memory
    // (8 GB for KV, 110 MB a request) queues about 72 requests; the rest go on to the fast node.
    let mut parts = tiny_parts();
    let mut fast = parts.gpus[0].clone();
    fast.name = "fast".into();
    parts.gpus.push(fast);
    let speed = |prefill_tokens_per_s| {
        Some(ModelSpeed {
            prefill_tokens_per_s,
            decode_tokens_per_s: 10.0,
        })
    };
    parts.models[0].speed = vec![speed(100.0), speed(1000.0)];
    let pool = |gpu| NodePool {
        gpu,
        gpus_per_node: 1,
        nodes: 1,
    };
    parts.datacenters.truncate(1);
    parts.datacenters[0].node_pools = vec![pool(0), pool(1)];
    parts.datacenters[0].local_balancer = LocalBalancer::EqualShare;
    parts.network.round_trip_s = vec![vec![0.02]];
    // 4 requests per second of 100 input tokens: 1 s of prefill each on the slow kind.
    let mut demand = EpochDemand::zeros(1, 1, 1, 3600.0);
    demand.set(0, 0, 0, 14_400.0, 100.0, 10.0);
    parts.demand = demand;
    let s = Scenario::from_parts(parts).unwrap();
    let plan = all_to(&s, 0);
    let fluid = FluidSimulator::new(&s, SimParams::default())
        .score(&plan)
        .unwrap();
    // The fast kind serves more than its equal share: half the requests keep it 0.23 busy
    // (0.1 s of prefill and 0.014 GPU-s of decode each); with the slow kind's excess, about
    // 3,500 more, 0.34.
    let fast_busy = fluid.kind_utilisation[1];
    assert!(fast_busy > 0.3, "{:?}", fluid.kind_utilisation);
    let params = SimParams {
        max_waiting_per_datacenter: 10_000_000,
        ..SimParams::default()
    };
    let mut des_ttft = 0.0;
    for seed in 0..4 {
        let (des, _) = DiscreteEventSimulator::new(&s, params)
            .simulate_plan(&plan, &mut MasterSeed(seed).rng("test"), |_| {})
            .unwrap();
        assert_eq!(des.latency.dropped, 0.0, "{:?}", des.latency);
        des_ttft += des.latency.mean_ttft_s / 4.0;
    }
    // Without the spill the slow kind's backlog would reach half an hour: a mean wait of
    // several hundred seconds. With it, the fidelities agree.
    let ttft = fluid.latency.mean_ttft_s;
    assert!(ttft < 100.0, "fluid {ttft}");
    assert!(
        (ttft / des_ttft - 1.0).abs() < 0.25,
        "fluid {ttft} discrete-event {des_ttft}"
    );
}

#[test]
fn a_node_sample_sees_arrivals_as_smooth_as_the_fleets_nodes() {
    // geo-4dc, even split, one node of each pool (1/167 of the nodes): the round robin hands
    // the fleet's nodes nearly periodic arrivals (every 167th or later request of a Poisson
    // stream); the sample is spaced so that its datacenter streams are every 167th request too.
    let s = Scenario::load(
        &verdant::scenario::bundled_dir().join("geo-4dc.toml"),
        MasterSeed(0),
    )
    .unwrap();
    let nd = s.datacenters.len();
    let plan = FractionPlan::from_fn(
        s.time.epochs,
        s.origins.len(),
        s.classes.len(),
        nd,
        |_, _, _, _| 1.0 / nd as f64,
    )
    .unwrap();
    let fraction = s.one_node_fraction();
    let des = DiscreteEventSimulator::new(
        &s,
        SimParams {
            node_fraction: fraction,
            ..SimParams::default()
        },
    );
    let (requests, to) = des.plan_requests(&plan, &mut MasterSeed(3).rng("test"));
    // The same requests as drawn and assigned, only re-timed.
    let mut rng = MasterSeed(3).rng("test");
    let drawn = s.draw_requests(fraction, &mut rng);
    assert_eq!(to, plan.assign(&drawn, s.time.epoch_s));
    let key = |r: &Request| (r.origin, r.class, r.input_tokens, r.output_tokens);
    let mut a: Vec<_> = requests.iter().map(key).collect();
    let mut b: Vec<_> = drawn.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    // Gaps at each datacenter, per class and epoch (both classes have their own model).
    let horizon = s.time.horizon_s();
    let mut scv_sum = 0.0;
    let mut groups = 0.0;
    let mut drawn_scv_sum = 0.0;
    for (list, label) in [(&requests, "spaced"), (&drawn, "drawn")] {
        let mut at = vec![Vec::new(); nd * s.classes.len() * s.time.epochs];
        for (r, &d) in list.iter().zip(&to) {
            let d = usize::from(d);
            assert!(r.arrival_s >= 0.0 && r.arrival_s < horizon, "{label}");
            let t = r.arrival_s + s.network.round_trip_s[usize::from(r.origin)][d] / 2.0;
            let e = ((t / s.time.epoch_s) as usize).min(s.time.epochs - 1);
            at[(d * s.classes.len() + usize::from(r.class)) * s.time.epochs + e].push(t);
        }
        for times in at.iter_mut().filter(|t| t.len() >= 200) {
            times.sort_by(f64::total_cmp);
            let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            if label == "spaced" {
                scv_sum += var / (mean * mean);
                groups += 1.0;
            } else {
                drawn_scv_sum += var / (mean * mean);
            }
        }
    }
    assert!(groups > 100.0, "{groups}");
    // Gamma gaps of shape 167: scv 0.006. The drawn sample's are Poisson gaps thinned by the
    // plan's assignment (each datacenter every fourth request of a cell): about 0.7.
    let spaced = scv_sum / groups;
    let drawn = drawn_scv_sum / groups;
    assert!(spaced < 0.02, "spaced {spaced}");
    assert!(drawn > 0.5, "drawn {drawn}");
}

/// `datacenters` datacenters of 64 nodes of two GPUs, one origin at no distance; model 0
/// (prompts of mean `prompts[0]` tokens) prefills on one GPU, model 1 (`prompts[1]`) on the
/// pair; equally many requests of each, the GPUs' prefill utilisation `u` if one datacenter took
/// them all; both prefill at 1000 tokens/s. Also returns the mean prefill, seconds.
fn pair_world(prompts: [f64; 2], u: f64, datacenters: usize) -> (Scenario, f64) {
    // lane_world counts one GPU per request; the pair's requests take two.
    let gpu_s_per_request = (prompts[0] + 2.0 * prompts[1]) / (prompts[0] + prompts[1]);
    let (world, _) =
        verdant::sim::analytic::lane_world(64, &prompts, u * 2.0 / gpu_s_per_request, 200_000, 1)
            .unwrap();
    let mut parts: ScenarioParts = (*world).clone();
    parts.datacenters[0].node_pools[0].gpus_per_node = 2;
    parts.models[1].min_gpus = 2;
    let dc = parts.datacenters[0].clone();
    parts.datacenters = (0..datacenters)
        .map(|d| Datacenter {
            name: format!("dc{d}"),
            ..dc.clone()
        })
        .collect();
    parts.network.round_trip_s = vec![vec![0.0; datacenters]];
    let mean_prefill_s = (prompts[0] + prompts[1]) / 2.0 / 1000.0;
    (Scenario::from_parts(parts).unwrap(), mean_prefill_s)
}

/// Mean wait before prefill in both fidelities: (fluid, discrete-event), seconds.
fn pair_waits(s: &Scenario, plan: &FractionPlan, mean_prefill_s: f64) -> (f64, f64) {
    let fluid = FluidSimulator::new(s, SimParams::default())
        .score(plan)
        .unwrap();
    let drawn = s.draw_requests(1.0, &mut MasterSeed(3).rng("pairs"));
    let to = plan.assign(&drawn, s.time.epoch_s);
    let des = DiscreteEventSimulator::new(s, SimParams::default())
        .simulate(&drawn, &to, |_| {})
        .unwrap();
    (
        fluid.latency.mean_ttft_s - mean_prefill_s,
        des.latency.mean_ttft_s - mean_prefill_s,
    )
}

/// Nodes of two GPUs shared by a model that prefills on one GPU and one that prefills on the
/// pair: a pair request waits for both GPUs, so a one-GPU prefill can hold one of them idle (the
/// discrete-event rule; `GroupIdle` simulates it). The fluid model counts the time lost as busy
/// time at the lanes and as capacity the backlog cannot use, in proportion to the mix.
/// Measured (fluid against discrete-event wait): near capacity 17% low (66% low without the
/// lost time), in overload 23% high (98% low without); with the models apart, nothing is lost.
#[test]
fn nodes_shared_by_one_gpu_and_pair_prefills_lose_time_in_both_fidelities() {
    let one = |plan: fn(usize, usize) -> f64, world: (Scenario, f64)| {
        let (s, prefill_s) = world;
        let p =
            FractionPlan::from_fn(1, 1, 2, s.datacenters.len(), |_, _, c, d| plan(c, d)).unwrap();
        pair_waits(&s, &p, prefill_s)
    };
    let together = |_: usize, _: usize| 1.0;
    // Short one-GPU prompts beside long pair prompts (as the 8B and 70B models of the geo
    // scenarios), at 0.85 of the GPUs' time.
    let (fluid, des) = one(together, pair_world([250.0, 1000.0], 0.85, 1));
    assert!(
        (fluid - des).abs() < 0.25 * des,
        "near capacity: {fluid} s against {des} s"
    );
    // Equal prompts at 0.8: the time lost (about 30% of the busy time) overloads the nodes in
    // both fidelities.
    let (fluid, des) = one(together, pair_world([500.0, 500.0], 0.8, 1));
    assert!(
        des > 20.0 && (fluid - des).abs() < 0.3 * des,
        "overload: {fluid} s against {des} s"
    );
    // Each model at its own datacenter: no node mixes group sizes, nothing is lost.
    let apart = |c: usize, d: usize| if c == d { 1.0 } else { 0.0 };
    let (fluid, des) = one(apart, pair_world([500.0, 500.0], 0.8, 2));
    assert!(
        (fluid - des).abs() < 0.1 * des,
        "apart: {fluid} s against {des} s"
    );
}
