//! Phase 2's game arithmetic as plain functions (the formulas of Algorithm 2, lines 13-23, in
//! our reading; docs/marlin.md).

/// Expected utility loss of agent j from the consensus: `|Q_j(own) - Q_j(consensus)| / |Q_j(own)|`.
pub fn utility_loss(q_own: f64, q_consensus: f64) -> f64 {
    (q_own - q_consensus).abs() / q_own.abs().max(1e-12)
}

/// Veto strength `min(veto_max, loss x capital)`.
pub fn veto_strength(loss: f64, capital: f64, veto_max: f64) -> f64 {
    veto_max.min(loss * capital)
}

/// Pulls the consensus toward the vetoing agent's plan: `(1 - v) consensus + v own`.
pub fn pull_toward(consensus: &mut [f64], own: &[f64], strength: f64) {
    for (c, x) in consensus.iter_mut().zip(own) {
        *c = (1.0 - strength) * *c + strength * x;
    }
}

/// How well the consensus serves an objective, from the proposals' values on it:
/// `1 - |consensus - best| / (worst - best)`, clipped to [0, 1] (1: as good as the best
/// proposal).
pub fn performance(consensus: f64, proposals: &[f64]) -> f64 {
    let best = proposals.iter().copied().fold(f64::INFINITY, f64::min);
    let worst = proposals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (1.0 - (consensus - best).abs() / (worst - best + 1e-12)).clamp(0.0, 1.0)
}

/// How much of an agent's own proposal survives in the consensus on its objective:
/// `1 - |own - consensus| / |own|`, clipped to [0, 1].
pub fn bonus(own: f64, consensus: f64) -> f64 {
    (1.0 - (own - consensus).abs() / own.abs().max(1e-12)).clamp(0.0, 1.0)
}

/// Bounded EMA of capital: `decay x C + (1 - decay) x scale x (perf + bonus_scale x bonus)`.
pub fn updated_capital(
    capital: f64,
    decay: f64,
    scale: f64,
    perf: f64,
    bonus_scale: f64,
    bonus: f64,
) -> f64 {
    decay * capital + (1.0 - decay) * scale * (perf + bonus_scale * bonus)
}

/// Clamps to non-negative and renormalises to sum 1 (uniform if nothing is left).
pub fn normalise_simplex(v: Vec<f64>) -> Vec<f64> {
    let clamped: Vec<f64> = v.iter().map(|x| x.max(0.0)).collect();
    let sum: f64 = clamped.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        clamped.iter().map(|x| x / sum).collect()
    } else {
        vec![1.0 / v.len().max(1) as f64; v.len()]
    }
}

/// Every agent's capital after one epoch: agent j's `updated_capital` from its performance on
/// objective j (the consensus's value among the proposals') and its bonus (how much of its own
/// proposal's value survives), `proposals[k][j]` being proposal k's value of objective j.
pub fn update_capitals<P: AsRef<[f64]>>(
    capital: &mut [f64],
    consensus: &[f64],
    proposals: &[P],
    decay: f64,
    scale: f64,
    bonus_scale: f64,
) {
    for (j, c) in capital.iter_mut().enumerate() {
        let values: Vec<f64> = proposals.iter().map(|o| o.as_ref()[j]).collect();
        *c = updated_capital(
            *c,
            decay,
            scale,
            performance(consensus[j], &values),
            bonus_scale,
            bonus(proposals[j].as_ref()[j], consensus[j]),
        );
    }
}
