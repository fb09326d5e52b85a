//! Streaming trace readers.
//!
//! Formats (CSV columns found by name in the header, in any order; extra columns are ignored):
//! - **Azure** LLM inference traces (2023 and 2024): `TIMESTAMP, ContextTokens, GeneratedTokens`;
//!   timestamps `YYYY-MM-DD HH:MM:SS[.fraction][+00:00|Z]` in UTC (the 2024 traces write
//!   microseconds and `+00:00`).
//! - **BurstGPT**: `Timestamp, Model, Request tokens, Response tokens[, Total tokens, Log Type]`;
//!   timestamps are seconds since the trace began; each distinct `Model` becomes a request class.
//! - **Vidur** / Splitwise request traces: `arrived_at, num_prefill_tokens, num_decode_tokens`;
//!   arrival in seconds since the trace began.
//! - **Mooncake** JSON lines (no header): `{"timestamp": ms, "input_length": n, "output_length":
//!   n, "hash_ids": [..]}`, `hash_ids` the 512-token prefix blocks of the prompt; the blocks an
//!   earlier line already had become [`Request::shared_prefix_tokens`].
//!
//! [`TraceFormat::Auto`] detects the format from the first line (a JSON object, or a header
//! with one format's columns). A UTF-8 byte order mark and CRLF line ends are accepted.
//!
//! A [`TraceReader`] yields one request per data line without holding the file in memory (the
//! 2024 Azure week has 27M lines) and without allocating per line (a Mooncake reader keeps the
//! set of prefix blocks seen so far). Each bad line is an error naming file, line, field and
//! format (a long value quoted by its first 40 characters); the reader then goes on with the
//! next line, so that a lenient caller can skip it ([`read_trace`] with `lenient`). Timestamps
//! must not go back in time.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Request, Trace};
use crate::data_error::{DataError, DataErrorKind, SkipReport};
use crate::parse::{parse_datetime, parse_f64, parse_u32, trim, CsvRecords};

/// The trace file formats Verdant reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceFormat {
    /// Whichever of the others the first line shows (the default).
    #[default]
    Auto,
    /// Azure's LLM inference traces (`TIMESTAMP,ContextTokens,GeneratedTokens`).
    Azure,
    /// BurstGPT's CSV.
    BurstGpt,
    /// Vidur's and Splitwise's request CSV (`arrived_at,num_prefill_tokens,num_decode_tokens`).
    Vidur,
    /// Mooncake's JSON lines.
    Mooncake,
}

/// Tokens in one of Mooncake's prefix blocks (`hash_ids`).
pub const MOONCAKE_BLOCK_TOKENS: u32 = 512;

impl TraceFormat {
    /// The formats [`TraceFormat::Auto`] chooses from.
    pub const CONCRETE: [TraceFormat; 4] = [
        TraceFormat::Azure,
        TraceFormat::BurstGpt,
        TraceFormat::Vidur,
        TraceFormat::Mooncake,
    ];

    /// The format's name as configuration files and `--format` spell it.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Auto => "auto",
            TraceFormat::Azure => "azure",
            TraceFormat::BurstGpt => "burstgpt",
            TraceFormat::Vidur => "vidur",
            TraceFormat::Mooncake => "mooncake",
        }
    }

    /// The columns (or JSON keys) the format requires: arrival time, then input and output
    /// tokens (BurstGPT: the model between them).
    fn required_columns(self) -> &'static [&'static str] {
        match self {
            TraceFormat::Auto => &[],
            TraceFormat::Azure => &["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
            TraceFormat::BurstGpt => &["Timestamp", "Model", "Request tokens", "Response tokens"],
            TraceFormat::Vidur => &["arrived_at", "num_prefill_tokens", "num_decode_tokens"],
            TraceFormat::Mooncake => &["timestamp", "input_length", "output_length"],
        }
    }

    /// The format whose first line `line` is: a JSON object is Mooncake's; a CSV header is the
    /// format all of whose columns it names (a byte order mark and surrounding blanks ignored).
    pub fn detect(line: &[u8]) -> Option<TraceFormat> {
        if starts_json(line) {
            return Some(TraceFormat::Mooncake);
        }
        let mut header = CsvRecords::new(trim(strip_bom(line)));
        match header.next() {
            Ok(true) => TraceFormat::of_header(header.record()),
            _ => None,
        }
    }

    /// The CSV format all of whose columns `header` names.
    fn of_header(header: &csv::ByteRecord) -> Option<TraceFormat> {
        TraceFormat::CONCRETE
            .into_iter()
            .filter(|f| *f != TraceFormat::Mooncake)
            .find(|f| {
                f.required_columns()
                    .iter()
                    .all(|c| header.iter().any(|h| names_column(h, c)))
            })
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether header field `h` names column `name` (blanks around it and case ignored).
fn names_column(h: &[u8], name: &str) -> bool {
    trim(h).eq_ignore_ascii_case(name.as_bytes())
}

/// `line` without a leading UTF-8 byte order mark.
fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// Whether `line` (a byte order mark and blanks before it ignored) opens a JSON object.
fn starts_json(line: &[u8]) -> bool {
    trim(strip_bom(line)).first() == Some(&b'{')
}

/// A value for an error message: the bytes as text, and past 40 characters their first 40
/// and the length.
fn quoted(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{:?}... ({} bytes)", &text[..end], raw.len()),
        None => format!("{text:?}"),
    }
}

/// Reads requests one line at a time; see the module documentation.
pub struct TraceReader<R: BufRead> {
    /// The lines (JSON) or records (CSV) still to read; `None` only while one is parsed (boxed:
    /// taking it out moves a pointer, not the csv reader's tables).
    source: Option<Box<Source<R>>>,
    path: PathBuf,
    format: TraceFormat,
    line_no: u64,
    /// The current JSON line.
    buf: Vec<u8>,
    /// Column index of each required column, in `required_columns` order.
    columns: [usize; 4],
    fields_needed: usize,
    start_unix_s: Option<i64>,
    previous_arrival_s: f64,
    class_names: Vec<String>,
    /// The line in `buf` is data not yet returned (a Mooncake file's first line).
    pending: bool,
    /// Mooncake: the prefix blocks of the lines read so far.
    seen_blocks: BlockSet,
}

/// Where a [`TraceReader`] reads from: lines of JSON, or CSV records.
enum Source<R: BufRead> {
    Json(R),
    Csv(CsvRecords<R>),
}

impl TraceReader<BufReader<File>> {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, format: TraceFormat) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, &e))?;
        TraceReader::new(BufReader::with_capacity(1 << 16, file), path, format)
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Reads the header from `reader` (for [`TraceFormat::Auto`], first finds the format from
    /// it); `path` names the source in errors.
    pub fn new(mut reader: R, path: &Path, format: TraceFormat) -> Result<Self, DataError> {
        let start = reader
            .fill_buf()
            .map_err(|e| DataError::io(path, &e).at_line(1))?;
        if start.is_empty() {
            return Err(DataError::new(
                DataErrorKind::Empty,
                path,
                "the file is empty (no header)",
            ));
        }
        let json = starts_json(start);
        let mut this = TraceReader {
            source: None,
            path: path.to_owned(),
            format,
            line_no: 0,
            buf: Vec::with_capacity(256),
            columns: [0; 4],
            fields_needed: 0,
            start_unix_s: None,
            previous_arrival_s: f64::NEG_INFINITY,
            class_names: Vec::new(),
            pending: false,
            seen_blocks: BlockSet::default(),
        };
        if format == TraceFormat::Mooncake || (format == TraceFormat::Auto && json) {
            // JSON lines have no header: the first line is data.
            this.format = TraceFormat::Mooncake;
            this.source = Some(Box::new(Source::Json(reader)));
            this.pending = this.read_line()?;
            this.class_names.push("default".to_owned());
            return Ok(this);
        }
        let mut records = CsvRecords::new(reader);
        if !records.next().map_err(|e| DataError::csv(path, &e))? {
            return Err(DataError::new(
                DataErrorKind::Empty,
                path,
                "the file has no header (only blank lines)",
            ));
        }
        let header = records.record();
        if format == TraceFormat::Auto {
            this.format = TraceFormat::of_header(header).ok_or_else(|| {
                let shown: Vec<String> = header.iter().map(quoted).collect();
                DataError::new(
                    DataErrorKind::MissingColumn,
                    path,
                    format!(
                        "cannot tell the trace format from the first line ({}): it is neither a JSON object (mooncake) nor a header with the columns of azure ({}), burstgpt ({}) or vidur ({})",
                        shown.join(", "),
                        TraceFormat::Azure.required_columns().join(", "),
                        TraceFormat::BurstGpt.required_columns().join(", "),
                        TraceFormat::Vidur.required_columns().join(", "),
                    ),
                )
                .at_line(1)
            })?;
        }
        let format = this.format;
        let columns = records.columns(format.required_columns()).map_err(|name| {
            DataError::new(
                DataErrorKind::MissingColumn,
                path,
                format!("the header lacks the column {name:?} required by the {format} format"),
            )
            .at_line(1)
            .in_field(name)
        })?;
        this.columns[..columns.len()].copy_from_slice(&columns);
        this.fields_needed = columns.iter().max().map_or(0, |m| m + 1);
        this.line_no = records.line();
        this.source = Some(Box::new(Source::Csv(records)));
        if format != TraceFormat::BurstGpt {
            this.class_names.push("default".to_owned());
        }
        Ok(this)
    }

    /// The format read (the one detected, for [`TraceFormat::Auto`]).
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    /// Reads the next JSON line into `buf` without its line ending; false at the end of the file.
    fn read_line(&mut self) -> Result<bool, DataError> {
        self.buf.clear();
        let Some(Source::Json(reader)) = self.source.as_deref_mut() else {
            return Ok(false);
        };
        let most = crate::parse::MAX_LINE_BYTES as u64 + 1;
        let n = std::io::Read::take(reader, most)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| DataError::io(&self.path, &e).at_line(self.line_no + 1))?;
        if n == 0 {
            return Ok(false);
        }
        if n as u64 == most && self.buf.last() != Some(&b'\n') {
            let e = crate::parse::line_too_long();
            return Err(DataError::io(&self.path, &e).at_line(self.line_no + 1));
        }
        self.line_no += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        if self.line_no == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
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
        DataError::new(
            kind,
            &self.path,
            format!("{message} ({} format)", self.format),
        )
        .at_line(self.line_no)
        .in_field(field)
    }

    /// The current JSON line's request.
    fn parse_line(&mut self) -> Result<Request, DataError> {
        let line = std::mem::take(&mut self.buf);
        let result = self.parse_json(&line);
        self.buf = line;
        result
    }

    /// The request of the current CSV record.
    fn parse_record(&mut self, record: &csv::ByteRecord) -> Result<Request, DataError> {
        if record.len() < self.fields_needed {
            return Err(DataError::new(
                DataErrorKind::Malformed,
                &self.path,
                format!(
                    "expected at least {} fields, found {} ({} format)",
                    self.fields_needed,
                    record.len(),
                    self.format
                ),
            )
            .at_line(self.line_no));
        }
        self.parse_fields(record)
    }

    fn parse_fields(&mut self, fields: &csv::ByteRecord) -> Result<Request, DataError> {
        let names = self.format.required_columns();
        let time_field = trim(&fields[self.columns[0]]);
        let (input_col, output_col) = match self.format {
            TraceFormat::BurstGpt => (2, 3),
            _ => (1, 2),
        };
        let tokens = |slot: usize| {
            let raw = trim(&fields[self.columns[slot]]);
            parse_u32(raw).ok_or_else(|| {
                self.error(
                    DataErrorKind::InvalidValue,
                    names[slot],
                    format!(
                        "{} is not a non-negative whole number of tokens",
                        quoted(raw)
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
                            "{} is not a timestamp of the form YYYY-MM-DD HH:MM:SS[.fraction][+00:00]",
                            quoted(time_field)
                        ),
                    )
                })?;
                let start = *self.start_unix_s.get_or_insert(secs);
                ((secs - start) as f64 + frac, 0u16)
            }
            TraceFormat::Vidur => (self.seconds(time_field, names[0])?, 0),
            TraceFormat::BurstGpt => {
                let t = self.seconds(time_field, names[0])?;
                let model = trim(&fields[self.columns[1]]);
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
            TraceFormat::Auto | TraceFormat::Mooncake => {
                unreachable!("the header decided a CSV format")
            }
        };
        self.request(arrival_s, input_tokens, output_tokens, class, 0)
    }

    /// A time field of seconds since the trace began.
    fn seconds(&self, raw: &[u8], field: &str) -> Result<f64, DataError> {
        parse_f64(raw).filter(|t| *t >= 0.0).ok_or_else(|| {
            self.error(
                DataErrorKind::InvalidValue,
                field,
                format!(
                    "{} is not a finite non-negative number of seconds",
                    quoted(raw)
                ),
            )
        })
    }

    /// One Mooncake JSON line.
    fn parse_json(&mut self, line: &[u8]) -> Result<Request, DataError> {
        use serde::de::DeserializeSeed;
        let names = TraceFormat::Mooncake.required_columns();
        let mut de = serde_json::Deserializer::from_slice(line);
        let parsed = MooncakeLine {
            seen: &mut self.seen_blocks,
        }
        .deserialize(&mut de)
        .and_then(|x| de.end().map(|()| x));
        let fields = parsed.map_err(|e| {
            DataError::new(
                DataErrorKind::Malformed,
                &self.path,
                format!("not a JSON object of a request: {e} (mooncake format)"),
            )
            .at_line(self.line_no)
        })?;
        let number = |slot: usize, value: Option<f64>| {
            value.ok_or_else(|| {
                self.error(
                    DataErrorKind::MissingColumn,
                    names[slot],
                    format!("the line has no {:?}", names[slot]),
                )
            })
        };
        let tokens = |slot: usize, value: Option<f64>| -> Result<u32, DataError> {
            let v = number(slot, value)?;
            if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
                Ok(v as u32)
            } else {
                Err(self.error(
                    DataErrorKind::InvalidValue,
                    names[slot],
                    format!("{v} is not a non-negative whole number of tokens"),
                ))
            }
        };
        let input_tokens = tokens(1, fields.input_length)?;
        let output_tokens = tokens(2, fields.output_length)?;
        let ms = number(0, fields.timestamp_ms)?;
        if ms < 0.0 || !ms.is_finite() {
            return Err(self.error(
                DataErrorKind::InvalidValue,
                names[0],
                format!("{ms} is not a non-negative number of milliseconds"),
            ));
        }
        let shared = fields.seen_blocks.saturating_mul(MOONCAKE_BLOCK_TOKENS);
        self.request(
            ms / 1000.0,
            input_tokens,
            output_tokens,
            0,
            shared.min(input_tokens),
        )
    }

    /// The request of a parsed line, if its arrival does not go back in time.
    fn request(
        &mut self,
        arrival_s: f64,
        input_tokens: u32,
        output_tokens: u32,
        class: u16,
        shared_prefix_tokens: u32,
    ) -> Result<Request, DataError> {
        let names = self.format.required_columns();
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
            shared_prefix_tokens,
        })
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Request, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(Source::Csv(records)) = self.source.as_deref_mut() {
            return match records.next() {
                Err(e) => {
                    // An I/O error has no position of its own: it is in the line after the
                    // last one read.
                    let error = DataError::csv(&self.path, &e);
                    let line = error.line.unwrap_or(self.line_no + 1);
                    Some(Err(error.at_line(line)))
                }
                Ok(false) => None,
                Ok(true) => {
                    self.line_no = records.line();
                    // The source is taken out while its record is parsed.
                    let source = self.source.take()?;
                    let Source::Csv(records) = source.as_ref() else {
                        unreachable!("matched above")
                    };
                    let result = self.parse_record(records.record());
                    self.source = Some(source);
                    Some(result)
                }
            };
        }
        loop {
            if std::mem::take(&mut self.pending) {
                return Some(self.parse_line());
            }
            match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(false) => return None,
                Ok(true) if self.buf.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(true) => return Some(self.parse_line()),
            }
        }
    }
}

/// The fields of a Mooncake line; other keys are ignored.
#[derive(Debug, Default)]
struct MooncakeFields {
    timestamp_ms: Option<f64>,
    input_length: Option<f64>,
    output_length: Option<f64>,
    /// Prefix blocks of the line that an earlier line had.
    seen_blocks: u32,
}

/// Reads one Mooncake line, adding its prefix blocks to `seen` as it goes (no allocation).
struct MooncakeLine<'a> {
    seen: &'a mut BlockSet,
}

impl<'de> serde::de::DeserializeSeed<'de> for MooncakeLine<'_> {
    type Value = MooncakeFields;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<MooncakeFields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for MooncakeLine<'_> {
    type Value = MooncakeFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with timestamp, input_length, output_length and hash_ids")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<MooncakeFields, A::Error> {
        let mut out = MooncakeFields::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "timestamp" => out.timestamp_ms = Some(map.next_value()?),
                "input_length" => out.input_length = Some(map.next_value()?),
                "output_length" => out.output_length = Some(map.next_value()?),
                "hash_ids" => {
                    out.seen_blocks = map.next_value_seed(Blocks {
                        seen: &mut *self.seen,
                    })?;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Mooncake's `hash_ids`: counts the blocks `seen` already has, and adds the others.
struct Blocks<'a> {
    seen: &'a mut BlockSet,
}

/// A set of prefix block ids. The ids are the file's own numbering, not adversarial input that
/// could aim at collisions, so a multiplicative hash does (with SipHash reading the bundled
/// Mooncake file took about 15% longer).
type BlockSet = HashSet<u64, std::hash::BuildHasherDefault<BlockHasher>>;

/// Fibonacci hashing of a `u64` block id.
#[derive(Default)]
struct BlockHasher(u64);

impl std::hash::Hasher for BlockHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Blocks<'_> {
    type Value = u32;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Blocks<'_> {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of non-negative whole block ids")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u32, A::Error> {
        let mut shared = 0u32;
        while let Some(id) = seq.next_element::<u64>()? {
            if !self.seen.insert(id) {
                shared = shared.saturating_add(1);
            }
        }
        Ok(shared)
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
    let bytes = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, &e))?
        .len();
    if bytes > super::MAX_TRACE_FILE_BYTES {
        return Err(DataError::new(
            DataErrorKind::TooLarge,
            path,
            format!(
                "{bytes} bytes: a trace is read whole into memory, at most {} bytes (2 GiB) and {} requests; cut the file first (a slice of days, every n-th line)",
                super::MAX_TRACE_FILE_BYTES,
                super::MAX_TRACE_REQUESTS
            ),
        ));
    }
    let mut reader = TraceReader::open(path, format)?;
    let mut requests = Vec::new();
    let mut skipped = SkipReport::default();
    for item in reader.by_ref() {
        match item {
            Ok(_) if requests.len() == super::MAX_TRACE_REQUESTS => {
                return Err(DataError::new(
                    DataErrorKind::TooLarge,
                    path,
                    format!(
                        "more than {} requests: a trace is held in memory (24 bytes a request); cut the file first (a slice of days, every n-th line)",
                        super::MAX_TRACE_REQUESTS
                    ),
                )
                .at_line(reader.line()));
            }
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

    #[test]
    fn mooncake_lines_carry_their_shared_prefix() {
        let text = "{\"timestamp\": 0, \"input_length\": 1500, \"output_length\": 10, \"hash_ids\": [0, 1, 2]}\n\
                    {\"timestamp\": 3000, \"input_length\": 2000, \"output_length\": 5, \"hash_ids\": [0, 1, 7, 8]}\n\
                    {\"hash_ids\": [0], \"output_length\": 1, \"input_length\": 100, \"timestamp\": 3000.5, \"extra\": {\"a\": [1]}}\n";
        let mut reader =
            TraceReader::new(text.as_bytes(), Path::new("m.jsonl"), TraceFormat::Auto).unwrap();
        assert_eq!(reader.format(), TraceFormat::Mooncake);
        let rows: Vec<Request> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows.iter()
                .map(|r| r.shared_prefix_tokens)
                .collect::<Vec<_>>(),
            vec![0, 1024, 100]
        );
        assert_eq!((rows[1].arrival_s, rows[1].input_tokens), (3.0, 2000));
        assert!((rows[1].prefix_share() - 0.512).abs() < 1e-12);
        assert!((rows[2].arrival_s - 3.0005).abs() < 1e-12);
    }

    #[test]
    fn vidur_and_detection_accept_a_byte_order_mark_and_crlf() {
        let text = "\u{feff}request_id,arrived_at,num_prefill_tokens,num_decode_tokens\r\n\
                    0,0.5,100,20\r\n\
                    1,1.25,4096.0,1\r\n";
        let mut reader =
            TraceReader::new(text.as_bytes(), Path::new("v.csv"), TraceFormat::Auto).unwrap();
        assert_eq!(reader.format(), TraceFormat::Vidur);
        let rows: Vec<Request> = reader.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r.arrival_s, r.input_tokens, r.output_tokens))
                .collect::<Vec<_>>(),
            vec![(0.5, 100, 20), (1.25, 4096, 1)]
        );
        for (header, format) in [
            (
                "TIMESTAMP,ContextTokens,GeneratedTokens",
                Some(TraceFormat::Azure),
            ),
            (
                "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type",
                Some(TraceFormat::BurstGpt),
            ),
            ("  {\"timestamp\": 1}", Some(TraceFormat::Mooncake)),
            ("time,prompt,answer", None),
        ] {
            assert_eq!(TraceFormat::detect(header.as_bytes()), format, "{header}");
        }
        let err = read("time,prompt,answer\n1,2,3\n", TraceFormat::Auto).unwrap_err();
        assert_eq!(err.kind, DataErrorKind::MissingColumn);
        assert!(err.message.contains("vidur (arrived_at"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_before_a_required_column_and_quoted_fields_are_read() {
        let text = "\u{feff}TIMESTAMP,ContextTokens,GeneratedTokens\r\n\
                    2023-11-16 18:17:03.5,\"4808\",10\r\n";
        let rows = read(text, TraceFormat::Auto).unwrap();
        assert_eq!((rows[0].input_tokens, rows[0].output_tokens), (4808, 10));
        let text = "Timestamp,Model,Request tokens,Response tokens\n\
                    5,\"ChatGPT, \"\"beta\"\"\",472,18\n";
        let mut reader =
            TraceReader::new(text.as_bytes(), Path::new("b.csv"), TraceFormat::Auto).unwrap();
        assert_eq!(reader.by_ref().count(), 1);
        assert_eq!(reader.class_names(), ["ChatGPT, \"beta\""]);
    }

    #[test]
    fn errors_name_the_format_and_quote_long_values_by_a_prefix() {
        let long = "9".repeat(5000);
        let text = format!("arrived_at,num_prefill_tokens,num_decode_tokens\n0,{long},1\n");
        let err = read(&text, TraceFormat::Vidur).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("v.csv") || shown.contains("t.csv"),
            "{shown}"
        );
        assert_eq!(
            (err.line, err.field.as_deref()),
            (Some(2), Some("num_prefill_tokens"))
        );
        assert!(
            shown.contains("(5000 bytes)") && shown.len() < 300,
            "{shown}"
        );
        assert!(shown.contains("(vidur format)"), "{shown}");
        // Mooncake: a missing key, a bad value and broken JSON, each named.
        for (line, field, kind) in [
            ("{\"timestamp\": 0, \"output_length\": 1}", Some("input_length"), DataErrorKind::MissingColumn),
            ("{\"timestamp\": -5, \"input_length\": 1, \"output_length\": 1}", Some("timestamp"), DataErrorKind::InvalidValue),
            ("{\"timestamp\": 0, \"input_length\": 1.5, \"output_length\": 1}", Some("input_length"), DataErrorKind::InvalidValue),
            ("{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [\"x\"]}", None, DataErrorKind::Malformed),
            ("{\"timestamp\": 0, \"input_length\": 1", None, DataErrorKind::Malformed),
        ] {
            let err = read(line, TraceFormat::Mooncake).unwrap_err();
            assert_eq!((err.kind, err.field.as_deref(), err.line), (kind, field, Some(1)), "{line}: {err}");
            assert!(err.to_string().contains("mooncake format"), "{err}");
        }
    }
}
