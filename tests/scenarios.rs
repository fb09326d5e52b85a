//! The bundled scenarios load and validate; bad scenario files name the key.

use std::path::{Path, PathBuf};

use verdant::grid::{load_eia2022, load_ren2022};
use verdant::scenario::lb::LbScenario;
use verdant::scenario::{CarbonSignal, Facility, Scaled, Scenario, ScenarioError, ScenarioParts};
use verdant::seed::MasterSeed;

fn scenarios_dir() -> PathBuf {
    verdant::scenario::bundled_dir()
}

fn load(name: &str) -> Scenario {
    Scenario::load(&scenarios_dir().join(format!("{name}.toml")), MasterSeed(1))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn peak_load(s: &Scenario) -> f64 {
    (0..s.time.epochs)
        .map(|e| s.nominal_load(&s.demand, e))
        .fold(0.0, f64::max)
}

#[test]
fn geo_scenarios_validate_with_their_shape() {
    for n in [4, 6, 8, 10, 12] {
        let s = load(&format!("geo-{n}dc"));
        assert_eq!(s.datacenters.len(), n);
        assert_eq!((s.time.epochs, s.time.epoch_s), (96, 900.0));
        assert_eq!(s.origins.len(), 6);
        assert_eq!(s.classes.len(), 2);
        for d in &s.datacenters {
            let nodes: u32 = d.node_pools.iter().map(|p| p.nodes).sum();
            assert_eq!(nodes, 1000, "{}", d.name);
            assert_eq!(d.grid.carbon_kg_per_kwh.len(), 24);
            assert!(
                d.grid
                    .carbon_kg_per_kwh
                    .iter()
                    .all(|c| (0.0..1.5).contains(c)),
                "{}",
                d.name
            );
            assert!(matches!(d.facility, Facility::Cop { .. }));
        }
        // Demand is scaled so that the busiest epoch loads the fleet to 95%.
        assert!(
            (peak_load(&s) - 0.95).abs() < 1e-9,
            "geo-{n}dc: {}",
            peak_load(&s)
        );
        // Round trips grow with distance: an origin's farthest datacenter is well beyond its
        // nearest, and none is past half a second.
        for row in &s.network.round_trip_s {
            let (lo, hi) = row
                .iter()
                .fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(lo > 0.0 && hi < 0.5 && hi > 1.5 * lo, "{row:?}");
        }
    }
}

#[test]
fn geo_8dc_uses_the_real_hourly_signals() {
    let s = load("geo-8dc");
    let ren = load_ren2022(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/grid-ren2022/hourly_signals.csv"),
        "Virginia",
    )
    .unwrap();
    let virginia = s.datacenters.iter().find(|d| d.name == "virginia").unwrap();
    // 2022-09-23T00Z is 24 hours after the file's first hour.
    assert_eq!(
        virginia.grid.carbon_kg_per_kwh[..],
        ren.carbon_kg_per_kwh[24..48]
    );
    assert_eq!(
        virginia.grid.price_usd_per_kwh[10],
        ren.price_usd_per_kwh[34]
    );
    assert_eq!(virginia.grid.carbon_signal, CarbonSignal::Average);
    // Two-level US TOU: peak 4 x base from 10:00 to 15:59 UTC.
    let p = &virginia.grid.price_usd_per_kwh;
    assert!((p[10] / p[9] - 4.0).abs() < 1e-9, "{p:?}");
}

#[test]
fn geo_12dc_adds_two_eia_sites_with_filled_gaps() {
    let s = load("geo-12dc");
    let ca = s
        .datacenters
        .iter()
        .find(|d| d.name == "california")
        .unwrap();
    assert!(ca
        .grid
        .water_l_per_kwh
        .iter()
        .all(|w| (0.0..3.0).contains(w)));
    assert!((ca.grid.price_usd_per_kwh[12] - 4.0 * 0.04769).abs() < 1e-12);
    let area =
        load_eia2022(&Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/grid-eia2022/CISO.csv"))
            .unwrap();
    assert_eq!(area.hours(), 8760);
    assert_eq!(area.filled_fields, 27, "3 empty rows x 9 columns");
}

#[test]
fn the_same_seed_gives_the_same_demand() {
    let path = scenarios_dir().join("geo-4dc.toml");
    let a = Scenario::load(&path, MasterSeed(7)).unwrap();
    let b = Scenario::load(&path, MasterSeed(7)).unwrap();
    let c = Scenario::load(&path, MasterSeed(8)).unwrap();
    assert_eq!(a.demand, b.demand);
    assert_ne!(a.demand, c.demand);
}

#[test]
fn green_llm_base_is_the_parameter_file_exactly() {
    let s = load("green-llm-base");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/green-llm-base/params.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    assert_eq!(
        (
            s.origins.len(),
            s.datacenters.len(),
            s.classes.len(),
            s.time.epochs
        ),
        (9, 9, 5, 24)
    );
    let terms = s.green_llm.as_ref().unwrap();
    assert_eq!(terms.water_budget_l, f(&json["Z_liters"]));
    for i in 0..9 {
        for k in 0..5 {
            assert_eq!(
                terms.delay_threshold_s[i][k],
                f(&json["Delta_s[i][k]"][i][k])
            );
            for t in 0..24 {
                let lambda = f(&json["lambda[i][k][t]"][i][k][t]);
                assert_eq!(s.demand.requests(i, k, t), lambda);
                assert_eq!(
                    s.demand.input_tokens(i, k, t),
                    lambda * f(&json["h_input_tokens[k]"][k])
                );
                assert_eq!(
                    terms.kb_per_token[i][k][t],
                    f(&json["beta[i][k][t]"][i][k][t])
                );
            }
        }
        for j in 0..9 {
            assert_eq!(s.network.round_trip_s[i][j], f(&json["d_s[i][j]"][i][j]));
        }
    }
    for (j, d) in s.datacenters.iter().enumerate() {
        assert_eq!(
            d.facility,
            Facility::Pue {
                pue: f(&json["PUE[j]"][j])
            }
        );
        assert_eq!(
            d.carbon_tax_usd_per_kg,
            f(&json["delta_usd_per_kgCO2[j]"][j])
        );
        for t in 0..24 {
            assert_eq!(
                d.grid.price_usd_per_kwh[t],
                f(&json["c_usd_per_kWh[j][t]"][j][t])
            );
            assert_eq!(
                d.grid.carbon_kg_per_kwh[t],
                f(&json["theta_kg_per_kWh[j][t]"][j][t])
            );
            assert_eq!(d.grid.renewable_kw[t], f(&json["P_w_kW[j][t]"][j][t]));
            assert_eq!(
                d.grid.grid_import_max_kw.as_ref().unwrap()[t],
                f(&json["P_max_kW[j][t]"][j][t])
            );
            assert_eq!(
                d.grid.onsite_wue_l_per_kwh[t],
                f(&json["WUE_L_per_kWh[j][t]"][j][t])
            );
            assert_eq!(
                d.grid.water_l_per_kwh[t],
                f(&json["EWIF_L_per_kWh[j][t]"][j][t])
            );
        }
        for r in 0..3 {
            assert_eq!(d.resource_capacity[r], f(&json["C[r][j]"][r][j]));
        }
    }
    for (k, c) in s.classes.iter().enumerate() {
        assert_eq!(
            c.energy_kwh_per_input_token,
            Some(f(&json["tau_in_kWh_per_token[k]"][k]))
        );
        assert_eq!(c.delay_penalty_usd_per_s, Some(f(&json["rho[k]"][k])));
        assert_eq!(c.resource_units_per_token[2], f(&json["alpha[k][r]"][k][2]));
    }
}

#[test]
fn load_balancer_scenarios_have_the_papers_server_sets() {
    let nominal = LbScenario::load(&scenarios_dir().join("lb-nominal.toml"), &[]).unwrap();
    assert_eq!(nominal.servers.len(), 3);
    assert!(nominal
        .servers
        .iter()
        .all(|s| s.tokens_per_s == 5000.0 && s.concurrency == 5));
    assert_eq!(nominal.train.len() + nominal.eval.len(), 19_366);
    assert!(nominal.eval.requests[0].arrival_s >= nominal.train.requests.last().unwrap().arrival_s);

    let high = LbScenario::load(&scenarios_dir().join("lb-highload.toml"), &[]).unwrap();
    let caps: Vec<(f64, u32)> = high
        .servers
        .iter()
        .map(|s| (s.tokens_per_s, s.concurrency))
        .collect();
    assert_eq!(caps, vec![(3000.0, 3), (5000.0, 5), (7000.0, 7)]);
    assert_eq!((high.train.len(), high.eval.len()), (4000, 1000));
    assert_eq!(high.train.requests[0].arrival_s, 0.0);
    assert_eq!(high.eval.requests.last().unwrap().arrival_s, 1000.0);

    let code = LbScenario::load(
        &scenarios_dir().join("lb-nominal.toml"),
        &["trace.file=\"../azure-llm-2023/AzureLLMInferenceTrace_code.csv\"".to_owned()],
    )
    .unwrap();
    assert_eq!(code.train.len() + code.eval.len(), 8_819);
}

/// Loads a scenario, written to a temporary folder, that includes the bundled geo-4dc and lays
/// `extra` over it.
fn broken(extra: &str) -> Result<Scenario, ScenarioError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let include = scenarios_dir().join("geo-4dc.toml");
    std::fs::write(
        &path,
        format!("include = {:?}\n{extra}", include.display().to_string()),
    )
    .unwrap();
    Scenario::load(&path, MasterSeed(1))
}

#[test]
fn bad_scenarios_name_the_key() {
    let cases = [
        ("[time]\nstart_utc = \"2022-09-23T00:00:00Z\"\nepoch_s = 900\nepochs = 2000\n", "datacenters[0].grid: ", "the horizon needs 500"),
        ("[water_treatment]\npotable_kwh_per_m3 = nan\nwastewater_kwh_per_m3 = 0.6\n", "water_treatment.potable_kwh_per_m3: ", "finite"),
        ("[network]\nmode = \"distance\"\nfibre_us_per_km = 4.9\nroute_factor = 0.5\nhop_ms = 0.2\nbase_hops = 2\nkm_per_hop = 1000\n", "network.route_factor: ", ">= 1"),
        ("[demand]\npeak_utilisation = 1.5\n", "demand.peak_utilisation: ", "(0, 1]"),
        ("[time]\nstart_utc = \"yesterday\"\nepoch_s = 900\nepochs = 96\n", "time.start_utc: ", "not a UTC time"),
        ("colour = \"green\"\n", "colour: ", "unknown field"),
        ("[network]\nmode = \"matrix\"\nround_trip_s = [[0.1, 0.1, 0.1, 0.1]]\n", "network.round_trip_s: ", "must be 6 rows"),
    ];
    for (extra, key, text) in cases {
        let err = broken(extra)
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"))
            .to_string();
        assert!(err.contains(key) && err.contains(text), "{extra}\n-> {err}");
    }
}

#[test]
fn a_measured_delay_matrix_replaces_distances() {
    let row = "[0.01, 0.02, 0.03, 0.04]";
    let rows = [row; 6].join(", ");
    let s = broken(&format!(
        "[network]\nmode = \"matrix\"\nround_trip_s = [{rows}]\n"
    ))
    .unwrap();
    assert_eq!(s.network.round_trip_s[5], vec![0.01, 0.02, 0.03, 0.04]);
    let bad = rows.replacen("0.01", "-1", 1);
    let err = broken(&format!(
        "[network]\nmode = \"matrix\"\nround_trip_s = [{bad}]\n"
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("network.round_trip_s[0][0]: must be a finite number >= 0"),
        "{err}"
    );
}

#[test]
fn the_request_sample_is_the_demand_table_unscaled() {
    let s = load("geo-6dc");
    let share = s.sample_share();
    assert!(share > 0.0 && share < 1e-3, "{share}");
    let sample = verdant::trace::EpochDemand::aggregate(&s.requests, 6, 2, 96, 900.0).unwrap();
    assert_eq!(sample.outside_horizon, 0);
    for o in 0..6 {
        for c in 0..2 {
            for e in [0, 40, 95] {
                let scaled = sample.requests(o, c, e) / share;
                assert!(
                    (scaled - s.demand.requests(o, c, e)).abs() <= 1e-6 * scaled.max(1.0),
                    "{o} {c} {e}"
                );
            }
        }
    }
    // The daily cycle: each origin's busiest hour is within three hours of 14:00 local.
    let us_east: Vec<f64> = (0..96)
        .map(|e| (0..2).map(|c| s.demand.requests(0, c, e)).sum())
        .collect();
    let peak_epoch = (0..96)
        .max_by(|&a, &b| us_east[a].total_cmp(&us_east[b]))
        .unwrap();
    let local_hour = (peak_epoch as f64 / 4.0 - 4.0).rem_euclid(24.0);
    assert!(
        (local_hour - 14.0).abs() <= 3.0,
        "peak at {local_hour} local"
    );
}

#[test]
fn requests_drawn_from_the_demand_match_it_at_scale() {
    let s = load("geo-4dc");
    let scale = 2e-5;
    let a = s.draw_requests(scale, &mut MasterSeed(3).rng("draw"));
    let b = s.draw_requests(scale, &mut MasterSeed(3).rng("draw"));
    assert_eq!(a, b, "same stream, same requests");
    let expected = s.demand.total_requests() * scale;
    assert!(
        (a.len() as f64 - expected).abs() < 4.0 * expected.sqrt() + 1.0,
        "{} vs {expected}",
        a.len()
    );
    assert!(a.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s));
    assert!(a.iter().all(|r| r.arrival_s < s.time.horizon_s()));
    // Green-LLM's table: tokens are the cells' (exact) per-query counts.
    let g = load("green-llm-base");
    let drawn = g.draw_requests(0.01, &mut MasterSeed(3).rng("draw"));
    assert!(drawn
        .iter()
        .all(|r| r.input_tokens == [80, 500, 50, 40, 30][usize::from(r.class)]));
}

/// Every bundled scenario's parts check again as they are, and parts that break a rule are
/// refused with an error naming the part.
#[test]
fn scenarios_are_only_obtained_checked_and_parts_are_checked() {
    // The load balancer's scenarios (`lb-*`) are another kind of world.
    for name in verdant::scenario::bundled_names()
        .into_iter()
        .filter(|n| !n.starts_with("lb-"))
    {
        let s = verdant::scenario::bundled(&name).unwrap();
        let parts = s.clone().into_parts();
        let again = Scenario::from_parts(parts).unwrap();
        assert_eq!(again.datacenters, s.datacenters, "{name}");
    }
    let base = verdant::scenario::bundled("geo-4dc").unwrap();
    let refused = |change: &dyn Fn(&mut ScenarioParts), key: &str| {
        let mut parts = base.clone().into_parts();
        change(&mut parts);
        let err = Scenario::from_parts(parts).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    };
    refused(
        &|p| p.datacenters[2].grid.price_usd_per_kwh[3] = f64::NAN,
        "datacenters[2].grid.price_usd_per_kwh[3]",
    );
    refused(
        &|p| p.datacenters[1].grid.carbon_kg_per_kwh.truncate(2),
        "datacenters[1].grid.carbon_kg_per_kwh",
    );
    refused(&|p| p.classes[0].model = Some(9), "classes[0].model");
    refused(
        &|p| p.datacenters[3].name = p.datacenters[0].name.clone(),
        "datacenters[3].name",
    );
    refused(
        &|p| p.network.round_trip_s.pop().map(|_| ()).unwrap(),
        "network.round_trip_s",
    );
    refused(&|p| p.time.epochs -= 1, "demand");
    refused(
        &|p| p.gpus[0].idle_tdp_fraction = 1.5,
        "gpus[0].idle_tdp_fraction",
    );
    // Transforms check what they make.
    assert!(base.scaled(Scaled::Price, -1.0).is_err());
    assert!(base.replicated(0, 24).is_err());
}

/// The 14-day geo scenario follows ServeGen's rates: 1,344 epochs, days of different demand
/// (the rates' daily means vary by up to 2.6x), the 70B class following the large model's curve,
/// peak nominal load 0.95; the fluid simulator scores its whole horizon.
#[test]
fn the_fourteen_day_scenario_follows_the_rate_table() {
    use verdant::sim::fluid::FluidSimulator;
    use verdant::sim::SimParams;
    let s = verdant::scenario::bundled("geo-8dc-14d").unwrap();
    assert_eq!((s.time.epochs, s.time.epoch_s), (1_344, 900.0));
    let per_day = |class: usize| -> Vec<f64> {
        (0..14)
            .map(|d| {
                (96 * d..96 * (d + 1))
                    .flat_map(|e| (0..s.origins.len()).map(move |o| (o, e)))
                    .map(|(o, e)| s.demand.requests(o, class, e))
                    .sum()
            })
            .collect()
    };
    for class in 0..2 {
        let days = per_day(class);
        let (lo, hi) = days
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(a, b), &d| (a.min(d), b.max(d)));
        assert!(lo > 0.0 && hi / lo > 1.3, "class {class}: {days:?}");
    }
    let peak = (0..s.time.epochs)
        .map(|e| s.nominal_load(&s.demand, e))
        .fold(0.0, f64::max);
    assert!((peak - 0.95).abs() < 1e-9, "{peak}");
    let plan = verdant::allocator::rules::Even.plan(&s).unwrap();
    let out = FluidSimulator::new(&s, SimParams::default())
        .score(&plan)
        .unwrap();
    assert!(out.latency.mean_ttft_s.is_finite() && out.latency.mean_ttft_s > 0.0);
    assert!(out.totals.facility_kwh > 0.0);
}

#[test]
fn a_bad_rates_source_names_the_key() {
    let data = scenarios_dir().join("..");
    let rates = |classes: &str, epochs: usize| {
        format!(
            "[time]\nepochs = {epochs}\n[demand]\ntile = false\ntrace = {{ source = \"rates\", file = {:?}, classes = {{ {classes} }}, sample_requests = 1000, sizes_file = {:?} }}\n",
            data.join("servegen-language-14d/language_14d.csv").display().to_string(),
            data.join("azure-llm-2023/AzureLLMInferenceTrace_conv.csv").display().to_string(),
        )
    };
    for (extra, key, text) in [
        (
            rates("\"llama-7b\" = \"m-huge\"", 96),
            "demand.trace.classes.llama-7b: ",
            "has no model \"m-huge\"; it has m-large, m-mid, m-small",
        ),
        (
            rates("\"llama-13b\" = \"m-mid\"", 96),
            "demand.trace.classes.llama-13b: ",
            "no class named",
        ),
        (
            rates("\"llama-7b\" = \"m-mid\"", 1400),
            "demand.trace.file: ",
            "covers 1209600 s",
        ),
    ] {
        let err = broken(&extra)
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"))
            .to_string();
        assert!(err.contains(key) && err.contains(text), "{extra}\n-> {err}");
    }
    // Without a sizes file, token counts follow the table's window means: ServeGen's m-large
    // prompts average about 350 tokens, the Azure conversation trace's about 1,150.
    let means = broken(&format!(
        "[time]\nepochs = 96\n[demand]\ntile = false\ntrace = {{ source = \"rates\", file = {:?}, classes = {{ \"llama-70b\" = \"m-large\" }}, sample_requests = 20000 }}\n",
        data.join("servegen-language-14d/language_14d.csv").display().to_string(),
    ))
    .unwrap();
    let [requests, input, _] = means.model_demand(&means.demand, 1);
    let (lo, hi) = verdant::trace::rate_table::read_rate_table(
        &data.join("servegen-language-14d/language_14d.csv"),
    )
    .map(|t| {
        let m = t.models.iter().position(|m| m == "m-large").unwrap();
        t.windows[m][..144]
            .iter()
            .filter_map(|w| w.mean_input_tokens)
            .fold((f64::INFINITY, 0.0_f64), |(a, b), x| (a.min(x), b.max(x)))
    })
    .unwrap();
    let mean_input = input / requests;
    assert!(
        mean_input > 0.95 * lo && mean_input < 1.05 * hi,
        "{mean_input} in {lo}..{hi}"
    );
    // One class mapped: the other gets no demand.
    let s = broken(&rates("\"llama-70b\" = \"m-large\"", 96)).unwrap();
    assert_eq!(s.model_demand(&s.demand, 0)[0], 0.0);
    assert!(s.model_demand(&s.demand, 1)[0] > 0.0);
}

/// The 14-day scenario names its split; its training and test days are sub-scenarios with the
/// time grid, grid signals, demand and request sample cut to them.
#[test]
fn a_split_cuts_training_and_held_out_days() {
    use verdant::scenario::{DayRange, DaySplit};
    let s = verdant::scenario::bundled("geo-8dc-14d").unwrap();
    let split = s.split.expect("geo-8dc-14d names a split");
    assert_eq!(
        split,
        DaySplit {
            train: DayRange::numbered(1, 11).unwrap(),
            test: DayRange::numbered(12, 14).unwrap(),
        }
    );
    let train = s.days(split.train).unwrap();
    let test = s.days(split.test).unwrap();
    assert_eq!((train.time.epochs, test.time.epochs), (11 * 96, 3 * 96));
    assert_eq!(test.name, "geo-8dc-14d days 12-14");
    assert_eq!(test.time.start_unix_s, s.time.start_unix_s + 11 * 86_400);
    assert!(train.split.is_none() && test.split.is_none());
    let (o, c) = (2, 1);
    for e in [0, 95, 287] {
        assert_eq!(
            test.demand.requests(o, c, e),
            s.demand.requests(o, c, 1056 + e)
        );
        assert_eq!(
            test.demand.input_tokens(o, c, e),
            s.demand.input_tokens(o, c, 1056 + e)
        );
    }
    let total = train.demand.total_requests() + test.demand.total_requests();
    assert!((total - s.demand.total_requests()).abs() < 1e-6 * total);
    for (k, dc) in test.datacenters.iter().enumerate() {
        assert_eq!(dc.grid.carbon_kg_per_kwh.len(), 72);
        assert_eq!(
            dc.grid.carbon_kg_per_kwh[0],
            s.datacenters[k].grid.carbon_kg_per_kwh[11 * 24]
        );
    }
    // The request sample: each request in exactly one part, arrivals from the part's start.
    assert_eq!(train.requests.len() + test.requests.len(), s.requests.len());
    assert!(test
        .requests
        .iter()
        .all(|r| (0.0..3.0 * 86_400.0).contains(&r.arrival_s)));
    assert!(test.sample_share() > 0.0);
    // Days past the horizon are refused.
    assert!(s.days(DayRange::numbered(14, 15).unwrap()).is_err());
}

#[test]
fn a_bad_split_names_the_key() {
    for (extra, key, text) in [
        (
            "[split]\ntrain_days = [1, 1]\ntest_days = [2, 2]\n",
            "split.test_days: ",
            "past the horizon's 1 whole days",
        ),
        (
            "[time]\nepochs = 192\n[split]\ntrain_days = [1, 2]\ntest_days = [2, 2]\n",
            "split.test_days: ",
            "overlap the training days 1-2",
        ),
        (
            "[split]\ntrain_days = [0, 1]\ntest_days = [1, 1]\n",
            "split.train_days: ",
            "numbered from 1",
        ),
        (
            "[split]\ntrain_days = [1, 1]\n",
            "split: ",
            "missing field `test_days`",
        ),
    ] {
        let err = broken(extra)
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"))
            .to_string();
        assert!(err.contains(key) && err.contains(text), "{extra}\n-> {err}");
    }
}

#[test]
fn every_bundled_scenario_is_feasible_and_overloads_or_thirst_are_not() {
    use verdant::allocator::{feasibility, AllocError, Problem};
    use verdant::sim::SimParams;
    // The geo and Green-LLM worlds (the lb-* files are the load balancer's server sets).
    for name in verdant::scenario::bundled_names()
        .into_iter()
        .filter(|n| !n.starts_with("lb-"))
    {
        let s = verdant::scenario::bundled(&name).unwrap();
        assert_eq!(feasibility::check(&s), Ok(()), "{name}");
    }
    // geo-4dc's demand peaks at 0.95 of its fleet: twice that is more than the fleet.
    let geo = verdant::scenario::bundled("geo-4dc").unwrap();
    let over = geo.scaled(verdant::scenario::Scaled::Demand, 2.0).unwrap();
    let e = feasibility::check(&over).unwrap_err();
    assert_eq!(
        (e.constraint, e.field),
        ("fleet capacity", "demand.peak_utilisation")
    );
    assert!(e.message.contains("times the fleet's GPU time"), "{e}");
    // Every method meets it the same way, through the problem.
    let err = Problem::new(&over, SimParams::default())
        .feasible()
        .unwrap_err();
    assert!(matches!(err, AllocError::Infeasible(ref i) if *i == e));
    // Green-LLM's world with a water budget below the least water of any plan.
    let green = verdant::scenario::bundled("green-llm-base").unwrap();
    let mut parts = green.into_parts();
    parts.green_llm.as_mut().unwrap().water_budget_l = 1.0;
    let thirsty = verdant::scenario::Scenario::from_parts(parts).unwrap();
    let e = feasibility::check(&thirsty).unwrap_err();
    assert_eq!(e.constraint, "water budget");
    assert!(e.to_string().contains("green_llm.water_budget_l"), "{e}");
}
