//! Training and held-out test days: a scenario's [`DaySplit`] and the sub-scenario of a run of
//! its days ([`Scenario::days`]). A learned method trains on the split's training days; every
//! comparison allocates and scores on its test days.

use super::{Scenario, ScenarioError};

/// Seconds in a day.
pub const DAY_S: f64 = 86_400.0;

/// A run of whole days of a scenario's horizon: days `first..first + count`, 0 being the
/// horizon's first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// The first day, from 0.
    pub first: usize,
    /// Number of days, at least 1.
    pub count: usize,
}

impl DayRange {
    /// Days `first..=last` as numbered in scenario files and reports, from 1.
    pub fn numbered(first: usize, last: usize) -> Option<DayRange> {
        (first >= 1 && last >= first).then(|| DayRange {
            first: first - 1,
            count: last - first + 1,
        })
    }

    /// Whether day `day` (from 0) is in the range.
    pub fn contains(self, day: usize) -> bool {
        (self.first..self.end()).contains(&day)
    }

    /// The day after the last one, from 0.
    pub fn end(self) -> usize {
        self.first + self.count
    }

    /// `days 12-14` or `day 3`, numbered from 1.
    pub fn label(self) -> String {
        if self.count == 1 {
            format!("day {}", self.first + 1)
        } else {
            format!("days {}-{}", self.first + 1, self.end())
        }
    }

    /// The range's first epoch and number of epochs in a horizon of `epochs` epochs of
    /// `epoch_s` seconds, or what keeps it from being a run of that horizon's whole days.
    fn epochs_in(self, epoch_s: f64, epochs: usize) -> Result<(usize, usize), String> {
        let per_day = epochs_per_day(epoch_s)
            .ok_or_else(|| format!("needs epochs that divide a day, this one has {epoch_s} s"))?;
        let days = epochs / per_day;
        if self.count == 0 {
            return Err("needs at least one day".to_owned());
        }
        if self.end() > days {
            return Err(format!(
                "{} is past the horizon's {days} whole days ({epochs} epochs of {epoch_s} s)",
                self.label()
            ));
        }
        Ok((self.first * per_day, self.count * per_day))
    }

    fn overlaps(self, other: DayRange) -> bool {
        self.first < other.end() && other.first < self.end()
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Which days learned methods train on and which are held out for every comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySplit {
    /// The training days.
    pub train: DayRange,
    /// The held-out test days.
    pub test: DayRange,
}

impl DaySplit {
    /// What is wrong with this split for a horizon of `epochs` epochs of `epoch_s` seconds, if
    /// anything: (key, message).
    pub(super) fn problem(&self, epoch_s: f64, epochs: usize) -> Option<(&'static str, String)> {
        if epochs_per_day(epoch_s).is_none() {
            return Some((
                "split",
                format!("needs epochs that divide a day, this one has {epoch_s} s"),
            ));
        }
        for (key, range) in [
            ("split.train_days", self.train),
            ("split.test_days", self.test),
        ] {
            if let Err(message) = range.epochs_in(epoch_s, epochs) {
                return Some((key, message));
            }
        }
        if self.train.overlaps(self.test) {
            return Some((
                "split.test_days",
                format!(
                    "{} overlap the training {}",
                    self.test.label(),
                    self.train.label()
                ),
            ));
        }
        None
    }
}

/// Epochs in a day, where epochs of `epoch_s` seconds divide it.
pub fn epochs_per_day(epoch_s: f64) -> Option<usize> {
    let n = DAY_S / epoch_s;
    (n >= 1.0 && (n - n.round()).abs() < 1e-9).then(|| n.round() as usize)
}

impl Scenario {
    /// The sub-scenario of the days `range`: the time grid, hourly grid signals, demand, request
    /// sample and Green-LLM's per-epoch terms cut to them (its water budget in proportion), no
    /// split of its own, named `<name> <days a-b>`. Needs epochs that divide a day.
    ///
    /// ```
    /// use verdant::scenario::{bundled, DayRange};
    ///
    /// let s = bundled("geo-8dc-14d").unwrap();
    /// let last_two = s.days(DayRange::numbered(13, 14).unwrap()).unwrap();
    /// assert_eq!(last_two.time.epochs, 2 * 96);
    /// assert_eq!(last_two.demand.requests(0, 0, 0), s.demand.requests(0, 0, 12 * 96));
    /// assert!(s.days(DayRange::numbered(14, 15).unwrap()).is_err());
    /// ```
    pub fn days(&self, range: DayRange) -> Result<Scenario, ScenarioError> {
        let fail = |message: String| ScenarioError::Transform {
            scenario: self.name.clone(),
            what: format!("cutting to {range}"),
            message,
        };
        let (e0, ne) = range
            .epochs_in(self.time.epoch_s, self.time.epochs)
            .map_err(fail)?;
        let (h0, nh) = (range.first * 24, range.count * 24);
        let mut s = self.parts.clone();
        s.name = format!("{} {}", self.name, range.label());
        s.split = None;
        s.time.start_unix_s += (range.first as f64 * DAY_S) as i64;
        s.time.epochs = ne;
        for dc in &mut s.datacenters {
            for series in dc.grid.hourly_series_mut() {
                *series = series[h0..h0 + nh].to_vec();
            }
        }
        s.demand = self.demand.remapped(ne, |e| e0 + e);
        let (t0, t1) = (
            e0 as f64 * self.time.epoch_s,
            (e0 + ne) as f64 * self.time.epoch_s,
        );
        s.requests = self
            .requests
            .iter()
            .filter(|r| r.arrival_s >= t0 && r.arrival_s < t1)
            .map(|r| {
                let mut r = *r;
                r.arrival_s -= t0;
                r
            })
            .collect();
        if let Some(g) = s.green_llm.as_mut() {
            for per_t in g.kb_per_token.iter_mut().flatten() {
                *per_t = per_t[e0..e0 + ne].to_vec();
            }
            g.water_budget_l *= ne as f64 / self.time.epochs as f64;
        }
        Scenario::from_parts(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_is_checked_against_the_horizon() {
        let split = |a, b, c, d| DaySplit {
            train: DayRange::numbered(a, b).unwrap(),
            test: DayRange::numbered(c, d).unwrap(),
        };
        assert_eq!(split(1, 11, 12, 14).problem(900.0, 14 * 96), None);
        assert_eq!(
            split(1, 11, 12, 15).problem(900.0, 14 * 96).unwrap().0,
            "split.test_days"
        );
        assert_eq!(
            split(1, 12, 12, 14).problem(900.0, 14 * 96).unwrap().0,
            "split.test_days"
        );
        assert_eq!(split(1, 1, 2, 2).problem(7000.0, 100).unwrap().0, "split");
        assert!(DayRange::numbered(0, 3).is_none());
        assert!(DayRange::numbered(3, 2).is_none());
        assert_eq!(DayRange::numbered(12, 14).unwrap().label(), "days 12-14");
        let r = DayRange::numbered(12, 14).unwrap();
        assert!(!r.contains(10) && r.contains(11) && r.contains(13) && !r.contains(14));
        assert_eq!(epochs_per_day(900.0), Some(96));
        assert_eq!(epochs_per_day(3600.0), Some(24));
        assert_eq!(epochs_per_day(7000.0), None);
    }
}
