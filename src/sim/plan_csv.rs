//! A plan as a CSV file: one row per (epoch, origin, class) with its shares over the scenario's
//! datacenters, header `epoch,origin,class,<datacenter names>`, every digit kept. `verdant
//! compare` writes the exact front's plans so; `verdant simulate` scores such a file
//! (`plan = "FILE.csv"`); the Python module reads and writes it.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::plan::{FractionPlan, SUM_TOLERANCE};
use crate::data_error::{DataError, DataErrorKind};
use crate::parse::{parse_f64, parse_u32, trim, CsvRecords};
use crate::scenario::Scenario;

/// The index columns before the datacenters' shares.
const INDEX: [&str; 3] = ["epoch", "origin", "class"];

/// `plan` as CSV text for `scenario` (whose datacenters name the share columns).
///
/// # Panics
/// If the plan's shape is not the scenario's (a caller's error).
pub fn plan_csv(plan: &FractionPlan, scenario: &Scenario) -> String {
    let names: Vec<&str> = scenario
        .datacenters
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    let [ne, no, nc, nd] = plan.shape();
    assert_eq!(
        [ne, no, nc, nd],
        [
            scenario.time.epochs,
            scenario.origins.len(),
            scenario.classes.len(),
            names.len()
        ],
        "plan shape against the scenario's"
    );
    let mut csv = format!("{},{}\n", INDEX.join(","), names.join(","));
    for (r, row) in plan.shares().chunks_exact(nd).enumerate() {
        let (e, o, c) = (r / (no * nc), (r / nc) % no, r % nc);
        let _ = write!(csv, "{e},{o},{c}");
        for v in row {
            let _ = write!(csv, ",{v}");
        }
        csv.push('\n');
    }
    csv
}

/// Reads a plan for `scenario` from the CSV file `path`: the header names `epoch`, `origin`,
/// `class` and every datacenter of the scenario (in any order; other columns are an error), and
/// every (epoch, origin, class) has exactly one row whose shares are in [0, 1] and sum to 1.
/// Errors name the file, line and column.
pub fn read_plan_csv(path: &Path, scenario: &Scenario) -> Result<FractionPlan, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
    let mut records = CsvRecords::new(BufReader::new(file));
    let csv = |e: csv::Error| DataError::csv(path, &e);
    if !records.next().map_err(csv)? {
        return Err(DataError::new(
            DataErrorKind::Empty,
            path,
            "the file is empty",
        ));
    }
    let names: Vec<&str> = INDEX
        .iter()
        .copied()
        .chain(scenario.datacenters.iter().map(|d| d.name.as_str()))
        .collect();
    let cols = records.columns(&names).map_err(|name| {
        DataError::new(
            DataErrorKind::MissingColumn,
            path,
            format!(
                "the header lacks the column {name:?} (a plan for scenario {} names epoch, origin, class and its datacenters)",
                scenario.name
            ),
        )
        .at_line(1)
        .in_field(name)
    })?;
    if records.record().len() != names.len() {
        return Err(DataError::new(
            DataErrorKind::Malformed,
            path,
            format!(
                "the header has {} columns; a plan for scenario {} has {} (epoch, origin, class and {} datacenters)",
                records.record().len(),
                scenario.name,
                names.len(),
                names.len() - INDEX.len()
            ),
        )
        .at_line(1));
    }
    let limits = [
        scenario.time.epochs,
        scenario.origins.len(),
        scenario.classes.len(),
    ];
    let nd = scenario.datacenters.len();
    let rows = limits.iter().product::<usize>();
    let mut x = vec![0.0; rows * nd];
    let mut seen = vec![false; rows];
    while records.next().map_err(csv)? {
        let line = records.line();
        let record = records.record();
        if record.len() != names.len() {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!("expected {} fields, found {}", names.len(), record.len()),
            )
            .at_line(line));
        }
        let invalid = |i: usize, message: String| {
            DataError::new(DataErrorKind::InvalidValue, path, message)
                .at_line(line)
                .in_field(names[i])
        };
        let field = |i: usize| trim(&record[cols[i]]);
        let mut index = [0usize; 3];
        for (i, slot) in index.iter_mut().enumerate() {
            *slot = parse_u32(field(i))
                .map(|v| v as usize)
                .filter(|&v| v < limits[i])
                .ok_or_else(|| {
                    invalid(
                        i,
                        format!(
                            "{:?} is not a whole number below {} (the scenario's {}s)",
                            String::from_utf8_lossy(field(i)),
                            limits[i],
                            INDEX[i]
                        ),
                    )
                })?;
        }
        let r = (index[0] * limits[1] + index[1]) * limits[2] + index[2];
        if std::mem::replace(&mut seen[r], true) {
            return Err(DataError::new(
                DataErrorKind::InvalidValue,
                path,
                format!(
                    "epoch {}, origin {}, class {} has a second row",
                    index[0], index[1], index[2]
                ),
            )
            .at_line(line));
        }
        let row = &mut x[r * nd..(r + 1) * nd];
        for (d, share) in row.iter_mut().enumerate() {
            let i = INDEX.len() + d;
            *share = parse_f64(field(i))
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| {
                    invalid(
                        i,
                        format!(
                            "{:?} is not a share in [0, 1]",
                            String::from_utf8_lossy(field(i))
                        ),
                    )
                })?;
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(DataError::new(
                DataErrorKind::InvalidValue,
                path,
                format!("the shares sum to {sum}, not 1 (tolerance {SUM_TOLERANCE})"),
            )
            .at_line(line));
        }
    }
    if let Some(r) = seen.iter().position(|s| !s) {
        let (e, o, c) = (
            r / (limits[1] * limits[2]),
            (r / limits[2]) % limits[1],
            r % limits[2],
        );
        return Err(DataError::new(
            DataErrorKind::TooShort,
            path,
            format!(
                "no row for epoch {e}, origin {o}, class {c} ({} of the {rows} rows of scenario {} are missing)",
                seen.iter().filter(|s| !**s).count(),
                scenario.name
            ),
        ));
    }
    let [ne, no, nc] = limits;
    FractionPlan::new(ne, no, nc, nd, x)
        .map_err(|e| DataError::new(DataErrorKind::InvalidValue, path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::rules::Nearest;
    use crate::allocator::{Allocator, Problem};
    use crate::sim::SimParams;

    fn scenario() -> Scenario {
        crate::scenario::bundled("geo-4dc").expect("geo-4dc")
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn a_plan_written_and_read_back_is_the_same_to_the_bit() {
        let s = scenario();
        let plan = Nearest
            .allocate(&Problem::new(&s, SimParams::default()))
            .expect("plan");
        let dir = tempfile::tempdir().expect("tempdir");
        let text = plan_csv(&plan, &s);
        let back = read_plan_csv(&write(dir.path(), "p.csv", &text), &s).expect("read");
        assert_eq!(back, plan);
        // Rows in another order, columns swapped: the same plan.
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1..].reverse();
        let back = read_plan_csv(&write(dir.path(), "r.csv", &lines.join("\n")), &s).expect("read");
        assert_eq!(back, plan);
    }

    #[test]
    fn bad_plan_files_are_named_by_line_and_column() {
        let s = scenario();
        let plan = Nearest
            .allocate(&Problem::new(&s, SimParams::default()))
            .expect("plan");
        let dir = tempfile::tempdir().expect("tempdir");
        let text = plan_csv(&plan, &s);
        let first_dc = s.datacenters[0].name.clone();
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (text.replace(&first_dc, "elsewhere"), "lacks the column"),
            (text.replacen("\n0,0,0,", "\n0,0,0,nan", 1), ":2: field "),
            (
                text.replacen("\n0,0,0,", "\n0,0,99,", 1),
                "not a whole number below",
            ),
            (
                text.lines().take(3).collect::<Vec<_>>().join("\n"),
                "no row for epoch",
            ),
            (
                format!("{text}{}\n", text.lines().nth(1).expect("row")),
                "has a second row",
            ),
        ];
        for (i, (body, want)) in cases.into_iter().enumerate() {
            let path = write(dir.path(), &format!("{i}.csv"), &body);
            let err = read_plan_csv(&path, &s).expect_err(want).to_string();
            assert!(err.contains(want), "case {i}: {err}");
            assert!(
                err.contains(&format!("{i}.csv")),
                "case {i} names the file: {err}"
            );
        }
    }
}
