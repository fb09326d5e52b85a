//! The accounting both fidelities share: from what the GPUs did in one datacenter and epoch to
//! energy, cost, water and carbon. Every metric is computed here and nowhere else (the equation
//! numbers are MARLIN's; see docs/metrics.md).

use serde::{Deserialize, Serialize};

use crate::scenario::{Datacenter, Facility, Scenario};

/// How to read MARLIN's blowdown equation `G_blow = G_E / (1 - phi)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlowdownReading {
    /// `phi = 1 / cycles of concentration` and blowdown alone: `G_E phi / (1 - phi)
    /// = G_E / (COC - 1)`, so that evaporation plus blowdown is the make-up water.
    #[default]
    BlowdownOnly,
    /// The equation as printed, `G_E / (1 - phi)`, which is the whole make-up water; evaporation
    /// is then counted twice in the total.
    PaperLiteral,
}

/// What the GPUs of one datacenter did in one epoch; both fidelities fill it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// GPU-seconds busy (prefill, decode or loading weights), per GPU kind.
    pub busy_gpu_s: Vec<f64>,
    /// GPU-seconds weighted by the fraction of TDP drawn, per GPU kind (`sum fraction x seconds`).
    pub tdp_weighted_gpu_s: Vec<f64>,
    /// Energy of requests whose class gives energy per token (Green-LLM's `e_k`), kWh.
    pub token_energy_kwh: f64,
}

impl Activity {
    pub fn zeros(gpu_kinds: usize) -> Self {
        Activity {
            busy_gpu_s: vec![0.0; gpu_kinds],
            tdp_weighted_gpu_s: vec![0.0; gpu_kinds],
            token_energy_kwh: 0.0,
        }
    }

    pub fn clear(&mut self) {
        self.busy_gpu_s.iter_mut().for_each(|v| *v = 0.0);
        self.tdp_weighted_gpu_s.iter_mut().for_each(|v| *v = 0.0);
        self.token_energy_kwh = 0.0;
    }

    /// Records `gpu_s` GPU-seconds of kind `gpu` at `tdp_fraction` of TDP.
    pub fn add_busy(&mut self, gpu: usize, gpu_s: f64, tdp_fraction: f64) {
        self.busy_gpu_s[gpu] += gpu_s;
        self.tdp_weighted_gpu_s[gpu] += gpu_s * tdp_fraction;
    }
}

/// Energy, cost, water and carbon of one datacenter in one epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DcEpoch {
    /// Server (IT) energy: busy GPUs at their phase's fraction of TDP, idle GPUs at the idle
    /// fraction, plus token energy (eq. 4).
    pub it_kwh: f64,
    /// Cooling: `cooling_factor x IT / COP` (eq. 5) in COP mode; in PUE mode the whole overhead
    /// `(PUE - 1) x IT`.
    pub cooling_kwh: f64,
    /// Infrastructure: `infrastructure_fraction x IT` (eq. 6); 0 in PUE mode.
    pub infrastructure_kwh: f64,
    /// Facility energy: IT + cooling + infrastructure (eq. 6), or PUE x IT.
    pub facility_kwh: f64,
    /// Energy bought from the grid: facility energy less on-site renewables, at least 0.
    pub grid_kwh: f64,
    /// Grid energy x time-of-use price (eq. 7).
    pub energy_cost_usd: f64,
    /// Carbon tax on grid emissions (Green-LLM's F_C).
    pub carbon_tax_usd: f64,
    /// Evaporative water (eq. 8), or Green-LLM's on-site WUE x IT.
    pub water_evaporative_l: f64,
    /// Blowdown water (eq. 8, reading per [`BlowdownReading`]); 0 in PUE mode.
    pub water_blowdown_l: f64,
    /// Off-site water of electricity generation: facility energy x grid water intensity (eq. 8).
    pub water_grid_l: f64,
    /// Grid carbon: carbon intensity x grid energy (eq. 9).
    pub carbon_grid_kg: f64,
    /// Carbon of potable water (evaporation and blowdown) and of treating the grid water (eq. 10).
    pub carbon_water_kg: f64,
}

impl DcEpoch {
    pub fn water_l(&self) -> f64 {
        self.water_evaporative_l + self.water_blowdown_l + self.water_grid_l
    }

    pub fn carbon_kg(&self) -> f64 {
        self.carbon_grid_kg + self.carbon_water_kg
    }

    /// Adds another epoch's or datacenter's figures.
    pub fn add(&mut self, o: &DcEpoch) {
        self.it_kwh += o.it_kwh;
        self.cooling_kwh += o.cooling_kwh;
        self.infrastructure_kwh += o.infrastructure_kwh;
        self.facility_kwh += o.facility_kwh;
        self.grid_kwh += o.grid_kwh;
        self.energy_cost_usd += o.energy_cost_usd;
        self.carbon_tax_usd += o.carbon_tax_usd;
        self.water_evaporative_l += o.water_evaporative_l;
        self.water_blowdown_l += o.water_blowdown_l;
        self.water_grid_l += o.water_grid_l;
        self.carbon_grid_kg += o.carbon_grid_kg;
        self.carbon_water_kg += o.carbon_water_kg;
    }
}

const J_PER_KWH: f64 = 3.6e6;
const MJ_PER_KWH: f64 = 3.6;
const L_PER_M3: f64 = 1000.0;

/// Available GPU-seconds of each kind in a datacenter over `seconds`.
pub fn available_gpu_s(scenario: &Scenario, dc: &Datacenter, seconds: f64, out: &mut [f64]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for p in &dc.node_pools {
        out[p.gpu] += f64::from(p.gpus_per_node) * f64::from(p.nodes) * seconds;
    }
    debug_assert_eq!(out.len(), scenario.gpus.len());
}

/// The accounting of one datacenter `d` in `epoch`, from its activity. Busy GPU-seconds above
/// what the datacenter has are capped (an overloaded epoch draws at most full power).
pub fn account(scenario: &Scenario, d: usize, epoch: usize, activity: &Activity, blowdown: BlowdownReading) -> DcEpoch {
    let dc = &scenario.datacenters[d];
    let epoch_s = scenario.time.epoch_s;
    let hour = scenario.time.hour_of_epoch(epoch);
    let g = &dc.grid;

    // Eq. 4: IT energy.
    let mut it_j = 0.0;
    for (k, gpu) in scenario.gpus.iter().enumerate() {
        let available: f64 = dc
            .node_pools
            .iter()
            .filter(|p| p.gpu == k)
            .map(|p| f64::from(p.gpus_per_node) * f64::from(p.nodes) * epoch_s)
            .sum();
        if available <= 0.0 {
            continue;
        }
        let busy = activity.busy_gpu_s[k].min(available);
        let scale = if activity.busy_gpu_s[k] > available { available / activity.busy_gpu_s[k] } else { 1.0 };
        let weighted = activity.tdp_weighted_gpu_s[k] * scale;
        it_j += gpu.tdp_w * (weighted + gpu.idle_tdp_fraction * (available - busy));
    }
    let it_kwh = it_j / J_PER_KWH + activity.token_energy_kwh;

    let mut out = DcEpoch { it_kwh, ..DcEpoch::default() };
    match dc.facility {
        Facility::Cop { supply_temperature_c, cooling_factor, infrastructure_fraction, latent_heat_mj_per_kg, cycles_of_concentration } => {
            // Eqs. 5-6.
            let crac = it_kwh / Facility::crac_cop(supply_temperature_c);
            out.cooling_kwh = cooling_factor * crac;
            out.infrastructure_kwh = infrastructure_fraction * it_kwh;
            // Eq. 8: the heat rejected is the IT energy; evaporating 1 kg (1 L) takes J_water.
            out.water_evaporative_l = it_kwh * MJ_PER_KWH / latent_heat_mj_per_kg;
            let phi = 1.0 / cycles_of_concentration;
            out.water_blowdown_l = match blowdown {
                BlowdownReading::BlowdownOnly => out.water_evaporative_l * phi / (1.0 - phi),
                BlowdownReading::PaperLiteral => out.water_evaporative_l / (1.0 - phi),
            };
        }
        Facility::Pue { pue } => {
            out.cooling_kwh = (pue - 1.0) * it_kwh;
            let wue = g.onsite_wue_l_per_kwh.get(hour).copied().unwrap_or(0.0);
            out.water_evaporative_l = wue * it_kwh;
        }
    }
    out.facility_kwh = it_kwh + out.cooling_kwh + out.infrastructure_kwh;
    let renewable_kwh = g.renewable_kw[hour] * epoch_s / 3600.0;
    out.grid_kwh = (out.facility_kwh - renewable_kwh).max(0.0);
    let ci = g.carbon_kg_per_kwh[hour];
    // Eq. 7.
    out.energy_cost_usd = out.grid_kwh * g.price_usd_per_kwh[hour];
    out.water_grid_l = out.facility_kwh * g.water_l_per_kwh[hour];
    // Eqs. 9-10.
    out.carbon_grid_kg = ci * out.grid_kwh;
    let treatment = &scenario.water_treatment;
    out.carbon_water_kg = ci
        * ((out.water_evaporative_l + out.water_blowdown_l) / L_PER_M3 * treatment.potable_kwh_per_m3
            + out.water_grid_l / L_PER_M3 * treatment.wastewater_kwh_per_m3);
    out.carbon_tax_usd = dc.carbon_tax_usd_per_kg * out.carbon_grid_kg;
    out
}
