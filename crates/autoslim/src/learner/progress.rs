//! [`ProgressRenderer`]: plain progress lines for burn-train, readable in a terminal and in logs.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use burn::train::LearnerSummary;
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

/// Prints a line every few seconds while an epoch runs and one line per split when it ends,
/// with each metric's running value over the epoch.
pub struct ProgressRenderer {
    names: HashMap<MetricId, String>,
    train: BTreeMap<String, String>,
    valid: BTreeMap<String, String>,
    every: Duration,
    last_line: Instant,
    started: Instant,
}

impl ProgressRenderer {
    /// A renderer printing at most one progress line per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            names: HashMap::new(),
            train: BTreeMap::new(),
            valid: BTreeMap::new(),
            every,
            last_line: Instant::now(),
            started: Instant::now(),
        }
    }

    fn record(names: &HashMap<MetricId, String>, values: &mut BTreeMap<String, String>, state: MetricState) {
        let entry = match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        };
        let name = names.get(&entry.metric_id).cloned().unwrap_or_else(|| format!("{:?}", entry.metric_id));
        // burn formats "epoch <running> <unit> - batch <current> <unit>": keep the running value.
        let formatted = entry.serialized_entry.formatted;
        let running = formatted.split(" - batch").next().unwrap_or(&formatted);
        values.insert(name, running.trim_start_matches("epoch ").to_string());
    }

    fn line(&mut self, split: &str, item: &TrainingProgress, force: bool) {
        let Some(progress) = &item.progress else { return };
        let done = progress.items_processed >= progress.items_total;
        if !(force || done || self.last_line.elapsed() >= self.every) {
            return;
        }
        self.last_line = Instant::now();
        let values = if split == "train" { &self.train } else { &self.valid };
        let metrics: Vec<String> = values
            .iter()
            .filter(|(name, _)| !name.starts_with("Learning Rate") || split == "train")
            .map(|(name, value)| format!("{name} {value}"))
            .collect();
        let epoch = &item.global_progress;
        println!(
            "[epoch {}/{}] {split:<5} {:>6}/{} ({:>3.0}%) {:>6.0}s | {}",
            epoch.items_processed,
            epoch.items_total,
            progress.items_processed,
            progress.items_total,
            100.0 * progress.items_processed as f64 / progress.items_total.max(1) as f64,
            self.started.elapsed().as_secs_f64(),
            metrics.join(" | ")
        );
        if done {
            match split {
                "train" => self.train.clear(),
                _ => self.valid.clear(),
            }
        }
    }
}

impl MetricsRendererTraining for ProgressRenderer {
    fn update_train(&mut self, state: MetricState) {
        Self::record(&self.names, &mut self.train, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        Self::record(&self.names, &mut self.valid, state);
    }

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        self.line("train", &item, false);
    }

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        // Validation is short: one line when it ends.
        if let Some(progress) = &item.progress
            && progress.items_processed >= progress.items_total
        {
            self.line("valid", &item, true);
        }
    }

    fn on_train_end(&mut self, _summary: Option<LearnerSummary>) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for ProgressRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for ProgressRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
