//! The raw scenario document: typed, unchecked (unknown keys rejected by serde).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::scenario::*;
use crate::trace::generate::GeneratorParams;
use crate::trace::TraceFormat;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default = "default_slo")]
    pub(super) ttft_slo_s: f64,
    pub(super) time: TimeSpec,
    #[serde(default)]
    pub(super) gpus: Vec<GpuKind>,
    #[serde(default)]
    pub(super) models: Vec<ModelSpec>,
    pub(super) classes: Vec<ClassSpec>,
    pub(super) origins: Vec<OriginSpec>,
    pub(super) datacenters: Vec<DatacenterSpec>,
    pub(super) network: NetworkSpec,
    pub(super) demand: DemandSpec,
    pub(super) water_treatment: WaterTreatment,
    #[serde(default)]
    pub(super) split: Option<SplitSpec>,
}

/// `[split]`: days numbered from 1, first and last inclusive.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SplitSpec {
    pub(super) train_days: [usize; 2],
    pub(super) test_days: [usize; 2],
}

fn default_slo() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeSpec {
    /// `YYYY-MM-DDTHH:MM:SSZ`
    pub(super) start_utc: String,
    pub(super) epoch_s: f64,
    pub(super) epochs: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelSpec {
    pub(super) name: String,
    pub(super) weights_gb: f64,
    pub(super) kv_cache_mb_per_token: f64,
    pub(super) min_gpus: u32,
    pub(super) prefill_tdp_fraction: f64,
    pub(super) decode_tdp_fraction: f64,
    pub(super) speed: BTreeMap<String, ModelSpeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClassSpec {
    pub(super) name: String,
    pub(super) model: Option<String>,
    /// Share of trace requests assigned to this class (trace demand).
    pub(super) share: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OriginSpec {
    pub(super) name: String,
    pub(super) latitude_deg: f64,
    pub(super) longitude_deg: f64,
    #[serde(default = "one")]
    pub(super) weight: f64,
    #[serde(default)]
    pub(super) utc_offset_h: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodePoolSpec {
    pub(super) gpu: String,
    pub(super) gpus_per_node: u32,
    pub(super) nodes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DatacenterSpec {
    pub(super) name: String,
    pub(super) latitude_deg: f64,
    pub(super) longitude_deg: f64,
    pub(super) node_pools: Vec<NodePoolSpec>,
    pub(super) facility: Facility,
    #[serde(default)]
    pub(super) carbon_tax_usd_per_kg: f64,
    pub(super) grid: GridSpec,
    #[serde(default)]
    pub(super) local_balancer: LocalBalancer,
}

/// Two-level time-of-use price: `base` outside the peak window, `base x peak_multiplier` inside.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TouSpec {
    pub(super) base_usd_per_mwh: f64,
    pub(super) peak_multiplier: f64,
    pub(super) peak_start_hour_utc: u32,
    pub(super) peak_end_hour_utc: u32,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum GridSpec {
    /// Carbon, water and price of a ren2022 location.
    Ren2022 { file: String, location: String },
    /// Carbon of an EIA-930 balancing area; water from its fuel mix (per-fuel factors of
    /// `water_l_per_mwh`, MWh-weighted), price from a two-level TOU.
    Eia2022 {
        file: String,
        price: TouSpec,
        water_l_per_kwh_by_fuel: BTreeMap<String, f64>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum NetworkSpec {
    /// One-way delay = great-circle km x route_factor x fibre_us_per_km + hops x hop_ms, with
    /// hops = base_hops + km / km_per_hop (rounded up); the round trip is twice that.
    Distance {
        fibre_us_per_km: f64,
        route_factor: f64,
        hop_ms: f64,
        base_hops: u32,
        km_per_hop: f64,
    },
    /// Measured round trips, origin x datacenter, and optionally bandwidths.
    Matrix {
        round_trip_s: Vec<Vec<f64>>,
        bandwidth_mbps: Option<Vec<Vec<f64>>>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum TraceSpec {
    File {
        file: String,
        /// Told from the first line when left out.
        #[serde(default)]
        format: TraceFormat,
    },
    Generator(GeneratorParams),
    /// Requests generated along a rate table's curves (`trace::rate_table`): each class named
    /// in `classes` follows the table model it maps to (classes not named get none; their
    /// `share` is not read), `sample_requests` in all over the horizon (the demand table is
    /// scaled to the fleet afterwards, so this sets only the discrete-event sample), token
    /// counts drawn from the requests of the trace `sizes_file`, or, without one, around each
    /// window's mean token counts (`trace::rate_table::Sizes::TableMeans`).
    Rates {
        file: String,
        classes: BTreeMap<String, String>,
        sample_requests: usize,
        #[serde(default)]
        sizes_file: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DemandSpec {
    pub(super) trace: TraceSpec,
    /// Repeat the trace back to back to fill the horizon.
    #[serde(default)]
    pub(super) tile: bool,
    /// Relative amplitude of a daily cosine on each origin's local time (0 = flat).
    #[serde(default)]
    pub(super) diurnal_amplitude: f64,
    #[serde(default = "afternoon")]
    pub(super) diurnal_peak_hour_local: f64,
    /// Scale all demand so that the busiest epoch loads the fleet to this fraction.
    pub(super) peak_utilisation: f64,
}

fn afternoon() -> f64 {
    14.0
}
