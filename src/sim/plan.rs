//! Plans: where requests run.
//!
//! A method produces either fractions (per epoch, origin and request class, a share for each
//! datacenter) or one datacenter per request. The fluid simulator reads fractions; the
//! discrete-event simulator reads a datacenter per request, and turns fractions into one by the
//! deterministic rule of [`FractionPlan::assign`].

use crate::trace::Request;

/// Why a plan does not fit its scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "plan has shape {got:?} (epochs, origins, classes, datacenters), the scenario {want:?}"
    )]
    /// The plan's shape is not the scenario's.
    Shape {
        /// The plan's shape.
        got: [usize; 4],
        /// The scenario's.
        want: [usize; 4],
    },
    #[error("x[epoch {epoch}][origin {origin}][class {class}][datacenter {datacenter}] = {value}: not a finite number in [0, 1]")]
    /// A share is not a finite number in [0, 1].
    Value {
        /// The epoch.
        epoch: usize,
        /// The origin.
        origin: usize,
        /// The class.
        class: usize,
        /// The datacenter.
        datacenter: usize,
        /// The share.
        value: f64,
    },
    #[error("shares of epoch {epoch}, origin {origin}, class {class} sum to {sum}, not 1")]
    /// An (epoch, origin, class)'s shares do not sum to 1.
    Sum {
        /// The epoch.
        epoch: usize,
        /// The origin.
        origin: usize,
        /// The class.
        class: usize,
        /// Their sum.
        sum: f64,
    },
    #[error("epoch {epoch} is outside the plan's {epochs} epochs")]
    /// An epoch outside the plan.
    Epoch {
        /// The epoch asked for.
        epoch: usize,
        /// The plan's epochs.
        epochs: usize,
    },
    #[error("request {index} is sent to datacenter {datacenter}, but there are {datacenters}")]
    /// A request sent to a datacenter that does not exist.
    Datacenter {
        /// The request's index.
        index: usize,
        /// The datacenter named.
        datacenter: usize,
        /// The datacenters there are.
        datacenters: usize,
    },
    #[error("the plan names a datacenter for {got} requests, the simulation has {want}")]
    /// A per-request plan of the wrong length.
    Requests {
        /// Requests the plan names a datacenter for.
        got: usize,
        /// Requests simulated.
        want: usize,
    },
}

/// Shares `x[epoch][origin][class][datacenter]`, each (epoch, origin, class) summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FractionPlan {
    shape: [usize; 4],
    x: Vec<f64>,
}

/// How far a row's sum may be from 1.
pub const SUM_TOLERANCE: f64 = 1e-9;

impl FractionPlan {
    /// Checks `x` (flat, datacenter fastest) against the shape.
    pub fn new(
        epochs: usize,
        origins: usize,
        classes: usize,
        datacenters: usize,
        x: Vec<f64>,
    ) -> Result<Self, PlanError> {
        let shape = [epochs, origins, classes, datacenters];
        if x.len() != epochs * origins * classes * datacenters || datacenters == 0 {
            return Err(PlanError::Shape {
                got: [x.len(), 0, 0, 0],
                want: shape,
            });
        }
        let plan = FractionPlan { shape, x };
        for e in 0..epochs {
            for o in 0..origins {
                for c in 0..classes {
                    let row = plan.row(e, o, c);
                    if let Some((d, &v)) = row
                        .iter()
                        .enumerate()
                        .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
                    {
                        return Err(PlanError::Value {
                            epoch: e,
                            origin: o,
                            class: c,
                            datacenter: d,
                            value: v,
                        });
                    }
                    let sum: f64 = row.iter().sum();
                    if (sum - 1.0).abs() > SUM_TOLERANCE {
                        return Err(PlanError::Sum {
                            epoch: e,
                            origin: o,
                            class: c,
                            sum,
                        });
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Everything to datacenter `d` (a rule such as "nearest" or "cheapest" builds on this).
    pub fn from_fn(
        epochs: usize,
        origins: usize,
        classes: usize,
        datacenters: usize,
        mut share: impl FnMut(usize, usize, usize, usize) -> f64,
    ) -> Result<Self, PlanError> {
        let mut x = Vec::with_capacity(epochs * origins * classes * datacenters);
        for e in 0..epochs {
            for o in 0..origins {
                for c in 0..classes {
                    for d in 0..datacenters {
                        x.push(share(e, o, c, d));
                    }
                }
            }
        }
        Self::new(epochs, origins, classes, datacenters, x)
    }

    /// (epochs, origins, classes, datacenters)
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// Sets the shares of `class` in `epoch` for every origin (agents that decide per epoch and
    /// class), checked like [`FractionPlan::new`].
    pub fn set_epoch_class(
        &mut self,
        epoch: usize,
        class: usize,
        shares: &[f64],
    ) -> Result<(), PlanError> {
        let [ne, no, nc, nd] = self.shape;
        if epoch >= ne || class >= nc || shares.len() != nd {
            return Err(PlanError::Shape {
                got: [epoch, 0, class, shares.len()],
                want: self.shape,
            });
        }
        if let Some((d, &v)) = shares
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
        {
            return Err(PlanError::Value {
                epoch,
                origin: 0,
                class,
                datacenter: d,
                value: v,
            });
        }
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(PlanError::Sum {
                epoch,
                origin: 0,
                class,
                sum,
            });
        }
        for o in 0..no {
            let start = ((epoch * no + o) * nc + class) * nd;
            self.x[start..start + nd].copy_from_slice(shares);
        }
        Ok(())
    }

    /// Every share, flat in the layout [`FractionPlan::new`] takes (datacenter fastest, then
    /// class, origin, epoch).
    pub fn shares(&self) -> &[f64] {
        &self.x
    }

    /// The shares of one (epoch, origin, class) over the datacenters.
    pub fn row(&self, epoch: usize, origin: usize, class: usize) -> &[f64] {
        let [_, no, nc, nd] = self.shape;
        let start = ((epoch * no + origin) * nc + class) * nd;
        &self.x[start..start + nd]
    }

    /// One datacenter per request: within each (epoch, origin, class) cell, requests in arrival
    /// order go to the datacenter furthest behind its share (largest `x_d (n + 1) - assigned_d`,
    /// lowest index on ties). Deterministic; after `n` requests every datacenter has received
    /// its share to within one request. Requests outside the horizon go to datacenter 0 and are
    /// reported as outside by the simulator.
    pub fn assign(&self, requests: &[Request], epoch_s: f64) -> Vec<u16> {
        let [ne, no, nc, nd] = self.shape;
        let mut counts = vec![0u32; ne * no * nc * nd];
        let mut seen = vec![0u32; ne * no * nc];
        requests
            .iter()
            .map(|r| {
                let e = (r.arrival_s / epoch_s).floor();
                let (o, c) = (usize::from(r.origin), usize::from(r.class));
                if !(e >= 0.0 && (e as usize) < ne && o < no && c < nc) {
                    return 0;
                }
                let cell = ((e as usize) * no + o) * nc + c;
                seen[cell] += 1;
                let n = f64::from(seen[cell]);
                let row = self.row(e as usize, o, c);
                let assigned = &mut counts[cell * nd..(cell + 1) * nd];
                let mut best = 0;
                let mut best_gap = f64::NEG_INFINITY;
                for (d, (&share, &got)) in row.iter().zip(assigned.iter()).enumerate() {
                    let gap = share * n - f64::from(got);
                    if gap > best_gap + 1e-12 {
                        best_gap = gap;
                        best = d;
                    }
                }
                assigned[best] += 1;
                best as u16
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(t: f64) -> Request {
        Request {
            arrival_s: t,
            input_tokens: 1,
            output_tokens: 1,
            class: 0,
            origin: 0,
            shared_prefix_tokens: 0,
        }
    }

    #[test]
    fn shares_are_checked() {
        assert!(FractionPlan::new(1, 1, 1, 2, vec![0.5, 0.5]).is_ok());
        assert!(matches!(
            FractionPlan::new(1, 1, 1, 2, vec![0.5, 0.6]),
            Err(PlanError::Sum { .. })
        ));
        assert!(matches!(
            FractionPlan::new(1, 1, 1, 2, vec![f64::NAN, 1.0]),
            Err(PlanError::Value { .. })
        ));
        assert!(matches!(
            FractionPlan::new(1, 1, 1, 2, vec![1.0]),
            Err(PlanError::Shape { .. })
        ));
    }

    #[test]
    fn assignment_follows_shares_within_one_request() {
        let plan = FractionPlan::new(1, 1, 1, 3, vec![0.5, 0.3, 0.2]).unwrap();
        let requests: Vec<Request> = (0..100).map(|i| req(f64::from(i))).collect();
        let to = plan.assign(&requests, 1000.0);
        for n in 1..=100 {
            for (d, share) in [0.5, 0.3, 0.2].iter().enumerate() {
                let got = to[..n].iter().filter(|&&x| usize::from(x) == d).count() as f64;
                assert!(
                    (got - share * n as f64).abs() <= 1.0,
                    "after {n}: dc {d} got {got}"
                );
            }
        }
        assert_eq!(to, plan.assign(&requests, 1000.0), "deterministic");
    }
}
