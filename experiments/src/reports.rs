//! What the commands' CSV reports share: the objective columns of a scored plan, written the
//! same way everywhere (`ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,slo_violation_rate`).

use verdant::sim::Objectives;

/// The objective columns, comma-separated, for a CSV header.
pub(crate) const OBJECTIVE_COLUMNS: &str =
    "ttft_s,carbon_kg,water_l,cost_usd,energy_kwh,slo_violation_rate";

/// The objective values of `o` in [`OBJECTIVE_COLUMNS`]' order, comma-separated, every digit
/// kept (`{}` of an `f64` round-trips).
pub(crate) fn objective_fields(o: &Objectives) -> String {
    format!(
        "{},{},{},{},{},{}",
        o.ttft_s, o.carbon_kg, o.water_l, o.cost_usd, o.energy_kwh, o.slo_violation_rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_header_and_round_trip() {
        let o = Objectives {
            ttft_s: 0.1,
            carbon_kg: 1.0 / 3.0,
            water_l: 3.0,
            cost_usd: 4.5,
            energy_kwh: 6.0,
            slo_violation_rate: 0.25,
        };
        let fields = objective_fields(&o);
        assert_eq!(
            fields.split(',').count(),
            OBJECTIVE_COLUMNS.split(',').count()
        );
        let back: Vec<f64> = fields.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(back, vec![0.1, 1.0 / 3.0, 3.0, 4.5, 6.0, 0.25]);
    }
}
