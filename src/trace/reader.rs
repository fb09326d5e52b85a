//! Streaming trace readers.
//!
//! Formats (columns found by name in the header, in any order; extra columns are ignored):
//! - **Azure** LLM inference traces (2023 and 2024): `TIMESTAMP, ContextTokens, GeneratedTokens`;
//!   timestamps `YYYY-MM-DD HH:MM:SS[.fraction][+00:00|Z]` in UTC.
//! - **BurstGPT**: `Timestamp, Model, Request tokens, Response tokens[, Total tokens, Log Type]`;
//!   timestamps are seconds since the trace began; each distinct `Model` becomes a request class.
//!
//! A [`TraceReader`] yields one request per data line without holding the file in memory (the
//! 2024 Azure week has 27M lines) and without allocating per line. Each bad line is an error
//! naming file, line and field; the reader then goes on with the next line, so that a lenient
//! caller can skip it ([`read_trace`] with `lenient`). Timestamps must not go back in time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Request, Trace};
use crate::data_error::{DataError, DataErrorKind, SkipReport};
use crate::parse::{parse_datetime, parse_f64, parse_u32, split_fields, trim, MAX_FIELDS};

/// The trace file formats Verdant reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// Azure's LLM inference traces (`TIMESTAMP,ContextTokens,GeneratedTokens`).
    Azure,
    /// BurstGPT's CSV.
    BurstGpt,
}

impl TraceFormat {
    /// The columns the format requires, by header name.
    fn required_columns(self) -> &'static [&'static str] {
        match self {
            TraceFormat::Azure => &["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
            TraceFormat::BurstGpt => &["Timestamp", "Model", "Request tokens", "Response tokens"],
        }
    }
}

/// Reads requests one line at a time; see the module documentation.
pub struct TraceReader<R> {
    reader: R,
    path: PathBuf,
    format: TraceFormat,
    line_no: u64,
    buf: Vec<u8>,
    /// Column index of each required column, in `required_columns` order.
    columns: [usize; 4],
    fields_needed: usize,
    start_unix_s: Option<i64>,
    previous_arrival_s: f64,
    class_names: Vec<String>,
}

impl TraceReader<BufReader<File>> {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, format: TraceFormat) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        TraceReader::new(BufReader::with_capacity(1 << 16, file), path, format)
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Reads the header from `reader`; `path` names the source in errors.
    pub fn new(reader: R, path: &Path, format: TraceFormat) -> Result<Self, DataError> {
        let mut this = TraceReader {
            reader,
            path: path.to_owned(),
            format,
            line_no: 0,
            buf: Vec::with_capacity(256),
            columns: [0; 4],
            fields_needed: 0,
            start_unix_s: None,
            previous_arrival_s: f64::NEG_INFINITY,
            class_names: Vec::new(),
        };
        if !this.read_line()? {
            return Err(DataError::new(
                DataErrorKind::Empty,
                path,
                "the file is empty (no header)",
            ));
        }
        let mut header: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
        let n = split_fields(&this.buf, &mut header);
        for (slot, name) in format.required_columns().iter().enumerate() {
            let found = header[..n]
                .iter()
                .position(|h| trim(h).eq_ignore_ascii_case(name.as_bytes()));
            match found {
                Some(i) => this.columns[slot] = i,
                None => {
                    return Err(DataError::new(
                        DataErrorKind::MissingColumn,
                        path,
                        format!(
                        "the header lacks the column {name:?} required by the {format:?} format"
                    ),
                    )
                    .at_line(1)
                    .in_field(*name))
                }
            }
        }
        this.fields_needed = this.columns[..format.required_columns().len()]
            .iter()
            .max()
            .map_or(0, |m| m + 1);
        if format == TraceFormat::Azure {
            this.class_names.push("default".to_owned());
        }
        Ok(this)
    }

    /// Reads the next line into `buf` without its line ending; false at the end of the file.
    fn read_line(&mut self) -> Result<bool, DataError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| DataError::io(&self.path, &e).at_line(self.line_no + 1))?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
    }

    /// Unix time of `arrival_s = 0` (absolute formats; known after the first request).
    pub fn start_unix_s(&self) -> Option<i64> {
        self.start_unix_s
    }

    /// The request classes seen so far.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The line number of the last line read (1 is the header).
    pub fn line(&self) -> u64 {
        self.line_no
    }

    fn error(&self, kind: DataErrorKind, field: &str, message: String) -> DataError {
        DataError::new(kind, &self.path, message)
            .at_line(self.line_no)
            .in_field(field)
    }

    fn parse_line(&mut self) -> Result<Request, DataError> {
        let mut fields: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
        let line = std::mem::take(&mut self.buf);
        let n = split_fields(&line, &mut fields);
        let result = if n < self.fields_needed {
            Err(DataError::new(
                DataErrorKind::Malformed,
                &self.path,
                format!("expected at least {} fields, found {n}", self.fields_needed),
            )
            .at_line(self.line_no))
        } else {
            self.parse_fields(&fields)
        };
        self.buf = line;
        result
    }

    fn parse_fields(&mut self, fields: &[&[u8]; MAX_FIELDS]) -> Result<Request, DataError> {
        let names = self.format.required_columns();
        let time_field = trim(fields[self.columns[0]]);
        let (input_col, output_col) = match self.format {
            TraceFormat::Azure => (1, 2),
            TraceFormat::BurstGpt => (2, 3),
        };
        let tokens = |slot: usize| {
            let raw = trim(fields[self.columns[slot]]);
            parse_u32(raw).ok_or_else(|| {
                self.error(
                    DataErrorKind::InvalidValue,
                    names[slot],
                    format!(
                        "{:?} is not a non-negative whole number of tokens",
                        String::from_utf8_lossy(raw)
                    ),
                )
            })
        };
        let input_tokens = tokens(input_col)?;
        let output_tokens = tokens(output_col)?;

        let (arrival_s, class) = match self.format {
            TraceFormat::Azure => {
                let (secs, frac) = parse_datetime(time_field).ok_or_else(|| {
                    self.error(
                        DataErrorKind::InvalidValue,
                        names[0],
                        format!(
                            "{:?} is not a timestamp of the form YYYY-MM-DD HH:MM:SS[.fraction]",
                            String::from_utf8_lossy(time_field)
                        ),
                    )
                })?;
                let start = *self.start_unix_s.get_or_insert(secs);
                ((secs - start) as f64 + frac, 0u16)
            }
            TraceFormat::BurstGpt => {
                let t = parse_f64(time_field).filter(|t| *t >= 0.0).ok_or_else(|| {
                    self.error(
                        DataErrorKind::InvalidValue,
                        names[0],
                        format!(
                            "{:?} is not a finite non-negative number of seconds",
                            String::from_utf8_lossy(time_field)
                        ),
                    )
                })?;
                let model = trim(fields[self.columns[1]]);
                if model.is_empty() {
                    return Err(self.error(
                        DataErrorKind::InvalidValue,
                        names[1],
                        "empty model name".to_owned(),
                    ));
                }
                let class = match self.class_names.iter().position(|c| c.as_bytes() == model) {
                    Some(i) => i,
                    None => {
                        self.class_names
                            .push(String::from_utf8_lossy(model).into_owned());
                        self.class_names.len() - 1
                    }
                };
                let class = u16::try_from(class).map_err(|_| {
                    self.error(
                        DataErrorKind::InvalidValue,
                        names[1],
                        "more than 65,535 distinct models".to_owned(),
                    )
                })?;
                (t, class)
            }
        };
        if arrival_s < self.previous_arrival_s {
            return Err(self.error(
                DataErrorKind::OutOfOrder,
                names[0],
                format!(
                    "timestamp goes back in time: {:.6} s after the trace start, the line before was at {:.6} s",
                    arrival_s, self.previous_arrival_s
                ),
            ));
        }
        self.previous_arrival_s = arrival_s;
        Ok(Request {
            arrival_s,
            input_tokens,
            output_tokens,
            class,
            origin: 0,
        })
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Request, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(false) => return None,
                Ok(true) if self.buf.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(true) => return Some(self.parse_line()),
            }
        }
    }
}

/// A whole trace read into memory, with the lines a lenient read skipped.
#[derive(Debug, Clone)]
pub struct LoadedTrace {
    /// The requests read.
    pub trace: Trace,
    /// What was skipped, and why (lenient reading).
    pub skipped: SkipReport,
}

/// Reads a whole trace file. Strict (`lenient = false`): the first bad line is the error. Lenient:
/// bad lines are skipped and reported; a file-level problem (unreadable, empty, missing column,
/// no valid line at all) is still an error.
pub fn read_trace(
    path: &Path,
    format: TraceFormat,
    lenient: bool,
) -> Result<LoadedTrace, DataError> {
    let mut reader = TraceReader::open(path, format)?;
    let mut requests = Vec::new();
    let mut skipped = SkipReport::default();
    for item in reader.by_ref() {
        match item {
            Ok(request) => requests.push(request),
            Err(e) if lenient && e.kind != DataErrorKind::Io => skipped.record(e),
            Err(e) => return Err(e),
        }
    }
    if requests.is_empty() {
        let message = if let Some(first) = skipped.first_errors.first() {
            format!("no valid data line ({skipped}; first: {first})")
        } else {
            "the file has a header but no data lines".to_owned()
        };
        return Err(DataError::new(DataErrorKind::Empty, path, message));
    }
    Ok(LoadedTrace {
        trace: Trace {
            source: path.display().to_string(),
            start_unix_s: reader.start_unix_s(),
            class_names: reader.class_names().to_vec(),
            requests,
        },
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, format: TraceFormat) -> Result<Vec<Request>, DataError> {
        TraceReader::new(text.as_bytes(), Path::new("t.csv"), format)?.collect()
    }

    #[test]
    fn azure_rows_parse_with_fractions_and_offsets() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:17:03.9799600,4808,10\n\
                    2023-11-16 18:17:04.5+00:00,3180,8\r\n\
                    \n\
                    2023-11-16T18:17:05Z,1,0\n";
        let rows = read(text, TraceFormat::Azure).unwrap();
        assert_eq!(rows.len(), 3);
        assert!((rows[0].arrival_s - 0.97996).abs() < 1e-9);
        assert!((rows[1].arrival_s - 1.5).abs() < 1e-9);
        assert_eq!(
            (
                rows[2].arrival_s,
                rows[2].input_tokens,
                rows[2].output_tokens
            ),
            (2.0, 1, 0)
        );
    }

    #[test]
    fn burstgpt_models_become_classes() {
        let text = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
                    5,ChatGPT,472,18,490,Conversation log\n\
                    45,GPT-4,1087,0,1087,API log\n\
                    118,ChatGPT,417,217,634,Conversation log\n";
        let mut reader =
            TraceReader::new(text.as_bytes(), Path::new("b.csv"), TraceFormat::BurstGpt).unwrap();
        let rows: Vec<Request> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.class).collect::<Vec<_>>(),
            vec![0, 1, 0]
        );
        assert_eq!(reader.class_names(), ["ChatGPT", "GPT-4"]);
        assert_eq!(rows[1].arrival_s, 45.0);
    }
}
