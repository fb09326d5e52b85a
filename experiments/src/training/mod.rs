//! Training of the learned methods that run their own training jobs (MARLIN's schemes, the load
//! balancer's agents), with checkpoints in the run directory and progress bars. What comes out
//! are trained policies, which allocate like every other method.

pub(crate) mod lb;
pub(crate) mod marlin;
