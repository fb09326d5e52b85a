//! `verdant forecast`: MARLIN's workload predictor on a scenario's held-out days, beside the
//! seasonal-naive forecast (the same epoch a day before) and the last value.
//!
//! Reads the scenario and the predictor's settings from MARLIN's configuration
//! (configs/marlin.toml: `scenario`, `marlin.predictor_window`, `predictor_decay`,
//! `predictor_season`). The predictor's season, where `"auto"`, is learned from the training
//! days only. Every forecast is one epoch ahead, of the total requests per epoch, from all the
//! epochs before it (training days included); only the held-out days are scored. Without a
//! split the whole horizon is scored, and the report says it is in-sample. Writes
//! `forecast.csv` and `forecast.md`.

use std::fmt::Write as _;

use verdant::scenario::{epochs_per_day, Scenario};
use verdant::seed::MasterSeed;
use verdant::trace::forecast::{held_out, EwmaPredictor, ForecastError, Forecaster};

use crate::cli::SharedArgs;
use crate::run::{configure, resolve_scenario, within, Run};
use crate::training::marlin::{MarlinDoc, DEFAULTS};

pub fn run(shared: &SharedArgs) -> anyhow::Result<()> {
    let Some((config, c)) = configure::<MarlinDoc>(DEFAULTS, "forecast", shared)? else {
        return Ok(());
    };
    let scenario = Scenario::load(&resolve_scenario(&c.scenario)?, MasterSeed(c.seed))?;
    let run = Run::start("forecast", &config, c.seed, shared)?;
    let p = c.marlin.params();
    let (_, path) = within(run, |run| {
        let series = scenario.demand.requests_per_epoch();
        let per_day = epochs_per_day(scenario.time.epoch_s).unwrap_or(series.len());
        // Training epochs and the scored range.
        let (train, scored, note) = match scenario.split {
            Some(s) => (
                s.train.first * per_day..s.train.end() * per_day,
                s.test.first * per_day..s.test.end() * per_day,
                format!(
                    "Season learned from the training {}; scored on the held-out {}.",
                    s.train, s.test
                ),
            ),
            None => (
                0..series.len(),
                1..series.len(),
                "No held-out days (the scenario names no split): scored in-sample on the whole horizon."
                    .to_owned(),
            ),
        };
        let season = p.predictor_season.resolve(
            p.predictor_window,
            p.predictor_decay,
            &series[train.clone()],
            per_day,
        );
        let predictor = EwmaPredictor {
            window: p.predictor_window,
            decay: p.predictor_decay,
            season,
        };
        // (short name, name with settings, forecast rule)
        let rows: [(&str, String, Forecaster); 3] = [
            (
                "MARLIN's predictor",
                format!(
                    "MARLIN's predictor (window {}, decay {}, season {season})",
                    p.predictor_window, p.predictor_decay
                ),
                Forecaster::Ewma(predictor),
            ),
            (
                "seasonal naive",
                format!("seasonal naive (the same epoch a day before, {per_day} epochs)"),
                Forecaster::SeasonalNaive(per_day),
            ),
            ("last value", "last value".to_owned(), Forecaster::LastValue),
        ];
        let up_to = &series[..scored.end];
        let errors: Vec<ForecastError> = rows
            .iter()
            .map(|&(_, _, f)| held_out(up_to, scored.start, f))
            .collect();
        let mut csv = String::from("forecaster,epochs,mape,accuracy,wape,mae_requests\n");
        let mut md = format!(
            "# One-epoch-ahead forecasts of `{}`'s total requests per epoch\n\n{note}\n\n| Forecast | Epochs scored | MAPE | Accuracy (1 - MAPE) | WAPE | MAE (requests) |\n|---|---|---|---|---|---|\n",
            scenario.name
        );
        for ((short, name, _), e) in rows.iter().zip(&errors) {
            writeln!(
                csv,
                "{short},{},{},{},{},{}",
                e.epochs,
                e.mape,
                e.accuracy(),
                e.wape(),
                e.mae
            )?;
            writeln!(
                md,
                "| {name} | {} | {:.2}% | {:.2}% | {:.2}% | {:.0} |",
                e.epochs,
                100.0 * e.mape,
                100.0 * e.accuracy(),
                100.0 * e.wape(),
                e.mae
            )?;
        }
        md.push_str("\nMAPE is the MARLIN paper's measure (its accuracy is 1 - MAPE); epochs of near-zero demand (gaps in a source's data) can dominate it. WAPE, the absolute errors over the total, is not swayed by them. Per-epoch forecasts: series.csv.\n");
        run.dir().write("forecast.csv", csv.as_bytes())?;
        let mut per_epoch = String::from("epoch,day,requests");
        for (short, _, _) in &rows {
            write!(per_epoch, ",{}", short.replace(' ', "_"))?;
        }
        per_epoch.push('\n');
        for k in scored.clone() {
            write!(per_epoch, "{k},{},{}", k / per_day + 1, series[k])?;
            for (_, _, f) in &rows {
                write!(per_epoch, ",{}", f.predict(&series[..k]))?;
            }
            per_epoch.push('\n');
        }
        run.dir().write("series.csv", per_epoch.as_bytes())?;
        run.dir().write("forecast.md", md.as_bytes())?;
        Ok(serde_json::json!({
            "scenario": scenario.name,
            "season": season,
            "held_out": scenario.split.is_some(),
            "forecasts": rows.iter().zip(&errors).map(|((_, n, _), e)| serde_json::json!({
                "forecaster": n, "epochs": e.epochs, "mape": e.mape, "wape": e.wape(), "mae": e.mae,
            })).collect::<Vec<_>>(),
        }))
    })?;
    print!("{}", std::fs::read_to_string(path.join("forecast.md"))?);
    println!("{}", path.display());
    Ok(())
}
