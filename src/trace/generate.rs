//! Synthetic traces, drawn from a seeded stream.

use rand::Rng;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Zipf};
use serde::{Deserialize, Serialize};

use super::{Request, Trace};
use crate::config::{key, ConfigError, Validate};

/// How requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Arrivals {
    /// Exponential inter-arrival times (coefficient of variation 1).
    Poisson {
        /// Mean arrivals per second.
        rate_per_s: f64,
    },
    /// Gamma inter-arrival times with the same mean rate; `shape < 1` is burstier than Poisson
    /// (coefficient of variation `1 / sqrt(shape)`).
    Gamma {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// Shape of the inter-arrival distribution.
        shape: f64,
    },
}

/// How many tokens a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TokenCounts {
    /// Every request carries the same count.
    Constant {
        /// The count.
        tokens: u32,
    },
    /// Log-normal with the given median and log-space standard deviation, rounded, clipped to
    /// `[1, max_tokens]`.
    LogNormal {
        /// Median count.
        median: f64,
        /// Standard deviation of the count's logarithm.
        sigma: f64,
        /// Largest count.
        max_tokens: u32,
    },
    /// Zipf over `1..=max_tokens` with the given exponent.
    Zipf {
        /// Zipf exponent.
        exponent: f64,
        /// Largest count.
        max_tokens: u32,
    },
}

/// A generator as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorParams {
    /// Length of the generated trace, seconds.
    pub duration_s: f64,
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// Input tokens per request.
    pub input_tokens: TokenCounts,
    /// Output tokens per request.
    pub output_tokens: TokenCounts,
}

/// A checked generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    params: GeneratorParams,
}

fn positive(k: String, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            k,
            format!("must be a finite number > 0, got {v}"),
        ))
    }
}

fn check_tokens(prefix: &str, t: &TokenCounts) -> Result<(), ConfigError> {
    match *t {
        TokenCounts::Constant { .. } => Ok(()),
        TokenCounts::LogNormal {
            median,
            sigma,
            max_tokens,
        } => {
            positive(key(prefix, "median"), median)?;
            if !(sigma.is_finite() && sigma >= 0.0) {
                return Err(ConfigError::invalid(
                    key(prefix, "sigma"),
                    format!("must be >= 0, got {sigma}"),
                ));
            }
            positive(key(prefix, "max_tokens"), f64::from(max_tokens))
        }
        TokenCounts::Zipf {
            exponent,
            max_tokens,
        } => {
            positive(key(prefix, "exponent"), exponent)?;
            positive(key(prefix, "max_tokens"), f64::from(max_tokens))
        }
    }
}

impl Validate for GeneratorParams {
    type Checked = Generator;
    fn validate(self, prefix: &str) -> Result<Generator, ConfigError> {
        positive(key(prefix, "duration_s"), self.duration_s)?;
        match self.arrivals {
            Arrivals::Poisson { rate_per_s } => {
                positive(key(prefix, "arrivals.rate_per_s"), rate_per_s)?
            }
            Arrivals::Gamma { rate_per_s, shape } => {
                positive(key(prefix, "arrivals.rate_per_s"), rate_per_s)?;
                positive(key(prefix, "arrivals.shape"), shape)?;
            }
        }
        check_tokens(&key(prefix, "input_tokens"), &self.input_tokens)?;
        check_tokens(&key(prefix, "output_tokens"), &self.output_tokens)?;
        let rate = match self.arrivals {
            Arrivals::Poisson { rate_per_s } | Arrivals::Gamma { rate_per_s, .. } => rate_per_s,
        };
        let expected = rate * self.duration_s;
        if expected > super::MAX_TRACE_REQUESTS as f64 {
            return Err(ConfigError::invalid(
                key(prefix, "duration_s"),
                format!(
                    "with arrivals.rate_per_s {rate}, about {expected:.3e} requests: a trace is held in memory, at most {} requests (docs/limits.md)",
                    super::MAX_TRACE_REQUESTS
                ),
            ));
        }
        Ok(Generator { params: self })
    }
}

enum TokenSampler {
    Constant(u32),
    LogNormal(LogNormal<f64>, u32),
    Zipf(Zipf<f64>),
}

impl TokenSampler {
    fn new(t: TokenCounts) -> Self {
        // Parameters were checked by validation, so the constructors cannot fail.
        match t {
            TokenCounts::Constant { tokens } => TokenSampler::Constant(tokens),
            TokenCounts::LogNormal {
                median,
                sigma,
                max_tokens,
            } => TokenSampler::LogNormal(
                LogNormal::new(median.ln(), sigma).expect("checked log-normal parameters"),
                max_tokens,
            ),
            TokenCounts::Zipf {
                exponent,
                max_tokens,
            } => TokenSampler::Zipf(
                Zipf::new(u64::from(max_tokens), exponent).expect("checked Zipf parameters"),
            ),
        }
    }

    fn sample(&self, rng: &mut impl Rng) -> u32 {
        match self {
            TokenSampler::Constant(n) => *n,
            TokenSampler::LogNormal(d, max) => (d.sample(rng).round() as u32).clamp(1, *max),
            TokenSampler::Zipf(d) => d.sample(rng) as u32,
        }
    }
}

enum GapSampler {
    Exponential(Exp<f64>),
    Gamma(Gamma<f64>),
}

impl GapSampler {
    fn new(arrivals: Arrivals) -> Self {
        // Parameters were checked by validation, so the constructors cannot fail.
        match arrivals {
            Arrivals::Poisson { rate_per_s } => {
                GapSampler::Exponential(Exp::new(rate_per_s).expect("checked rate"))
            }
            Arrivals::Gamma { rate_per_s, shape } => GapSampler::Gamma(
                Gamma::new(shape, 1.0 / (rate_per_s * shape)).expect("checked gamma"),
            ),
        }
    }

    fn sample(&self, rng: &mut impl Rng) -> f64 {
        match self {
            GapSampler::Exponential(d) => d.sample(rng),
            GapSampler::Gamma(d) => d.sample(rng),
        }
    }
}

impl Generator {
    /// Draws a trace from `rng`: the same stream gives the same trace.
    pub fn generate(&self, rng: &mut impl Rng) -> Trace {
        let p = &self.params;
        let input = TokenSampler::new(p.input_tokens);
        let output = TokenSampler::new(p.output_tokens);
        let gaps = GapSampler::new(p.arrivals);
        let gap = |rng: &mut _| gaps.sample(rng);
        let mut requests = Vec::new();
        let mut t = gap(rng);
        while t < p.duration_s {
            requests.push(Request {
                arrival_s: t,
                input_tokens: input.sample(rng),
                output_tokens: output.sample(rng),
                class: 0,
                origin: 0,
                shared_prefix_tokens: 0,
            });
            t += gap(rng);
        }
        Trace {
            source: format!("generated {:?}", p.arrivals),
            start_unix_s: None,
            class_names: vec!["default".to_owned()],
            requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::MasterSeed;

    fn generator(arrivals: Arrivals) -> Generator {
        GeneratorParams {
            duration_s: 20_000.0,
            arrivals,
            input_tokens: TokenCounts::LogNormal {
                median: 500.0,
                sigma: 0.8,
                max_tokens: 8000,
            },
            output_tokens: TokenCounts::Zipf {
                exponent: 1.2,
                max_tokens: 1000,
            },
        }
        .validate("g")
        .unwrap()
    }

    fn cv_of_gaps(t: &Trace) -> (f64, f64) {
        let gaps: Vec<f64> = t
            .requests
            .windows(2)
            .map(|w| w[1].arrival_s - w[0].arrival_s)
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn poisson_and_gamma_have_the_rate_and_burstiness_asked_for() {
        let mut rng = MasterSeed(3).rng("gen");
        let poisson = generator(Arrivals::Poisson { rate_per_s: 2.0 }).generate(&mut rng);
        let (mean, cv) = cv_of_gaps(&poisson);
        assert!(
            (mean - 0.5).abs() < 0.02 && (cv - 1.0).abs() < 0.05,
            "{mean} {cv}"
        );
        let bursty = generator(Arrivals::Gamma {
            rate_per_s: 2.0,
            shape: 0.25,
        })
        .generate(&mut rng);
        let (mean, cv) = cv_of_gaps(&bursty);
        assert!(
            (mean - 0.5).abs() < 0.03 && (cv - 2.0).abs() < 0.15,
            "{mean} {cv}"
        );
        let mut inputs: Vec<u32> = poisson.requests.iter().map(|r| r.input_tokens).collect();
        inputs.sort_unstable();
        let median = inputs[inputs.len() / 2];
        assert!((450..=550).contains(&median), "{median}");
        assert!(poisson
            .requests
            .iter()
            .all(|r| (1..=1000).contains(&r.output_tokens)));
    }

    #[test]
    fn same_stream_same_trace() {
        let g = generator(Arrivals::Poisson { rate_per_s: 1.0 });
        let a = g.generate(&mut MasterSeed(9).rng("gen"));
        let b = g.generate(&mut MasterSeed(9).rng("gen"));
        assert_eq!(a, b);
    }

    #[test]
    fn bad_parameters_name_their_key() {
        let mut p = GeneratorParams {
            duration_s: 10.0,
            arrivals: Arrivals::Gamma {
                rate_per_s: 1.0,
                shape: 0.0,
            },
            input_tokens: TokenCounts::Constant { tokens: 1 },
            output_tokens: TokenCounts::Constant { tokens: 1 },
        };
        assert_eq!(
            p.clone().validate("gen").unwrap_err().to_string(),
            "gen.arrivals.shape: must be a finite number > 0, got 0"
        );
        p.arrivals = Arrivals::Poisson { rate_per_s: 1.0 };
        p.output_tokens = TokenCounts::LogNormal {
            median: f64::NAN,
            sigma: 1.0,
            max_tokens: 9,
        };
        assert!(p
            .validate("gen")
            .unwrap_err()
            .to_string()
            .starts_with("gen.output_tokens.median"));
    }
}
