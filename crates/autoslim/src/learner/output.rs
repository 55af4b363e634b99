//! [`WidthOutputs`]: the logits and losses of a step at each reported width.

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyInput, Adaptor, LossInput};
use burn::train::ItemLazy;

/// One width's results in a step.
#[derive(Debug, Clone)]
pub struct WidthEntry<B: Backend> {
    /// "max", "min", or a ratio such as "0.50".
    pub label: String,
    /// `[batch, classes]`.
    pub logits: Tensor<B, 2>,
    /// The loss this width was trained (or validated) with, `[1]`.
    pub loss: Tensor<B, 1>,
}

/// A step's results at each reported width; the first is the main one.
#[derive(Debug, Clone)]
pub struct WidthOutputs<B: Backend> {
    /// Per width.
    pub entries: Vec<WidthEntry<B>>,
    /// `[batch]`.
    pub targets: Tensor<B, 1, Int>,
}

/// [`WidthOutputs`] moved to the metrics' backend; burn's own accuracy and loss metrics read
/// the first width.
#[derive(Debug, Clone)]
pub struct WidthOutputsSync {
    /// Every width.
    pub entries: Vec<WidthEntry<Flex>>,
    /// `[batch]`.
    pub targets: Tensor<Flex, 1, Int>,
}

fn to_flex<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<Flex, D> {
    Tensor::from_data(t.into_data(), &Default::default())
}

impl<B: Backend> ItemLazy for WidthOutputs<B> {
    type ItemSync = WidthOutputsSync;

    fn sync(self) -> WidthOutputsSync {
        let targets = Tensor::<Flex, 1, Int>::from_data(self.targets.into_data(), &Default::default());
        let entries: Vec<WidthEntry<Flex>> = self
            .entries
            .into_iter()
            .map(|e| WidthEntry { label: e.label, logits: to_flex(e.logits), loss: to_flex(e.loss) })
            .collect();
        WidthOutputsSync { entries, targets }
    }
}

impl Adaptor<AccuracyInput<Flex>> for WidthOutputsSync {
    fn adapt(&self) -> AccuracyInput<Flex> {
        AccuracyInput::new(self.entries[0].logits.clone(), self.targets.clone())
    }
}

impl Adaptor<LossInput<Flex>> for WidthOutputsSync {
    fn adapt(&self) -> LossInput<Flex> {
        LossInput::new(self.entries[0].loss.clone())
    }
}

impl Adaptor<WidthOutputsSync> for WidthOutputsSync {
    fn adapt(&self) -> WidthOutputsSync {
        self.clone()
    }
}
