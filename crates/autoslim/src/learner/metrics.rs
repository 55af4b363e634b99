//! [`WidthMetric`]: accuracy or loss at one labelled width, as a burn-train metric.

use std::sync::Arc;

use burn::tensor::ElementConversion;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
};

use super::output::WidthOutputsSync;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Accuracy,
    Loss,
}

/// Accuracy (%) or loss of the width labelled `label` ("min", "0.50", …), named
/// `Accuracy@label` / `Loss@label`.
#[derive(Clone)]
pub struct WidthMetric {
    label: String,
    kind: Kind,
    name: MetricName,
    state: NumericMetricState,
}

impl WidthMetric {
    /// Accuracy at `label`.
    pub fn accuracy(label: &str) -> Self {
        Self::new(label, Kind::Accuracy)
    }

    /// Loss at `label`.
    pub fn loss(label: &str) -> Self {
        Self::new(label, Kind::Loss)
    }

    fn new(label: &str, kind: Kind) -> Self {
        let prefix = match kind {
            Kind::Accuracy => "Accuracy",
            Kind::Loss => "Loss",
        };
        Self {
            label: label.to_string(),
            kind,
            name: Arc::new(format!("{prefix}@{label}")),
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for WidthMetric {
    type Input = WidthOutputsSync;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(&mut self, item: &WidthOutputsSync, _metadata: &MetricMetadata) -> SerializedEntry {
        let entry = item
            .entries
            .iter()
            .find(|e| e.label == self.label)
            .unwrap_or_else(|| panic!("metric {} has no width labelled `{}` in the step's outputs", self.name, self.label));
        let [batch, _] = entry.logits.dims();
        let (value, format) = match self.kind {
            Kind::Accuracy => {
                let predictions = entry.logits.clone().argmax(1).reshape([batch]);
                let correct: i64 = predictions.equal(item.targets.clone()).int().sum().into_scalar().elem();
                (100.0 * correct as f64 / batch as f64, FormatOptions::new(self.name()).unit("%").precision(2))
            }
            Kind::Loss => {
                let loss: f64 = entry.loss.clone().into_scalar().elem();
                (loss, FormatOptions::new(self.name()).precision(4))
            }
        };
        self.state.update(value, batch, format)
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn attributes(&self) -> MetricAttributes {
        let (unit, higher_is_better) = match self.kind {
            Kind::Accuracy => (Some("%".to_string()), true),
            Kind::Loss => (None, false),
        };
        NumericAttributes { unit, higher_is_better }.into()
    }
}

impl Numeric for WidthMetric {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }

    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}
