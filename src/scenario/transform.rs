//! Transforms of a checked [`Scenario`] that give a checked scenario: the sensitivity scalings
//! of Green-LLM's study and its scaling instances. Each checks its arguments, so the result
//! satisfies what loading checks (finite, non-negative factors; series as long as the horizon).

use super::{Scenario, ScenarioError};

/// A family of a scenario's parameters that a sensitivity study scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaled {
    /// On-site renewable output.
    Renewables,
    /// Grid carbon intensity.
    CarbonIntensity,
    /// Energy per token (Green-LLM's tau).
    TokenEnergy,
    /// Every epoch's requests.
    Demand,
    /// Electricity price.
    Price,
    /// Green-LLM's delay penalty weight rho.
    DelayWeight,
    /// Green-LLM's delay thresholds Delta.
    DelayThreshold,
}

impl Scaled {
    /// All of them, in the order of Green-LLM's sensitivity table.
    pub const ALL: [Scaled; 7] = [
        Scaled::Renewables,
        Scaled::CarbonIntensity,
        Scaled::TokenEnergy,
        Scaled::Demand,
        Scaled::Price,
        Scaled::DelayWeight,
        Scaled::DelayThreshold,
    ];

    /// Name in configs and tables (`renewables`, `carbon_intensity`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Scaled::Renewables => "renewables",
            Scaled::CarbonIntensity => "carbon_intensity",
            Scaled::TokenEnergy => "token_energy",
            Scaled::Demand => "demand",
            Scaled::Price => "price",
            Scaled::DelayWeight => "delay_weight",
            Scaled::DelayThreshold => "delay_threshold",
        }
    }
}

impl std::fmt::Display for Scaled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Scenario {
    fn transform_error(&self, what: String, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Transform {
            scenario: self.name.clone(),
            what,
            message: message.into(),
        }
    }

    /// A copy with `what` multiplied by `factor`, which must be finite and >= 0.
    ///
    /// ```
    /// use verdant::scenario::{bundled, Scaled};
    ///
    /// let s = bundled("green-llm-base").unwrap();
    /// let doubled = s.scaled(Scaled::Demand, 2.0).unwrap();
    /// assert_eq!(doubled.demand.total_requests(), 2.0 * s.demand.total_requests());
    /// assert!(s.scaled(Scaled::Price, f64::NAN).is_err());
    /// ```
    pub fn scaled(&self, what: Scaled, factor: f64) -> Result<Scenario, ScenarioError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(self.transform_error(
                format!("scaling {} by {factor}", what.name()),
                "the factor must be finite and >= 0",
            ));
        }
        let mut s = self.parts.clone();
        let each = |v: &mut f64| *v *= factor;
        match what {
            Scaled::Renewables => s
                .datacenters
                .iter_mut()
                .for_each(|d| d.grid.renewable_kw.iter_mut().for_each(each)),
            Scaled::CarbonIntensity => s
                .datacenters
                .iter_mut()
                .for_each(|d| d.grid.carbon_kg_per_kwh.iter_mut().for_each(each)),
            Scaled::Price => s
                .datacenters
                .iter_mut()
                .for_each(|d| d.grid.price_usd_per_kwh.iter_mut().for_each(each)),
            Scaled::TokenEnergy => s.classes.iter_mut().for_each(|c| {
                c.energy_kwh_per_input_token = c.energy_kwh_per_input_token.map(|v| v * factor);
                c.energy_kwh_per_output_token = c.energy_kwh_per_output_token.map(|v| v * factor);
            }),
            Scaled::Demand => s.demand.scale(factor),
            Scaled::DelayWeight => s.classes.iter_mut().for_each(|c| {
                c.delay_penalty_usd_per_s = c.delay_penalty_usd_per_s.map(|v| v * factor)
            }),
            Scaled::DelayThreshold => {
                if let Some(g) = s.green_llm.as_mut() {
                    g.delay_threshold_s.iter_mut().flatten().for_each(each);
                }
            }
        }
        Scenario::from_parts(s)
    }

    /// A larger instance, for measuring how a model scales: `datacenters` datacenters (copies of
    /// this scenario's, in turn, with their network columns) and `hours` one-hour epochs (the
    /// day repeated), the same origins and classes. Each origin's demand per hour is unchanged;
    /// Green-LLM's daily water budget grows with the number of days. Needs hourly epochs.
    pub fn replicated(&self, datacenters: usize, hours: usize) -> Result<Scenario, ScenarioError> {
        let what = format!("replicating to {datacenters} datacenters x {hours} hours");
        if datacenters == 0 || hours == 0 {
            return Err(self.transform_error(what, "needs at least one datacenter and one hour"));
        }
        if self.time.epoch_s != 3600.0 {
            return Err(self.transform_error(
                what,
                format!("needs hourly epochs, this one has {} s", self.time.epoch_s),
            ));
        }
        let base = self;
        let mut s = base.parts.clone();
        let (nt0, nj0) = (base.time.epochs, base.datacenters.len());
        let hour = |t: usize| t % nt0;
        s.time.epochs = hours;
        s.datacenters = (0..datacenters)
            .map(|j| {
                let mut dc = base.datacenters[j % nj0].clone();
                dc.name = format!("{} #{}", dc.name, j / nj0 + 1);
                for series in dc.grid.hourly_series_mut() {
                    *series = (0..hours).map(|t| series[hour(t)]).collect();
                }
                dc
            })
            .collect();
        s.network.round_trip_s = base
            .network
            .round_trip_s
            .iter()
            .map(|row| (0..datacenters).map(|j| row[j % nj0]).collect())
            .collect();
        s.network.bandwidth_mbps = base.network.bandwidth_mbps.as_ref().map(|b| {
            b.iter()
                .map(|row| (0..datacenters).map(|j| row[j % nj0]).collect())
                .collect()
        });
        s.demand = base.demand.remapped(hours, hour);
        if let Some(g) = s.green_llm.as_mut() {
            g.kb_per_token = g
                .kb_per_token
                .iter()
                .map(|per_k| {
                    per_k
                        .iter()
                        .map(|per_t| (0..hours).map(|t| per_t[hour(t)]).collect())
                        .collect()
                })
                .collect();
            // The budget is daily: scale it with the number of days.
            g.water_budget_l *= hours as f64 / nt0 as f64;
        }
        s.requests.clear();
        s.name = format!("{} x{datacenters}dc x{hours}h", base.name);
        Scenario::from_parts(s)
    }
}
