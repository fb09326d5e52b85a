//! The accounting both fidelities share: from what the GPUs did in one datacenter and epoch to
//! energy, cost, water and carbon. Every metric is computed here and nowhere else (the equation
//! numbers are MARLIN's; see docs/metrics.md).

use serde::{Deserialize, Serialize};

use crate::scenario::{Facility, GpuKind, Scenario};

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

use crate::scenario::MAX_GPU_KINDS;

/// What the GPUs of one datacenter did in one epoch; both fidelities fill it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// GPU-seconds busy (prefill, decode or loading weights), per GPU kind.
    pub busy_gpu_s: [f64; MAX_GPU_KINDS],
    /// GPU-seconds weighted by the fraction of TDP drawn, per GPU kind (`sum fraction x seconds`).
    pub tdp_weighted_gpu_s: [f64; MAX_GPU_KINDS],
    /// Energy of requests whose class gives energy per token (Green-LLM's `e_k`), kWh.
    pub token_energy_kwh: f64,
    /// GPU-seconds of each kind beyond the epoch's end: in the last epoch, the work still queued
    /// at the horizon drains after it, and the kind's GPUs have that much more time (at the
    /// epoch's prices and intensities), so the drain is charged in full.
    pub overtime_gpu_s: [f64; MAX_GPU_KINDS],
}

impl Activity {
    /// Zeroes every figure.
    pub fn clear(&mut self) {
        *self = Activity::default();
    }

    /// Records `gpu_s` GPU-seconds of kind `gpu` at `tdp_fraction` of TDP.
    pub fn add_busy(&mut self, gpu: usize, gpu_s: f64, tdp_fraction: f64) {
        self.busy_gpu_s[gpu] += gpu_s;
        self.tdp_weighted_gpu_s[gpu] += gpu_s * tdp_fraction;
    }

    /// Busy GPU-seconds over all kinds.
    pub fn busy_total(&self) -> f64 {
        self.busy_gpu_s.iter().sum()
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
    /// Water, L: evaporative, blowdown and grid (off-site).
    pub fn water_l(&self) -> f64 {
        self.water_evaporative_l + self.water_blowdown_l + self.water_grid_l
    }

    /// Carbon, kg CO2: from the grid and from water treatment.
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

/// Per-datacenter constants of the accounting, computed once per scenario.
#[derive(Debug, Clone)]
struct DcConstants {
    /// GPU-seconds of each kind in one epoch.
    available_gpu_s: Vec<f64>,
    /// Cooling and infrastructure energy per kWh of IT energy.
    cooling_per_it: f64,
    infrastructure_per_it: f64,
    /// Evaporative litres per kWh of IT (COP mode); `None`: the hourly WUE (PUE mode).
    evaporative_l_per_it_kwh: Option<f64>,
    blowdown_per_evaporative: f64,
    /// Energy to supply or treat one litre (eq. 10).
    potable_kwh_per_l: f64,
    wastewater_kwh_per_l: f64,
    /// The grid signals of each epoch (the hour it starts in), in one contiguous row per epoch.
    epochs: Vec<EpochSignals>,
}

/// The grid signals in force during one epoch.
#[derive(Debug, Clone, Copy)]
struct EpochSignals {
    carbon_kg_per_kwh: f64,
    price_usd_per_kwh: f64,
    water_l_per_kwh: f64,
    onsite_wue_l_per_kwh: f64,
    renewable_kwh: f64,
}

/// The accounting of a scenario: [`Accountant::account`] turns one datacenter-epoch's activity
/// into energy, cost, water and carbon. Both fidelities use it; nothing else computes a metric.
#[derive(Debug, Clone)]
pub struct Accountant<'a> {
    scenario: &'a Scenario,
    dcs: Vec<DcConstants>,
}

impl<'a> Accountant<'a> {
    /// The accountant of `scenario`, reading blowdown as `blowdown`.
    pub fn new(scenario: &'a Scenario, blowdown: BlowdownReading) -> Self {
        let dcs = scenario
            .datacenters
            .iter()
            .map(|dc| {
                let treatment = &scenario.water_treatment;
                let (potable_kwh_per_l, wastewater_kwh_per_l, epoch_h) = (
                    treatment.potable_kwh_per_m3 / L_PER_M3,
                    treatment.wastewater_kwh_per_m3 / L_PER_M3,
                    scenario.time.epoch_s / 3600.0,
                );
                let g = &dc.grid;
                let epochs = (0..scenario.time.epochs)
                    .map(|e| {
                        let h = scenario.time.hour_of_epoch(e);
                        EpochSignals {
                            carbon_kg_per_kwh: g.carbon_kg_per_kwh[h],
                            price_usd_per_kwh: g.price_usd_per_kwh[h],
                            water_l_per_kwh: g.water_l_per_kwh[h],
                            onsite_wue_l_per_kwh: g
                                .onsite_wue_l_per_kwh
                                .get(h)
                                .copied()
                                .unwrap_or(0.0),
                            renewable_kwh: g.renewable_kw[h] * epoch_h,
                        }
                    })
                    .collect();
                let mut available_gpu_s = vec![0.0; scenario.gpus.len()];
                for p in &dc.node_pools {
                    available_gpu_s[p.gpu] +=
                        f64::from(p.gpus_per_node) * f64::from(p.nodes) * scenario.time.epoch_s;
                }
                match dc.facility {
                    Facility::Cop {
                        supply_temperature_c,
                        cooling_factor,
                        infrastructure_fraction,
                        latent_heat_mj_per_kg,
                        cycles_of_concentration,
                    } => {
                        // Eq. 8: the heat rejected is the IT energy; evaporating 1 kg (1 L) of
                        // water takes J_water. phi = 1 / cycles of concentration.
                        let phi = 1.0 / cycles_of_concentration;
                        DcConstants {
                            available_gpu_s,
                            // Eq. 5: CRAC = IT / COP; cooling = factor x CRAC.
                            cooling_per_it: cooling_factor
                                / Facility::crac_cop(supply_temperature_c),
                            // Eq. 6.
                            infrastructure_per_it: infrastructure_fraction,
                            evaporative_l_per_it_kwh: Some(MJ_PER_KWH / latent_heat_mj_per_kg),
                            blowdown_per_evaporative: match blowdown {
                                BlowdownReading::BlowdownOnly => phi / (1.0 - phi),
                                BlowdownReading::PaperLiteral => 1.0 / (1.0 - phi),
                            },
                            potable_kwh_per_l,
                            wastewater_kwh_per_l,
                            epochs,
                        }
                    }
                    Facility::Pue { pue } => DcConstants {
                        available_gpu_s,
                        cooling_per_it: pue - 1.0,
                        infrastructure_per_it: 0.0,
                        evaporative_l_per_it_kwh: None,
                        blowdown_per_evaporative: 0.0,
                        potable_kwh_per_l,
                        wastewater_kwh_per_l,
                        epochs,
                    },
                }
            })
            .collect();
        Accountant { scenario, dcs }
    }

    /// GPU-seconds of each kind datacenter `d` has in one epoch.
    pub fn available_gpu_s(&self, d: usize) -> &[f64] {
        &self.dcs[d].available_gpu_s
    }

    /// The accounting of datacenter `d` in `epoch`, from its activity: see
    /// [`DcAccountant::account`].
    #[inline]
    pub fn account(&self, d: usize, epoch: usize, activity: &Activity) -> DcEpoch {
        self.datacenter(d).account(epoch, activity)
    }

    /// The accounting of datacenter `d` alone (for loops over its epochs).
    #[inline]
    pub fn datacenter(&self, d: usize) -> DcAccountant<'_> {
        DcAccountant {
            gpus: &self.scenario.gpus,
            carbon_tax_usd_per_kg: self.scenario.datacenters[d].carbon_tax_usd_per_kg,
            k: &self.dcs[d],
        }
    }
}

/// The accounting of one datacenter, from [`Accountant::datacenter`].
#[derive(Debug, Clone, Copy)]
pub struct DcAccountant<'a> {
    gpus: &'a [GpuKind],
    carbon_tax_usd_per_kg: f64,
    k: &'a DcConstants,
}

impl DcAccountant<'_> {
    /// The accounting of this datacenter in `epoch`, from its activity. Busy GPU-seconds above
    /// what the datacenter has (with the activity's overtime) are capped (an epoch draws at most
    /// full power); both fidelities conserve work, so neither logs more than that (the fluid
    /// simulator carries what its GPUs cannot do to the next epoch).
    // Always inlined: the fluid simulator compiles its scoring twice (baseline and AVX2) and
    // the accounting has to be part of each compilation.
    #[inline(always)]
    pub fn account(&self, epoch: usize, activity: &Activity) -> DcEpoch {
        let k = self.k;
        let g = &k.epochs[epoch];

        // Eq. 4: IT energy.
        let mut it_j = 0.0;
        for (((gpu, &available), &overtime), (&busy, &weighted)) in self
            .gpus
            .iter()
            .zip(&k.available_gpu_s)
            .zip(&activity.overtime_gpu_s)
            .zip(activity.busy_gpu_s.iter().zip(&activity.tdp_weighted_gpu_s))
        {
            if available <= 0.0 {
                continue;
            }
            let available = available + overtime;
            let (busy, weighted) = if busy > available {
                (available, weighted * available / busy)
            } else {
                (busy, weighted)
            };
            it_j += gpu.tdp_w * (weighted + gpu.idle_tdp_fraction * (available - busy));
        }
        let it_kwh = it_j * (1.0 / J_PER_KWH) + activity.token_energy_kwh;

        let cooling_kwh = k.cooling_per_it * it_kwh;
        let infrastructure_kwh = k.infrastructure_per_it * it_kwh;
        let water_evaporative_l = match k.evaporative_l_per_it_kwh {
            Some(per_kwh) => per_kwh * it_kwh,
            None => g.onsite_wue_l_per_kwh * it_kwh,
        };
        let water_blowdown_l = k.blowdown_per_evaporative * water_evaporative_l;
        // Eq. 6 (or PUE x IT).
        let facility_kwh = it_kwh + cooling_kwh + infrastructure_kwh;
        let grid_kwh = (facility_kwh - g.renewable_kwh).max(0.0);
        let ci = g.carbon_kg_per_kwh;
        // Eq. 8, grid share.
        let water_grid_l = facility_kwh * g.water_l_per_kwh;
        // Eqs. 9-10.
        let carbon_grid_kg = ci * grid_kwh;
        let carbon_water_kg = ci
            * ((water_evaporative_l + water_blowdown_l) * k.potable_kwh_per_l
                + water_grid_l * k.wastewater_kwh_per_l);
        DcEpoch {
            it_kwh,
            cooling_kwh,
            infrastructure_kwh,
            facility_kwh,
            grid_kwh,
            // Eq. 7.
            energy_cost_usd: grid_kwh * g.price_usd_per_kwh,
            carbon_tax_usd: self.carbon_tax_usd_per_kg * carbon_grid_kg,
            water_evaporative_l,
            water_blowdown_l,
            water_grid_l,
            carbon_grid_kg,
            carbon_water_kg,
        }
    }
}
