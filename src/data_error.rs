//! Errors in user data, naming the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of problem a [`DataError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The file holds no data rows.
    Empty,
    /// A required column is absent from the header.
    MissingColumn,
    /// A line has too few fields or cannot be split.
    Malformed,
    /// A field does not parse, or is NaN, infinite, negative or out of range.
    InvalidValue,
    /// A timestamp is earlier than the one before it.
    OutOfOrder,
    /// A series is shorter than the horizon that uses it.
    TooShort,
    /// The file is larger than Verdant holds in memory (docs/limits.md).
    TooLarge,
}

/// A problem in a data file: `file:line: field: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// What kind of error.
    pub kind: DataErrorKind,
    /// The file.
    pub file: PathBuf,
    /// 1-based line number, where the problem is on one line.
    pub line: Option<u64>,
    /// The column (or key) concerned.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl DataError {
    /// An error of `kind` in `file`.
    pub fn new(kind: DataErrorKind, file: &Path, message: impl Into<String>) -> Self {
        DataError {
            kind,
            file: file.to_owned(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// At 1-based line `line`.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// In field (column) `field`.
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn io(file: &Path, err: &std::io::Error) -> Self {
        DataError::new(DataErrorKind::Io, file, err.to_string())
    }

    /// A read error of the csv crate in `file`: an I/O error, or bytes it cannot parse.
    pub(crate) fn csv(file: &Path, err: &csv::Error) -> Self {
        let kind = if matches!(err.kind(), csv::ErrorKind::Io(_)) {
            DataErrorKind::Io
        } else {
            DataErrorKind::Malformed
        };
        let e = DataError::new(kind, file, err.to_string());
        match err.position() {
            Some(p) => e.at_line(p.line()),
            None => e,
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DataError {}

/// Lines skipped by a lenient reader, with their reasons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkipReport {
    /// Lines skipped, by kind of problem.
    pub skipped_by_kind: std::collections::BTreeMap<DataErrorKind, u64>,
    /// The first few errors in full (at most [`SkipReport::KEEP`]).
    pub first_errors: Vec<DataError>,
}

impl SkipReport {
    /// How many errors are kept as examples.
    pub const KEEP: usize = 10;

    /// Counts a skipped line and keeps it as an example while fewer than [`Self::KEEP`] are.
    pub fn record(&mut self, err: DataError) {
        *self.skipped_by_kind.entry(err.kind).or_default() += 1;
        if self.first_errors.len() < Self::KEEP {
            self.first_errors.push(err);
        }
    }

    /// Lines skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped_by_kind.values().sum()
    }
}

impl fmt::Display for SkipReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lines skipped", self.skipped())?;
        for (kind, n) in &self.skipped_by_kind {
            write!(f, "; {n} {kind:?}")?;
        }
        Ok(())
    }
}
