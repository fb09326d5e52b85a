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

/// Joules per kWh.
pub const J_PER_KWH: f64 = 3.6e6;
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
    /// what the datacenter has (with the activity's overtime) are capped (an overloaded epoch
    /// draws at most full power).
    // Always inlined: the fluid simulator compiles its scoring twice (baseline and AVX2) and
    // the accounting has to be part of each compilation.
    #[inline(always)]
    pub fn account(&self, epoch: usize, activity: &Activity) -> DcEpoch {
        let k = self.k;
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
        self.linear(epoch).of_it(it_kwh)
    }

    /// The accounting of `epoch` as a function of IT energy: every metric is affine in it but
    /// grid energy, `max(0, facility - renewables)` ([`LinearAccounting::of_it`]; what
    /// [`Self::account`] applies, and what a model of the simulator reads its coefficients from).
    #[inline(always)]
    pub fn linear(&self, epoch: usize) -> LinearAccounting {
        let k = self.k;
        let g = &k.epochs[epoch];
        let evaporative_l_per_it_kwh = k.evaporative_l_per_it_kwh.unwrap_or(g.onsite_wue_l_per_kwh);
        LinearAccounting {
            cooling_per_it: k.cooling_per_it,
            infrastructure_per_it: k.infrastructure_per_it,
            evaporative_l_per_it_kwh,
            blowdown_per_evaporative: k.blowdown_per_evaporative,
            potable_kwh_per_l: k.potable_kwh_per_l,
            wastewater_kwh_per_l: k.wastewater_kwh_per_l,
            renewable_kwh: g.renewable_kwh,
            carbon_kg_per_kwh: g.carbon_kg_per_kwh,
            price_usd_per_kwh: g.price_usd_per_kwh,
            water_l_per_kwh: g.water_l_per_kwh,
            carbon_tax_usd_per_kg: self.carbon_tax_usd_per_kg,
        }
    }
}

/// The accounting of one datacenter in one epoch as a function of its IT energy
/// ([`DcAccountant::linear`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearAccounting {
    /// Cooling energy per kWh of IT (eq. 5, or PUE - 1).
    pub cooling_per_it: f64,
    /// Infrastructure energy per kWh of IT (eq. 6, or 0).
    pub infrastructure_per_it: f64,
    /// Evaporative water per kWh of IT, L (eq. 8, or the hour's on-site WUE).
    pub evaporative_l_per_it_kwh: f64,
    /// Blowdown per litre evaporated (eq. 8's reading).
    pub blowdown_per_evaporative: f64,
    /// Energy to supply potable water, kWh per L (eq. 10).
    pub potable_kwh_per_l: f64,
    /// Energy to treat the grid's water, kWh per L (eq. 10).
    pub wastewater_kwh_per_l: f64,
    /// On-site renewable energy of the epoch, kWh.
    pub renewable_kwh: f64,
    /// The grid's carbon intensity in the epoch, kg per kWh.
    pub carbon_kg_per_kwh: f64,
    /// The grid's price in the epoch, USD per kWh.
    pub price_usd_per_kwh: f64,
    /// The grid's water intensity in the epoch, L per kWh.
    pub water_l_per_kwh: f64,
    /// The datacenter's carbon tax, USD per kg.
    pub carbon_tax_usd_per_kg: f64,
}

impl LinearAccounting {
    /// Facility energy per kWh of IT energy.
    pub fn facility_per_it(&self) -> f64 {
        1.0 + self.cooling_per_it + self.infrastructure_per_it
    }

    /// Water per kWh of IT energy, L: evaporative, blowdown and the grid's (on facility energy).
    pub fn water_l_per_it_kwh(&self) -> f64 {
        self.evaporative_l_per_it_kwh * (1.0 + self.blowdown_per_evaporative)
            + self.facility_per_it() * self.water_l_per_kwh
    }

    /// Carbon of water supply and treatment per kWh of IT energy, kg (eq. 10; grid energy's
    /// carbon is `carbon_kg_per_kwh` per kWh of grid energy besides).
    pub fn water_carbon_kg_per_it_kwh(&self) -> f64 {
        self.carbon_kg_per_kwh
            * (self.evaporative_l_per_it_kwh
                * (1.0 + self.blowdown_per_evaporative)
                * self.potable_kwh_per_l
                + self.facility_per_it() * self.water_l_per_kwh * self.wastewater_kwh_per_l)
    }

    /// Every metric of the datacenter-epoch from its IT energy, kWh.
    #[inline(always)]
    pub fn of_it(&self, it_kwh: f64) -> DcEpoch {
        let cooling_kwh = self.cooling_per_it * it_kwh;
        let infrastructure_kwh = self.infrastructure_per_it * it_kwh;
        let water_evaporative_l = self.evaporative_l_per_it_kwh * it_kwh;
        let water_blowdown_l = self.blowdown_per_evaporative * water_evaporative_l;
        // Eq. 6 (or PUE x IT).
        let facility_kwh = it_kwh + cooling_kwh + infrastructure_kwh;
        let grid_kwh = (facility_kwh - self.renewable_kwh).max(0.0);
        let ci = self.carbon_kg_per_kwh;
        // Eq. 8, grid share.
        let water_grid_l = facility_kwh * self.water_l_per_kwh;
        // Eqs. 9-10.
        let carbon_grid_kg = ci * grid_kwh;
        let carbon_water_kg = ci
            * ((water_evaporative_l + water_blowdown_l) * self.potable_kwh_per_l
                + water_grid_l * self.wastewater_kwh_per_l);
        DcEpoch {
            it_kwh,
            cooling_kwh,
            infrastructure_kwh,
            facility_kwh,
            grid_kwh,
            // Eq. 7.
            energy_cost_usd: grid_kwh * self.price_usd_per_kwh,
            carbon_tax_usd: self.carbon_tax_usd_per_kg * carbon_grid_kg,
            water_evaporative_l,
            water_blowdown_l,
            water_grid_l,
            carbon_grid_kg,
            carbon_water_kg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coefficients a model of the simulator reads are the accounting's own: facility
    /// energy, water and water carbon per kWh of IT energy equal what `of_it` charges for it,
    /// in both facility modes, and grid energy is what is left after renewables.
    #[test]
    fn the_linear_form_is_the_accounting() {
        for name in ["geo-4dc", "green-llm-base"] {
            let s = crate::scenario::bundled(name).unwrap();
            let accountant = Accountant::new(&s, BlowdownReading::default());
            for d in 0..s.datacenters.len() {
                for e in [0, s.time.epochs / 2] {
                    let l = accountant.datacenter(d).linear(e);
                    let it = 1000.0 + l.renewable_kwh;
                    let x = l.of_it(it);
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
                    assert!(close(x.facility_kwh, l.facility_per_it() * it));
                    assert!(close(x.water_l(), l.water_l_per_it_kwh() * it));
                    assert!(close(
                        x.carbon_kg(),
                        l.carbon_kg_per_kwh * x.grid_kwh + l.water_carbon_kg_per_it_kwh() * it
                    ));
                    assert!(close(x.grid_kwh, x.facility_kwh - l.renewable_kwh));
                    assert!(close(x.energy_cost_usd, l.price_usd_per_kwh * x.grid_kwh));
                    let activity = Activity::default();
                    let idle_it_kwh = accountant.account(d, e, &activity).it_kwh;
                    assert!(close(idle_it_kwh, {
                        let gpus: f64 = s.datacenters[d]
                            .node_pools
                            .iter()
                            .map(|p| {
                                let g = &s.gpus[p.gpu];
                                g.tdp_w
                                    * g.idle_tdp_fraction
                                    * f64::from(p.gpus_per_node * p.nodes)
                                    * s.time.epoch_s
                            })
                            .sum();
                        gpus / J_PER_KWH
                    }));
                }
            }
        }
    }
}
