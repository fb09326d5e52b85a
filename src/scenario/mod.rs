//! The world every method reads: datacenters, grids, models, network and demand.
//!
//! A [`Scenario`] is built once from a TOML file ([`Scenario::load`], schema in [`mod@file`]) and is
//! checked on the way: every number finite and in range, every series as long as the horizon,
//! every name that refers to something resolved to an index. Past that point nothing re-checks.
//! A `Scenario` can only be obtained checked: from a file, from its [`ScenarioParts`]
//! ([`Scenario::from_parts`]), or by a checked transform ([`Scenario::scaled`],
//! [`Scenario::replicated`]); it reads as its parts (`Deref`) and cannot be changed in place.
//!
//! Two accounting families meet here (the simulator implements both; see docs/metrics.md):
//! - MARLIN's: node pools of A100/H100 GPUs whose power is a fraction of TDP, CRAC cooling by COP,
//!   evaporative and blowdown water, water-treatment carbon;
//! - Green-LLM's: energy per token, PUE, on-site renewables offsetting grid power, WUE/EWIF water,
//!   carbon tax, resource capacities, and its delay model ([`GreenLlmTerms`]).
//!
//! Units are in field names (`_s`, `_kwh`, `_kw`, `_l`, `_kg`, `_usd`, `_gb`, `_mb`).

mod check;
pub mod file;
mod green_llm;
pub mod lb;
mod split;
mod transform;

use serde::{Deserialize, Serialize};

use crate::trace::EpochDemand;

pub use file::ScenarioError;
pub use split::{epochs_per_day, DayRange, DaySplit, DAY_S};
pub use transform::Scaled;

/// Most GPU kinds a scenario may declare: the simulator keeps per-kind figures in fixed arrays of
/// this size, so that scoring allocates nothing.
pub const MAX_GPU_KINDS: usize = 8;

/// Most epochs of a scenario: 100,000 (about 2.9 years of 15-minute epochs). Per-epoch series
/// (demand, plans, the simulators' accounts) grow with it.
pub const MAX_EPOCHS: usize = 100_000;

/// Most datacenters of a scenario: 1,000. The network has a latency per origin and datacenter,
/// every plan a share per datacenter, the exact front's LP variables per datacenter-epoch.
pub const MAX_DATACENTERS: usize = 1_000;

/// Most origins or classes of a scenario: 1,000 each (stored as 16-bit indices, and every
/// plan has a row per epoch, origin and class).
pub const MAX_ORIGINS_OR_CLASSES: usize = 1_000;

/// Most shares in one plan (epochs x origins x classes x datacenters): 2^24, 128 MiB of
/// shares. Methods hold several plans at once (a front, an archive), so a larger world would
/// not fit a 1 GB budget.
pub const MAX_PLAN_SHARES: usize = 1 << 24;

/// Most hours x datacenters of hourly grid and weather signals: 2^24 (each datacenter keeps
/// several series of the horizon's hours).
pub const MAX_HOURLY_VALUES: usize = 1 << 24;

/// The folder of the bundled scenarios (`datasets/scenarios/` of the source tree).
pub fn bundled_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/scenarios")
}

/// The names of the bundled scenarios, sorted (`geo-common`, which the geo scenarios include, is
/// not one).
pub fn bundled_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bundled_dir())
        .map(|entries| {
            entries
                .filter_map(|e| {
                    e.ok()?
                        .file_name()
                        .into_string()
                        .ok()?
                        .strip_suffix(".toml")
                        .map(str::to_owned)
                })
                .filter(|n| n != "geo-common")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The bundled scenario `name` (`geo-4dc` .. `geo-12dc`, `green-llm-base`, ...), loaded with
/// master seed 0: what tests, benchmarks and doc examples use.
///
/// ```
/// let s = verdant::scenario::bundled("geo-8dc").unwrap();
/// assert_eq!(s.datacenters.len(), 8);
/// ```
pub fn bundled(name: &str) -> Result<Scenario, ScenarioError> {
    Scenario::load(
        &bundled_dir().join(format!("{name}.toml")),
        crate::seed::MasterSeed(0),
    )
}

/// The scenario file `arg` names: a path to a file, or the name of a bundled scenario
/// (`geo-8dc`, `lb-nominal`, ...). The error lists the bundled names.
pub fn resolve(arg: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::Path::new(arg);
    if path.is_file() {
        return Ok(path.to_owned());
    }
    let bundled = bundled_dir().join(format!("{arg}.toml"));
    if bundled.is_file() {
        return Ok(bundled);
    }
    Err(format!(
        "no scenario file {arg:?} and no bundled scenario of that name (bundled: {})",
        bundled_names().join(", ")
    ))
}

/// The time axis: `epochs` epochs of `epoch_s` seconds from `start_unix_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGrid {
    /// Start of epoch 0, Unix seconds (UTC).
    pub start_unix_s: i64,
    /// Length of an epoch, seconds.
    pub epoch_s: f64,
    /// Number of epochs.
    pub epochs: usize,
}

impl TimeGrid {
    /// Index of the hour (from the grid's start) in which `epoch` begins.
    pub fn hour_of_epoch(&self, epoch: usize) -> usize {
        (epoch as f64 * self.epoch_s / 3600.0) as usize
    }

    /// Seconds since midnight (UTC) at which `epoch` begins.
    pub fn time_of_day_s(&self, epoch: usize) -> f64 {
        (self.start_unix_s as f64 + epoch as f64 * self.epoch_s).rem_euclid(DAY_S)
    }

    /// The hour of the day (UTC, 0-23) in which `epoch` begins.
    pub fn hour_of_day(&self, epoch: usize) -> usize {
        ((self.time_of_day_s(epoch) / 3600.0) as usize).min(23)
    }

    /// Hours needed to cover the horizon.
    pub fn hours(&self) -> usize {
        (self.epochs as f64 * self.epoch_s / 3600.0).ceil() as usize
    }

    /// The horizon's length, seconds.
    pub fn horizon_s(&self) -> f64 {
        self.epochs as f64 * self.epoch_s
    }
}

/// A GPU kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuKind {
    /// The kind's name (`A100`, `H100`).
    pub name: String,
    /// Thermal design power, W.
    pub tdp_w: f64,
    /// Memory per GPU, GB.
    pub memory_gb: f64,
    /// Power drawn when idle, as a fraction of TDP.
    pub idle_tdp_fraction: f64,
    /// Host-to-GPU bandwidth for loading weights (BW_n of the paper's eq. 3).
    pub weight_load_gb_per_s: f64,
}

/// Speed of one model instance on one GPU kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpeed {
    /// Prompt tokens processed per second by one instance (on `min_gpus` GPUs).
    pub prefill_tokens_per_s: f64,
    /// Output tokens per second of one request decoding alone on one instance (batch 1).
    pub decode_tokens_per_s: f64,
}

/// An LLM's memory and speed profile.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmProfile {
    /// The model's name.
    pub name: String,
    /// Memory its weights take, GB.
    pub weights_gb: f64,
    /// KV cache per token in context, MB.
    pub kv_cache_mb_per_token: f64,
    /// GPUs one instance needs (tensor parallelism); instances per node = GPUs per node / this.
    pub min_gpus: u32,
    /// Power during prefill and decode, as fractions of TDP.
    pub prefill_tdp_fraction: f64,
    /// Power during decode, as a fraction of TDP.
    pub decode_tdp_fraction: f64,
    /// Speed per GPU kind, indexed like [`ScenarioParts::gpus`]; `None` where the model cannot run.
    pub speed: Vec<Option<ModelSpeed>>,
}

/// A class of requests (a model served, or a Green-LLM query type).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestClass {
    /// The class's name.
    pub name: String,
    /// Index into [`ScenarioParts::models`], where requests of the class run a modelled LLM.
    pub model: Option<usize>,
    /// Green-LLM's energy per token (tau_in, tau_out), where given.
    pub energy_kwh_per_input_token: Option<f64>,
    /// Green-LLM's energy per output token (tau_out), where given.
    pub energy_kwh_per_output_token: Option<f64>,
    /// Green-LLM's delay penalty weight rho (USD per second of delay).
    pub delay_penalty_usd_per_s: Option<f64>,
    /// Green-LLM's resource units per token (alpha), one per resource of [`GreenLlmTerms`].
    pub resource_units_per_token: Vec<f64>,
}

/// A place requests come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The origin's name.
    pub name: String,
    /// Latitude, degrees, where known.
    pub latitude_deg: Option<f64>,
    /// Longitude, degrees, where known.
    pub longitude_deg: Option<f64>,
}

/// Nodes of one type in a datacenter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodePool {
    /// Index into [`ScenarioParts::gpus`].
    pub gpu: usize,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// Number of nodes.
    pub nodes: u32,
}

/// How facility energy and on-site water follow from IT energy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum Facility {
    /// MARLIN: CRAC energy = IT / COP(T); cooling = `cooling_factor` x CRAC; infrastructure =
    /// `infrastructure_fraction` x IT; on-site water from cooling heat (evaporation, blowdown).
    Cop {
        /// CRAC supply temperature T in COP(T) = 0.0068 T^2 + 0.0008 T + 0.458.
        supply_temperature_c: f64,
        /// Cooling energy as a multiple of the CRAC energy.
        cooling_factor: f64,
        /// Infrastructure energy as a fraction of IT energy.
        infrastructure_fraction: f64,
        /// Latent heat of vaporisation of water, MJ per kg.
        latent_heat_mj_per_kg: f64,
        /// Cycles of concentration of the cooling tower's water.
        cycles_of_concentration: f64,
    },
    /// Green-LLM: facility energy = PUE x IT; on-site water = WUE x IT (hourly WUE series).
    Pue {
        /// Power usage effectiveness.
        pue: f64,
    },
}

impl Facility {
    /// What is wrong with these values, if anything: the field and why. The one place the
    /// facility's rules live; loading a file and [`Scenario::from_parts`] both use it.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let bad = |field, message: String| Some((field, message));
        match *self {
            Facility::Cop {
                supply_temperature_c: t,
                cooling_factor,
                infrastructure_fraction,
                latent_heat_mj_per_kg,
                cycles_of_concentration,
            } => {
                if !(t.is_finite() && (5.0..=35.0).contains(&t)) {
                    return bad(
                        "supply_temperature_c",
                        format!("must be within 5..35 C, got {t}"),
                    );
                }
                for (field, v) in [
                    ("cooling_factor", cooling_factor),
                    ("infrastructure_fraction", infrastructure_fraction),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return bad(field, format!("must be a finite number >= 0, got {v}"));
                    }
                }
                if !(latent_heat_mj_per_kg.is_finite() && latent_heat_mj_per_kg > 0.0) {
                    return bad(
                        "latent_heat_mj_per_kg",
                        format!("must be a finite number > 0, got {latent_heat_mj_per_kg}"),
                    );
                }
                if !(cycles_of_concentration.is_finite() && cycles_of_concentration > 1.0) {
                    return bad(
                        "cycles_of_concentration",
                        format!("must be > 1, got {cycles_of_concentration}"),
                    );
                }
                None
            }
            Facility::Pue { pue } => (!(pue.is_finite() && pue >= 1.0))
                .then(|| ("pue", format!("must be >= 1, got {pue}"))),
        }
    }

    /// The CRAC coefficient of performance (COP mode).
    pub fn crac_cop(supply_temperature_c: f64) -> f64 {
        let t = supply_temperature_c;
        0.0068 * t * t + 0.0008 * t + 0.458
    }
}

/// Whether a carbon intensity is an average over the generation mix or a marginal signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CarbonSignal {
    /// The mix's average intensity.
    Average,
    /// The marginal generator's intensity.
    Marginal,
}

/// Hourly grid signals of one datacenter, hour 0 at the scenario's start; each series covers
/// at least the horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSignals {
    /// Carbon intensity per hour, kg CO2 per kWh.
    pub carbon_kg_per_kwh: Vec<f64>,
    /// Whether the intensity is average or marginal.
    pub carbon_signal: CarbonSignal,
    /// Time-of-use price; may be negative (wholesale markets).
    pub price_usd_per_kwh: Vec<f64>,
    /// Water consumed off-site per kWh drawn from the grid (GI_d, EWIF).
    pub water_l_per_kwh: Vec<f64>,
    /// On-site water per kWh of IT energy (Green-LLM's WUE); empty in COP mode.
    pub onsite_wue_l_per_kwh: Vec<f64>,
    /// On-site renewable output.
    pub renewable_kw: Vec<f64>,
    /// Limit on power bought from the grid, where there is one.
    pub grid_import_max_kw: Option<Vec<f64>>,
}

impl GridSignals {
    /// Every hourly series in use (an unused one is empty, or absent), to transform alike:
    /// carbon, price, water, on-site WUE, renewables and the grid import cap.
    pub fn hourly_series_mut(&mut self) -> impl Iterator<Item = &mut Vec<f64>> {
        [
            &mut self.carbon_kg_per_kwh,
            &mut self.price_usd_per_kwh,
            &mut self.water_l_per_kwh,
            &mut self.onsite_wue_l_per_kwh,
            &mut self.renewable_kw,
        ]
        .into_iter()
        .chain(self.grid_import_max_kw.as_mut())
        .filter(|series| !series.is_empty())
    }
}

/// The in-datacenter load balancer: how a datacenter shares each model's requests among the
/// instances that can host it. Both fidelities, the planner and [`Scenario::nominal_load`] follow
/// it (docs/metrics.md, "Dispatch").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalBalancer {
    /// Weighted round robin (MARLIN's reference \[26\]): each instance's share is proportional
    /// to its throughput for the model's mean request ([`Scenario::instance_throughput`]), so
    /// every GPU kind is equally busy. The discrete-event simulator walks a smooth weighted
    /// round-robin sequence over the nodes, skipping nodes whose memory is full.
    #[default]
    WeightedRoundRobin,
    /// Every instance gets the same share whatever its GPU (the rule before issue 18; files that
    /// say `modified-round-robin` get this).
    #[serde(alias = "modified-round-robin")]
    EqualShare,
}

/// One datacenter.
#[derive(Debug, Clone, PartialEq)]
pub struct Datacenter {
    /// The datacenter's name.
    pub name: String,
    /// Latitude, degrees, where known.
    pub latitude_deg: Option<f64>,
    /// Longitude, degrees, where known.
    pub longitude_deg: Option<f64>,
    /// Its nodes, by type.
    pub node_pools: Vec<NodePool>,
    /// How facility energy and on-site water follow from IT energy.
    pub facility: Facility,
    /// Carbon tax, USD per kg CO2.
    pub carbon_tax_usd_per_kg: f64,
    /// Hourly grid signals.
    pub grid: GridSignals,
    /// How requests are shared among its instances.
    pub local_balancer: LocalBalancer,
    /// Green-LLM: capacity per resource and slot.
    pub resource_capacity: Vec<f64>,
    /// Green-LLM: processing seconds per token, per request class.
    pub processing_s_per_token: Vec<f64>,
}

impl Datacenter {
    /// GPUs of every kind in the datacenter.
    pub fn gpu_count(&self) -> u64 {
        self.node_pools
            .iter()
            .map(|p| u64::from(p.gpus_per_node) * u64::from(p.nodes))
            .sum()
    }
}

/// Network between origins and datacenters.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Round-trip delay, origin x datacenter, seconds (the paper's 2 x LA_net).
    pub round_trip_s: Vec<Vec<f64>>,
    /// Bandwidth, origin x datacenter, Mbit/s, where known.
    pub bandwidth_mbps: Option<Vec<Vec<f64>>>,
}

/// Energy to supply and treat water, for the carbon of water (MARLIN eqs. 9-10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterTreatment {
    /// Energy to supply potable water, kWh per m3.
    pub potable_kwh_per_m3: f64,
    /// Energy to treat wastewater, kWh per m3.
    pub wastewater_kwh_per_m3: f64,
}

/// Terms only Green-LLM's model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct GreenLlmTerms {
    /// Daily water budget Z over all datacenters.
    pub water_budget_l: f64,
    /// Names of the resources of `resource_capacity` and `resource_units_per_token`.
    pub resources: Vec<String>,
    /// Delay threshold Delta, origin x class.
    pub delay_threshold_s: Vec<Vec<f64>>,
    /// beta: KB per token, origin x class x epoch.
    pub kb_per_token: Vec<Vec<Vec<f64>>>,
}

/// The world's parts as given, unchecked: what [`Scenario::from_parts`] checks into a
/// [`Scenario`], and what a `Scenario` reads as (it dereferences to its parts).
#[derive(Debug, Clone)]
pub struct ScenarioParts {
    /// The scenario's name.
    pub name: String,
    /// What it is, in words.
    pub description: String,
    /// The time axis.
    pub time: TimeGrid,
    /// GPU kinds.
    pub gpus: Vec<GpuKind>,
    /// LLM profiles.
    pub models: Vec<LlmProfile>,
    /// Request classes.
    pub classes: Vec<RequestClass>,
    /// Where requests come from.
    pub origins: Vec<Origin>,
    /// The datacenters.
    pub datacenters: Vec<Datacenter>,
    /// Round trips (and bandwidths) between origins and datacenters.
    pub network: Network,
    /// Requests and tokens per origin, class and epoch.
    pub demand: EpochDemand,
    /// The requests the demand table was aggregated from, before it was scaled (arrival times
    /// from the scenario's start, class and origin assigned): what a discrete-event run
    /// simulates, on [`Scenario::sample_share`] of the nodes. Empty where demand is a table.
    pub requests: Vec<crate::trace::Request>,
    /// Where the demand comes from, in words (files, mapping, scaling).
    pub demand_source: String,
    /// Energy of water supply and treatment, for the carbon of water.
    pub water_treatment: WaterTreatment,
    /// TTFT above which a request violates its service level, seconds.
    pub ttft_slo_s: f64,
    /// Terms only Green-LLM's model reads, where the scenario has them.
    pub green_llm: Option<GreenLlmTerms>,
    /// The days learned methods train on and the days held out for every comparison, where
    /// the scenario names them.
    pub split: Option<DaySplit>,
}

/// The world, checked; see the module documentation. It is only obtained checked: loaded from a
/// file ([`Scenario::load`], [`bundled`]), built from parts by [`Scenario::from_parts`], or
/// made from another by a checked transform ([`Scenario::scaled`], [`Scenario::replicated`]).
/// Its parts are read through `Deref` (`scenario.datacenters`, ...) and cannot be changed.
#[derive(Debug, Clone)]
pub struct Scenario {
    parts: ScenarioParts,
}

impl std::ops::Deref for Scenario {
    type Target = ScenarioParts;
    fn deref(&self) -> &ScenarioParts {
        &self.parts
    }
}

/// Decimal megabytes per gigabyte, for memory arithmetic (GB and MB are 10^9 and 10^6 bytes).
const MB_PER_GB: f64 = 1000.0;

impl Scenario {
    /// Instances of `model` a node pool holds: `nodes x floor(gpus_per_node / min_gpus)`, or 0
    /// where the model has no speed on the pool's GPU kind.
    pub fn instances(&self, pool: &NodePool, model: usize) -> u64 {
        let m = &self.models[model];
        if m.speed[pool.gpu].is_none() {
            return 0;
        }
        u64::from(pool.nodes) * u64::from(pool.gpus_per_node / m.min_gpus)
    }

    /// Requests of `tokens` tokens each (prompt plus output) that one instance of `model` on a
    /// node of `pool` can hold at once: its [`Scenario::token_room`] divided by the KV cache of
    /// one request (the paper's eq. 1), rounded down.
    pub fn instance_batch(&self, model: usize, pool: &NodePool, tokens: f64) -> f64 {
        batch_in_room(self.token_room(model, pool), tokens)
    }

    /// The sample's share of the demand: `requests.len() / demand.total_requests()` (0 without
    /// a sample). Simulating the sample on this share of each pool's nodes keeps the load.
    pub fn sample_share(&self) -> f64 {
        let total = self.demand.total_requests();
        if self.requests.is_empty() || total <= 0.0 {
            0.0
        } else {
            (self.requests.len() as f64 / total).min(1.0)
        }
    }

    /// Requests drawn from the demand table at `scale` (0.01: one request for every hundred of
    /// the table), for a discrete-event run on the same share of the nodes. Each (epoch, origin,
    /// class) cell gets `scale x requests` requests (the fraction rounded up with that
    /// probability), arriving uniformly within the epoch; token counts are drawn from the
    /// scenario's request sample of the same class and epoch (the requests the table's cell was
    /// aggregated from, so that the drawn tokens follow the epoch's own means, as the fluid
    /// simulator's do), of the same class where the epoch has none, or are the cell's mean where
    /// there is no sample (a demand table such as Green-LLM's). Sorted by arrival. The same `rng`
    /// state gives the same requests.
    pub fn draw_requests(
        &self,
        scale: f64,
        rng: &mut impl rand::Rng,
    ) -> Vec<crate::trace::Request> {
        let d = &self.demand;
        let nc = self.classes.len();
        let mut by_class: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nc];
        let mut by_epoch: Vec<Vec<(u32, u32)>> = vec![Vec::new(); d.epochs() * nc];
        for r in &self.requests {
            let c = usize::from(r.class);
            if c >= nc {
                continue;
            }
            let tokens = (r.input_tokens, r.output_tokens);
            by_class[c].push(tokens);
            let e = (r.arrival_s / self.time.epoch_s).floor();
            if e >= 0.0 && (e as usize) < d.epochs() {
                by_epoch[e as usize * nc + c].push(tokens);
            }
        }
        let mut out = Vec::new();
        for e in 0..d.epochs() {
            for o in 0..d.origins() {
                for (c, class_pool) in by_class.iter().enumerate() {
                    let epoch_pool = &by_epoch[e * nc + c];
                    let pool = if epoch_pool.is_empty() {
                        class_pool
                    } else {
                        epoch_pool
                    };
                    let expected = d.requests(o, c, e) * scale;
                    if expected.is_nan() || expected <= 0.0 {
                        continue;
                    }
                    let whole = expected.floor();
                    let n = whole as u64 + u64::from(rng.gen::<f64>() < expected - whole);
                    let mean = (
                        (d.input_tokens(o, c, e) / d.requests(o, c, e)).round() as u32,
                        (d.output_tokens(o, c, e) / d.requests(o, c, e)).round() as u32,
                    );
                    for _ in 0..n {
                        let (input_tokens, output_tokens) = if pool.is_empty() {
                            mean
                        } else {
                            pool[rng.gen_range(0..pool.len())]
                        };
                        out.push(crate::trace::Request {
                            arrival_s: (e as f64 + rng.gen::<f64>()) * self.time.epoch_s,
                            input_tokens,
                            output_tokens,
                            class: c as u16,
                            origin: o as u16,
                            shared_prefix_tokens: 0,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
        out
    }

    /// The node fraction that simulates one node of the largest pool (and at least one of every
    /// other pool); 1 for a scenario without node pools.
    pub fn one_node_fraction(&self) -> f64 {
        let largest = self
            .datacenters
            .iter()
            .flat_map(|d| &d.node_pools)
            .map(|p| p.nodes)
            .max()
            .unwrap_or(1);
        1.0 / f64::from(largest.max(1))
    }

    /// MB of a node of `pool` left for KV caches when the weights of every model it can host
    /// are resident (once per node, as the discrete-event simulator loads them; it keeps a
    /// model's weights while it serves the model), and the instances of those models the node
    /// holds. A model can be hosted where it has a speed on the pool's GPU kind and needs no
    /// more GPUs than a node has.
    pub fn node_kv_memory_mb(&self, pool: &NodePool) -> (f64, u32) {
        let hosted = || {
            self.models
                .iter()
                .filter(|m| m.speed[pool.gpu].is_some() && m.min_gpus <= pool.gpus_per_node)
        };
        let weights_gb: f64 = hosted().map(|m| m.weights_gb).sum();
        let instances = hosted().map(|m| pool.gpus_per_node / m.min_gpus).sum();
        let memory_gb = f64::from(pool.gpus_per_node) * self.gpus[pool.gpu].memory_gb;
        ((memory_gb - weights_gb).max(0.0) * MB_PER_GB, instances)
    }

    /// Tokens of KV cache one instance of `model` on a node of `pool` can hold: the node's KV
    /// memory ([`Scenario::node_kv_memory_mb`]: its GPUs' memory less the weights of every
    /// model it can host) split evenly over the instances it holds, over the model's KV cache
    /// per token; 0 where the pool cannot host the model or the weights fill the memory
    /// (docs/decisions/0007).
    pub fn token_room(&self, model: usize, pool: &NodePool) -> f64 {
        let m = &self.models[model];
        if m.speed[pool.gpu].is_none() || m.min_gpus > pool.gpus_per_node {
            return 0.0;
        }
        let (free_mb, instances) = self.node_kv_memory_mb(pool);
        (free_mb / f64::from(instances.max(1)) / m.kv_cache_mb_per_token).max(0.0)
    }

    /// Share of an instance's decode power that one decoding request of `tokens` tokens (prompt
    /// plus output) draws: the share of the instance's KV-cache room it holds, `tokens /`
    /// [`Scenario::token_room`], at most 1. Decode is memory-bound: a full batch takes about the
    /// time of one request, so a request holding 1/B of the room draws 1/B of the decode power
    /// for its decode time (docs/metrics.md, "Decode power").
    #[inline]
    pub fn decode_share(&self, model: usize, pool: &NodePool, tokens: f64) -> f64 {
        memory_share(self.token_room(model, pool), tokens)
    }

    /// GPU-seconds that `input` prompt and `output` generated tokens of `model` (requests of
    /// `mean_tokens` tokens on average) keep busy on instances on nodes of `pool`: prefill
    /// `input / prefill_speed x min_gpus`, decode `output / decode_speed x min_gpus x`
    /// [`Scenario::decode_share`]`(mean_tokens)`. Returns (prefill, decode). The fluid simulator,
    /// the planner and [`Scenario::nominal_load`] use this one rule; the discrete-event simulator
    /// applies it request by request.
    pub fn busy_gpu_s(
        &self,
        model: usize,
        pool: &NodePool,
        input: f64,
        output: f64,
        mean_tokens: f64,
    ) -> Option<(f64, f64)> {
        let m = &self.models[model];
        let speed = m.speed[pool.gpu]?;
        let gpus = f64::from(m.min_gpus);
        Some((
            input / speed.prefill_tokens_per_s * gpus,
            output / speed.decode_tokens_per_s * gpus * self.decode_share(model, pool, mean_tokens),
        ))
    }

    /// Requests per second one instance of `model` on a node of `pool` serves at full use, for
    /// requests of `input` and `output` tokens: one over its instance-seconds per request,
    /// prefill plus decode at [`Scenario::decode_share`] (`busy_gpu_s / min_gpus`). The weighted
    /// round robin's weight; `None` where the kind cannot host the model.
    pub fn instance_throughput(
        &self,
        model: usize,
        pool: &NodePool,
        input: f64,
        output: f64,
    ) -> Option<f64> {
        let (prefill, decode) = self.busy_gpu_s(model, pool, input, output, input + output)?;
        let instance_s = (prefill + decode) / f64::from(self.models[model].min_gpus);
        (instance_s > 0.0).then(|| 1.0 / instance_s)
    }

    /// The mean request of `model` in `demand`: (input, output) tokens over all its classes,
    /// origins and epochs; `None` where it has no demand. The weighted round robin's weights
    /// are computed for it (weights are fixed for the horizon, as a balancer's are).
    pub fn mean_request(&self, demand: &EpochDemand, model: usize) -> Option<(f64, f64)> {
        let [requests, input, output] = self.model_demand(demand, model);
        (requests > 0.0).then(|| (input / requests, output / requests))
    }

    /// `model`'s requests in `demand` and their input and output tokens, over all its classes,
    /// origins and epochs.
    pub fn model_demand(&self, demand: &EpochDemand, model: usize) -> [f64; 3] {
        let (mut requests, mut input, mut output) = (0.0, 0.0, 0.0);
        for (c, class) in self.classes.iter().enumerate() {
            if class.model != Some(model) {
                continue;
            }
            for e in 0..demand.epochs() {
                for o in 0..demand.origins() {
                    requests += demand.requests(o, c, e);
                    input += demand.input_tokens(o, c, e);
                    output += demand.output_tokens(o, c, e);
                }
            }
        }
        [requests, input, output]
    }

    /// The prompt lengths (input tokens) of `model`'s requests in the scenario's request sample.
    pub fn sample_prompt_tokens(&self, model: usize) -> impl Iterator<Item = f64> + '_ {
        self.requests
            .iter()
            .filter(move |r| {
                self.classes.get(usize::from(r.class)).and_then(|c| c.model) == Some(model)
            })
            .map(|r| f64::from(r.input_tokens))
    }

    /// Shares of `model`'s requests that `balancer` gives each of `pools` (same order; they sum
    /// to 1, or are all 0 where no pool hosts the model), for the model's mean request `mean`
    /// (input, output). A pool's share is its instances times the balancer's weight per
    /// instance: 1 ([`LocalBalancer::EqualShare`]) or [`Scenario::instance_throughput`]
    /// ([`LocalBalancer::WeightedRoundRobin`]; equal weights where there is no mean request).
    pub fn dispatch_shares<'p>(
        &self,
        balancer: LocalBalancer,
        pools: impl Iterator<Item = &'p NodePool> + Clone,
        model: usize,
        mean: Option<(f64, f64)>,
    ) -> Vec<f64> {
        let weight = |p: &NodePool| {
            let instances = self.instances(p, model) as f64;
            if instances <= 0.0 {
                return 0.0;
            }
            instances
                * match (balancer, mean) {
                    (LocalBalancer::WeightedRoundRobin, Some((i, o))) => {
                        self.instance_throughput(model, p, i, o).unwrap_or(0.0)
                    }
                    _ => 1.0,
                }
        };
        let total: f64 = pools.clone().map(weight).sum();
        pools
            .map(|p| if total > 0.0 { weight(p) / total } else { 0.0 })
            .collect()
    }

    /// The nominal load of the whole fleet in `epoch`: the busy share of all GPU-seconds if every
    /// class's demand were spread over all instances of its model in the fleet by the weighted
    /// round robin (the datacenters' default rule applied to the fleet as one datacenter), so
    /// every GPU kind that hosts a model is equally busy.
    ///
    /// This is the rule that scales trace demand to a target peak utilisation
    /// (`demand.peak_utilisation`: 0.95 means the busiest epoch keeps every GPU of the fleet 95%
    /// busy when spread this way), not a metric of any plan: plans are scored by the simulator.
    /// Infinite where a class with demand has no instance, or no instance holds a mean request.
    pub fn nominal_load(&self, demand: &EpochDemand, epoch: usize) -> f64 {
        let pools = || self.datacenters.iter().flat_map(|d| &d.node_pools);
        let available: f64 = pools()
            .map(|p| f64::from(p.gpus_per_node) * f64::from(p.nodes))
            .sum::<f64>()
            * demand.epoch_s();
        let mut busy = 0.0;
        for (c, class) in self.classes.iter().enumerate() {
            let (mut requests, mut input, mut output) = (0.0, 0.0, 0.0);
            for o in 0..demand.origins() {
                requests += demand.requests(o, c, epoch);
                input += demand.input_tokens(o, c, epoch);
                output += demand.output_tokens(o, c, epoch);
            }
            let Some(m) = class.model else { continue };
            if requests <= 0.0 {
                continue;
            }
            let mean_tokens = (input + output) / requests;
            let shares = self.dispatch_shares(
                LocalBalancer::WeightedRoundRobin,
                pools(),
                m,
                self.mean_request(demand, m),
            );
            if shares.iter().all(|&x| x <= 0.0) {
                return f64::INFINITY;
            }
            for (p, share) in pools().zip(shares) {
                if share > 0.0 {
                    if self.instance_batch(m, p, mean_tokens) < 1.0 {
                        return f64::INFINITY;
                    }
                    let (prefill, decode) = self
                        .busy_gpu_s(m, p, share * input, share * output, mean_tokens)
                        .unwrap_or((0.0, 0.0));
                    busy += prefill + decode;
                }
            }
        }
        if available > 0.0 {
            busy / available
        } else {
            f64::INFINITY
        }
    }
}

/// Share of `token_room` tokens of KV cache that `tokens` tokens hold, at most 1 (1 where there
/// is no room).
#[inline]
pub fn memory_share(token_room: f64, tokens: f64) -> f64 {
    if token_room > 0.0 {
        (tokens / token_room).min(1.0)
    } else {
        1.0
    }
}

/// Requests of `tokens` tokens each that fit in `token_room` tokens of KV cache (rounded down).
#[inline]
pub fn batch_in_room(token_room: f64, tokens: f64) -> f64 {
    if tokens <= 0.0 {
        return 0.0;
    }
    floor_non_negative(token_room / tokens)
}

/// `floor(x)` for `x >= 0`; 0 for NaN. `f64::floor` is a libm call on baseline x86-64 and a
/// float-to-integer cast is neither vectorisable there nor exact above 2^63; this sits in the
/// fluid simulator's inner loop, over datacenters side by side. Below 2^52, adding and taking
/// off 2^52 rounds `x` to the nearest integer (exactly); one less where that rounded up. From
/// 2^52 on every `f64` is an integer already.
#[inline]
fn floor_non_negative(x: f64) -> f64 {
    const TWO_POW_52: f64 = 4_503_599_627_370_496.0;
    let rounded = (x + TWO_POW_52) - TWO_POW_52;
    let floor = if rounded > x { rounded - 1.0 } else { rounded };
    if x < TWO_POW_52 {
        floor
    } else if x >= TWO_POW_52 {
        x
    } else {
        0.0
    }
}

/// Great-circle distance in km (haversine, mean Earth radius 6371 km).
pub fn great_circle_km(lat1_deg: f64, lon1_deg: f64, lat2_deg: f64, lon2_deg: f64) -> f64 {
    let (p1, p2) = (lat1_deg.to_radians(), lat2_deg.to_radians());
    let dp = p2 - p1;
    let dl = (lon2_deg - lon1_deg).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_non_negative_is_floor() {
        let two_52 = 2f64.powi(52);
        let mut xs = vec![
            0.0,
            0.25,
            0.5,
            0.75,
            1.0,
            1.5,
            2.5,
            3.5,
            f64::MIN_POSITIVE,
            1.0 - f64::EPSILON,
            1.0 + f64::EPSILON,
            two_52 - 0.5,
            two_52 - 1.0,
            two_52,
            two_52 + 1.0,
            two_52 * 2.0 + 2.0,
            1e300,
            f64::MAX,
            f64::INFINITY,
        ];
        // Integers and the values just around them, over many magnitudes.
        for k in 0..60 {
            let n = 2f64.powi(k) + 3.0;
            let (below, above) = (
                f64::from_bits(n.to_bits() - 1),
                f64::from_bits(n.to_bits() + 1),
            );
            xs.extend([n, below, above, n + 0.5, n - 0.5]);
        }
        for x in xs {
            assert_eq!(floor_non_negative(x), x.floor(), "x = {x:e}");
        }
        assert_eq!(floor_non_negative(f64::NAN), 0.0);
        assert_eq!(batch_in_room(1000.0, 148.0), 6.0);
        assert_eq!(batch_in_room(1000.0, 0.0), 0.0);
    }

    #[test]
    fn great_circle_distances_match_known_values() {
        // London - Paris about 344 km; a quarter meridian 10,008 km.
        let d = great_circle_km(51.5074, -0.1278, 48.8566, 2.3522);
        assert!((d - 343.5).abs() < 1.5, "{d}");
        assert!((great_circle_km(0.0, 0.0, 90.0, 0.0) - 10_007.5).abs() < 1.0);
    }

    #[test]
    fn cop_curve_matches_the_hp_labs_fit() {
        assert!((Facility::crac_cop(20.0) - 3.194).abs() < 1e-3);
        assert!((Facility::crac_cop(25.0) - 4.728).abs() < 1e-3);
    }

    #[test]
    fn epochs_map_to_hours() {
        let t = TimeGrid {
            start_unix_s: 0,
            epoch_s: 900.0,
            epochs: 96,
        };
        assert_eq!(
            (
                t.hour_of_epoch(0),
                t.hour_of_epoch(3),
                t.hour_of_epoch(4),
                t.hour_of_epoch(95)
            ),
            (0, 0, 1, 23)
        );
        assert_eq!(t.hours(), 24);
        // The hour of the day wraps where the hour of the horizon does not; a start at 22:30
        // UTC puts epoch 6 at 00:00.
        assert_eq!((t.hour_of_epoch(100), t.hour_of_day(100)), (25, 1));
        let late = TimeGrid {
            start_unix_s: 22 * 3600 + 1800,
            ..t
        };
        assert_eq!((late.hour_of_day(0), late.hour_of_day(6)), (22, 0));
        assert_eq!(late.time_of_day_s(6), 0.0);
    }
}
