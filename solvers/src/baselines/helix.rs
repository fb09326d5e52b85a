//! Helix-style placement and routing by maximum flow.
//!
//! Kept from Helix: the cluster is a flow network and the request rate a flow pushed through it by
//! a real max-flow algorithm (Dinic's), so routing maximises the throughput the heterogeneous GPU
//! pools can carry. Simplified: the network is per epoch and request class, origins -> datacenters
//! -> sink; an origin-datacenter edge exists only where the round trip is within the latency
//! budget (half the TTFT SLO, else every datacenter), and a datacenter's sink edge carries the
//! requests its GPU-seconds hold at the utilisation cap after the classes routed before (classes in
//! order). Helix's per-layer model placement over individual GPUs is not modelled (the simulator's
//! datacenters hold whole model replicas). Demand the flow cannot carry is spread in proportion to
//! the datacenters' capacity.

use verdant::allocator::{AllocError, Allocator, Problem};
use verdant::scenario::Scenario;
use verdant::sim::planner::EpochPlanner;
use verdant::sim::{FractionPlan, PlanError};

/// Dinic's maximum flow on a small dense graph.
struct FlowNetwork {
    n: usize,
    /// Edges as (to, capacity, reverse index) per node.
    adj: Vec<Vec<(usize, f64, usize)>>,
}

impl FlowNetwork {
    fn new(n: usize) -> Self {
        FlowNetwork {
            n,
            adj: vec![Vec::new(); n],
        }
    }

    fn add_edge(&mut self, from: usize, to: usize, capacity: f64) -> (usize, usize) {
        let a = self.adj[from].len();
        let b = self.adj[to].len();
        self.adj[from].push((to, capacity, b));
        self.adj[to].push((from, 0.0, a));
        (from, a)
    }

    fn levels(&self, s: usize) -> Vec<usize> {
        let mut level = vec![usize::MAX; self.n];
        level[s] = 0;
        let mut queue = std::collections::VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            for &(v, cap, _) in &self.adj[u] {
                if cap > 1e-12 && level[v] == usize::MAX {
                    level[v] = level[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        level
    }

    fn push(&mut self, u: usize, t: usize, f: f64, level: &[usize], next: &mut [usize]) -> f64 {
        if u == t {
            return f;
        }
        while next[u] < self.adj[u].len() {
            let (v, cap, rev) = self.adj[u][next[u]];
            if cap > 1e-12 && level[v] == level[u] + 1 {
                let d = self.push(v, t, f.min(cap), level, next);
                if d > 0.0 {
                    self.adj[u][next[u]].1 -= d;
                    self.adj[v][rev].1 += d;
                    return d;
                }
            }
            next[u] += 1;
        }
        0.0
    }

    fn max_flow(&mut self, s: usize, t: usize) -> f64 {
        let mut total = 0.0;
        loop {
            let level = self.levels(s);
            if level[t] == usize::MAX {
                return total;
            }
            let mut next = vec![0; self.n];
            loop {
                let f = self.push(s, t, f64::INFINITY, &level, &mut next);
                if f <= 0.0 {
                    break;
                }
                total += f;
            }
        }
    }

    /// Flow on the edge `(node, index)`: the residual capacity of its reverse edge.
    fn flow(&self, (node, index): (usize, usize)) -> f64 {
        let (to, _, rev) = self.adj[node][index];
        self.adj[to][rev].1
    }
}

/// Maximum flow from `source` to `sink` over `edges` (from, to, capacity) on `nodes` nodes, and
/// the flow on each edge (exposed for tests).
pub fn max_flow(
    nodes: usize,
    edges: &[(usize, usize, f64)],
    source: usize,
    sink: usize,
) -> (f64, Vec<f64>) {
    let mut g = FlowNetwork::new(nodes);
    let ids: Vec<(usize, usize)> = edges.iter().map(|&(a, b, c)| g.add_edge(a, b, c)).collect();
    let total = g.max_flow(source, sink);
    (total, ids.iter().map(|&id| g.flow(id).max(0.0)).collect())
}

/// Helix-style max-flow routing.
#[derive(Debug, Clone, Copy)]
pub struct Helix {
    /// Utilisation cap of every datacenter.
    pub utilisation_cap: f64,
}

impl Default for Helix {
    fn default() -> Self {
        Helix {
            utilisation_cap: 0.95,
        }
    }
}

impl Allocator for Helix {
    fn name(&self) -> &str {
        "helix"
    }

    fn allocate(&mut self, problem: &Problem) -> Result<FractionPlan, AllocError> {
        Ok(self.plan(problem.scenario)?)
    }
}

impl Helix {
    /// The plan for `s` (the method needs no simulator).
    pub fn plan(&self, s: &Scenario) -> Result<FractionPlan, PlanError> {
        let planner = EpochPlanner::new(s, self.utilisation_cap);
        let (ne, no, nc, nd) = (
            s.time.epochs,
            s.origins.len(),
            s.classes.len(),
            s.datacenters.len(),
        );
        let budget_s = s.ttft_slo_s / 2.0;
        let mut x = vec![0.0; ne * no * nc * nd];
        for e in 0..ne {
            let mut room: Vec<f64> = planner
                .available_gpu_s
                .iter()
                .map(|a| a * self.utilisation_cap)
                .collect();
            for c in 0..nc {
                // Nodes: source, origins, datacenters, sink.
                let (source, sink) = (0, 1 + no + nd);
                let mut edges = Vec::new();
                for o in 0..no {
                    edges.push((source, 1 + o, s.demand.requests(o, c, e).max(0.0)));
                }
                let mut od = Vec::new();
                for o in 0..no {
                    let near: Vec<usize> = (0..nd)
                        .filter(|&d| {
                            planner.hosts(c, d) && s.network.round_trip_s[o][d] <= budget_s
                        })
                        .collect();
                    let reachable: Vec<usize> = if near.is_empty() {
                        (0..nd).filter(|&d| planner.hosts(c, d)).collect()
                    } else {
                        near
                    };
                    for d in reachable {
                        od.push((o, d, edges.len()));
                        edges.push((1 + o, 1 + no + d, f64::INFINITY));
                    }
                }
                let mut sink_edges = Vec::new();
                for (d, r) in room.iter().enumerate() {
                    let g = planner.gpu_s_per_request(e, c, d);
                    let cap = if g > 0.0 { r / g } else { f64::INFINITY };
                    sink_edges.push(edges.len());
                    edges.push((1 + no + d, sink, cap.max(0.0)));
                }
                let (_, flow) = max_flow(2 + no + nd, &edges, source, sink);
                for (d, &k) in sink_edges.iter().enumerate() {
                    room[d] -= flow[k] * planner.gpu_s_per_request(e, c, d);
                }
                let capacity_share: Vec<f64> = (0..nd)
                    .map(|d| {
                        if planner.hosts(c, d) {
                            planner.available_gpu_s[d]
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let cap_total: f64 = capacity_share.iter().sum::<f64>().max(1e-12);
                for o in 0..no {
                    let demand = s.demand.requests(o, c, e);
                    let row = &mut x[((e * no + o) * nc + c) * nd..][..nd];
                    let mut routed = 0.0;
                    for &(oo, d, k) in &od {
                        if oo == o {
                            row[d] += flow[k];
                            routed += flow[k];
                        }
                    }
                    let left = (demand - routed).max(0.0);
                    for d in 0..nd {
                        row[d] += left * capacity_share[d] / cap_total;
                    }
                    let sum: f64 = row.iter().sum();
                    if sum > 0.0 {
                        row.iter_mut().for_each(|v| *v /= sum);
                    } else {
                        for d in 0..nd {
                            row[d] = capacity_share[d] / cap_total;
                        }
                    }
                }
            }
        }
        FractionPlan::new(ne, no, nc, nd, x)
    }
}
