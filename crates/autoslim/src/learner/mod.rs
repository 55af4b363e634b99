//! The AutoSlim learner: the sandwich rule (or plain retraining) as a burn-train
//! [`TrainStep`](burn::train::TrainStep), its per-width outputs and metrics, the progress
//! output, and the training run that ties them to burn's own training loop.

mod autoslim;
mod metrics;
mod output;
mod progress;
mod run;
mod schedule;
mod warm_up;

pub use autoslim::{AutoSlim, MemoryRelease, StepPlan, TrainingMode};
pub use metrics::WidthMetric;
pub use output::{WidthEntry, WidthOutputs, WidthOutputsSync};
pub use progress::ProgressRenderer;
pub use run::{OptimizerSettings, RunSettings, last_checkpoint, train};
pub use schedule::{Decay, LrSchedule};
pub use warm_up::{CompilePass, compile_passes};
