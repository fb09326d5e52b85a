//! Workload traces: requests with arrival times and token counts.
//!
//! - [`reader`]: streaming readers for the Azure LLM inference traces (2023 and 2024 files),
//!   BurstGPT, Vidur/Splitwise and Mooncake, the format told from the first line, with strict and
//!   lenient modes;
//! - [`generate`]: synthetic traces (Poisson or Gamma inter-arrivals; constant, log-normal or Zipf
//!   token counts), seeded;
//! - [`transform`]: slicing, every-n-th subsampling, time compression, tiling, class and origin
//!   assignment;
//! - [`demand`]: aggregation into per-epoch demand per origin and request class;
//! - [`rate_table`]: demand given as request rates per model and time window (ServeGen's
//!   production descriptors), not as requests.
//!
//! A trace is held in memory: [`MAX_TRACE_REQUESTS`] and [`MAX_TRACE_FILE_BYTES`] bound it
//! (docs/limits.md); each reader and generator refuses more with a named error, before it has
//! allocated it.

pub mod demand;
pub mod forecast;
pub mod generate;
pub mod rate_table;
pub mod reader;
pub mod transform;

pub use demand::EpochDemand;
pub use reader::{read_trace, LoadedTrace, TraceFormat, TraceReader};

/// The most requests a trace may hold (read, generated, sampled or tiled): 2^25, 805 MB of
/// requests (24 bytes each). Azure's one-week 2024 code trace (16.8 M rows) fits; cut a longer
/// trace to the days a scenario needs first.
pub const MAX_TRACE_REQUESTS: usize = 1 << 25;

/// The largest trace file read whole: 2 GiB (Azure's one-week code trace is about 0.7 GB),
/// checked from the file's size before a line is read.
pub const MAX_TRACE_FILE_BYTES: u64 = 2 << 30;

/// One inference request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Arrival time in seconds after the trace's origin ([`Trace::start_unix_s`] where known).
    pub arrival_s: f64,
    /// Prompt (context) tokens.
    pub input_tokens: u32,
    /// Generated (output) tokens.
    pub output_tokens: u32,
    /// Index into [`Trace::class_names`].
    pub class: u16,
    /// Index of the demand origin (region) the request comes from; 0 until assigned.
    pub origin: u16,
    /// Prompt tokens in prefix blocks that an earlier request of the trace also had (a prefix
    /// cache could serve them; Mooncake's `hash_ids`), at most `input_tokens`; 0 where the
    /// format says nothing of prefixes. Kept by the trace transforms (requests drawn from a
    /// scenario's demand table have 0); no simulator reads it yet.
    pub shared_prefix_tokens: u32,
}

impl Request {
    /// The share of the prompt in shared prefix blocks ([`Request::shared_prefix_tokens`]).
    pub fn prefix_share(&self) -> f64 {
        if self.input_tokens == 0 {
            0.0
        } else {
            f64::from(self.shared_prefix_tokens) / f64::from(self.input_tokens)
        }
    }

    /// Input plus output tokens.
    pub fn total_tokens(&self) -> u64 {
        u64::from(self.input_tokens) + u64::from(self.output_tokens)
    }
}

/// A sequence of requests in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Where the requests came from (a file path or a generator description).
    pub source: String,
    /// Unix time (s) of `arrival_s = 0`, for traces with absolute timestamps.
    pub start_unix_s: Option<i64>,
    /// Names of the request classes the `class` fields index (models, query types).
    pub class_names: Vec<String>,
    /// The requests, in arrival order.
    pub requests: Vec<Request>,
}

impl Trace {
    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// No requests.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Seconds from the first to the last arrival (0 for fewer than two requests).
    pub fn span_s(&self) -> f64 {
        match (self.requests.first(), self.requests.last()) {
            (Some(a), Some(b)) => b.arrival_s - a.arrival_s,
            _ => 0.0,
        }
    }
}
