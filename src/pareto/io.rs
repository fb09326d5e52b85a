//! Point sets on disk.
//!
//! - **moocore format**: whitespace-separated numbers, one point per line, a blank line between
//!   sets, `#` starts a comment. All objectives minimised.
//! - **CSV**: a header naming each objective as `name:unit:min` or `name:unit:max` (e.g.
//!   `ttft:s:min,carbon:kg:min`), one point per row; an optional first column `set` groups rows
//!   into sets. Maximised objectives are negated on reading, so every set is minimised inside.
//!
//! A file is read whole: at most [`MAX_FRONT_FILE_BYTES`] bytes and [`MAX_FRONT_VALUES`] values
//! (docs/limits.md), refused with a named error beyond.

use std::fmt::Write as _;
use std::path::Path;

use crate::data_error::{DataError, DataErrorKind};

/// One objective of a CSV header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    /// The column's name.
    pub name: String,
    /// Its unit, as written.
    pub unit: String,
    /// Maximised (negated on reading, so that every objective is minimised).
    pub maximise: bool,
}

/// Point sets read from a file, every objective minimised.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSets {
    /// Number of objectives.
    pub d: usize,
    /// Present for CSV input.
    pub objectives: Vec<Objective>,
    /// Each set's rows, row-major.
    pub sets: Vec<Vec<f64>>,
}

impl PointSets {
    /// All sets' rows together.
    pub fn union(&self) -> Vec<f64> {
        self.sets.concat()
    }
}

/// The largest point file read: 256 MiB (its text is held while it is parsed).
pub const MAX_FRONT_FILE_BYTES: u64 = 256 << 20;

/// The most values (points x objectives) of a point file: 2^24, 128 MiB of values (two million
/// points in eight objectives). Exact hypervolume past a few thousand points in six or more
/// objectives would not finish anyway (docs/limits.md).
pub const MAX_FRONT_VALUES: usize = 1 << 24;

/// Reads a file, as CSV when its name ends in `.csv`, in moocore's format otherwise.
pub fn read_points(path: &Path) -> Result<PointSets, DataError> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, &e))?
        .len();
    if bytes > MAX_FRONT_FILE_BYTES {
        return Err(DataError::new(
            DataErrorKind::TooLarge,
            path,
            format!(
                "{bytes} bytes: point files are read whole into memory, at most {MAX_FRONT_FILE_BYTES} bytes (256 MiB) and {MAX_FRONT_VALUES} values; thin the front first (its first front, a sample)"
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, &e))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        parse_csv(&text, path)
    } else {
        parse_moocore(&text, path)
    }
}

/// The error of a file with more than [`MAX_FRONT_VALUES`] values, at `line`.
fn too_many_values(path: &Path, line: usize) -> DataError {
    DataError::new(
        DataErrorKind::TooLarge,
        path,
        format!(
            "more than {MAX_FRONT_VALUES} values (points x objectives): point sets are held in memory; thin the front first (its first front, a sample)"
        ),
    )
    .at_line(line as u64)
}

fn number(raw: &str, path: &Path, line: usize, field: String) -> Result<f64, DataError> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            DataError::new(
                DataErrorKind::InvalidValue,
                path,
                format!("{raw:?} is not a finite number"),
            )
            .at_line(line as u64)
            .in_field(field)
        })
}

/// Parses moocore's format.
pub fn parse_moocore(text: &str, path: &Path) -> Result<PointSets, DataError> {
    let mut sets: Vec<Vec<f64>> = vec![Vec::new()];
    let mut d = 0;
    let mut values = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            if raw.trim().is_empty() && !sets.last().is_some_and(Vec::is_empty) {
                sets.push(Vec::new());
            }
            continue;
        }
        let mut count = 0;
        for (k, field) in line.split_whitespace().enumerate() {
            values += 1;
            if values > MAX_FRONT_VALUES {
                return Err(too_many_values(path, i + 1));
            }
            let v = number(field, path, i + 1, format!("column {}", k + 1))?;
            sets.last_mut().expect("a set").push(v);
            count += 1;
        }
        if d == 0 {
            d = count;
        } else if count != d {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!("{count} values, the first point has {d}"),
            )
            .at_line(i as u64 + 1));
        }
    }
    sets.retain(|s| !s.is_empty());
    if sets.is_empty() {
        return Err(DataError::new(DataErrorKind::Empty, path, "no points"));
    }
    Ok(PointSets {
        d,
        objectives: Vec::new(),
        sets,
    })
}

/// Parses the CSV format.
pub fn parse_csv(text: &str, path: &Path) -> Result<PointSets, DataError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| DataError::new(DataErrorKind::Empty, path, "the file is empty"))?;
    let mut columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let has_set = columns.first() == Some(&"set");
    if has_set {
        columns.remove(0);
    }
    let mut objectives = Vec::new();
    for c in &columns {
        let parts: Vec<&str> = c.split(':').collect();
        let ok = parts.len() == 3 && !parts[0].is_empty() && matches!(parts[2], "min" | "max");
        if !ok {
            return Err(DataError::new(
                DataErrorKind::MissingColumn,
                path,
                format!("header column {c:?} is not name:unit:min or name:unit:max"),
            )
            .at_line(1)
            .in_field(c.to_string()));
        }
        objectives.push(Objective {
            name: parts[0].to_owned(),
            unit: parts[1].to_owned(),
            maximise: parts[2] == "max",
        });
    }
    let d = objectives.len();
    if d == 0 {
        return Err(
            DataError::new(DataErrorKind::MissingColumn, path, "no objective columns").at_line(1),
        );
    }
    let mut names: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut sets: Vec<Vec<f64>> = Vec::new();
    let mut rows = 0usize;
    for (i, line) in lines {
        rows += 1;
        if rows.saturating_mul(d) > MAX_FRONT_VALUES {
            return Err(too_many_values(path, i + 1));
        }
        let mut fields = line.split(',');
        let set = if has_set {
            fields.next().unwrap_or("").trim().to_owned()
        } else {
            String::new()
        };
        let next = sets.len();
        let k = *names.entry(set).or_insert(next);
        if k == next {
            sets.push(Vec::new());
        }
        let values: Vec<&str> = fields.collect();
        if values.len() != d {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                path,
                format!("{} objective values, the header names {d}", values.len()),
            )
            .at_line(i as u64 + 1));
        }
        for (o, raw) in objectives.iter().zip(values) {
            let v = number(raw, path, i + 1, o.name.clone())?;
            sets[k].push(if o.maximise { -v } else { v });
        }
    }
    if sets.is_empty() {
        return Err(DataError::new(
            DataErrorKind::Empty,
            path,
            "the header has no rows under it",
        ));
    }
    Ok(PointSets {
        d,
        objectives,
        sets,
    })
}

/// Writes sets in moocore's format (17 significant digits, so values read back exactly).
pub fn write_moocore(sets: &[Vec<f64>], d: usize) -> String {
    let mut out = String::new();
    for (k, set) in sets.iter().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        for row in set.chunks_exact(d) {
            let line: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
            let _ = writeln!(out, "{}", line.join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moocore_format_round_trips() {
        let text = "# two sets\n1 2 3\n4 5 6\n\n0.5 0.25 1e-3\n";
        let p = parse_moocore(text, Path::new("f")).unwrap();
        assert_eq!((p.d, p.sets.len()), (3, 2));
        assert_eq!(p.sets[1], vec![0.5, 0.25, 1e-3]);
        let again = parse_moocore(&write_moocore(&p.sets, 3), Path::new("g")).unwrap();
        assert_eq!(again, p);
        let err = parse_moocore("1 2\n3\n", Path::new("f")).unwrap_err();
        assert_eq!(err.line, Some(2));
        let err = parse_moocore("1 x\n", Path::new("f")).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref()),
            (Some(1), Some("column 2"))
        );
    }

    #[test]
    fn csv_negates_maximised_objectives_and_groups_sets() {
        let text = "set,ttft:s:min,throughput:req/s:max\na,1.5,10\nb,2,20\na,1,5\n";
        let p = parse_csv(text, Path::new("f.csv")).unwrap();
        assert_eq!(
            p.objectives[1],
            Objective {
                name: "throughput".into(),
                unit: "req/s".into(),
                maximise: true
            }
        );
        assert_eq!(p.sets, vec![vec![1.5, -10.0, 1.0, -5.0], vec![2.0, -20.0]]);
        let err = parse_csv("ttft,carbon\n1,2\n", Path::new("f.csv")).unwrap_err();
        assert_eq!(err.kind, DataErrorKind::MissingColumn);
        let err = parse_csv("a:s:min\nNaN\n", Path::new("f.csv")).unwrap_err();
        assert_eq!((err.line, err.field.as_deref()), (Some(2), Some("a")));
    }
}
