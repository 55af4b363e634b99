//! [`SelfDistiller`]: the loss of the smaller widths against the max width's predictions.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use burn::nn::loss::CrossEntropyLossConfig;

/// Inplace distillation: `loss_weight · τ² · KL(softmax(t/τ) ‖ softmax(s/τ))`, averaged over
/// the batch, with the teacher `t` the max width's detached logits; plus, if `ce_weight > 0`,
/// `ce_weight ·` cross-entropy against the labels (MMRazor 1.x).
#[derive(Debug, Clone, PartialEq)]
pub struct SelfDistiller {
    /// Temperature τ.
    pub tau: f64,
    /// Weight of the KL term.
    pub loss_weight: f64,
    /// Weight of an extra cross-entropy term (0: none, the AutoSlim default).
    pub ce_weight: f64,
}

impl Default for SelfDistiller {
    fn default() -> Self {
        Self { tau: 1.0, loss_weight: 1.0, ce_weight: 0.0 }
    }
}

impl SelfDistiller {
    /// The distillation loss of `student` logits against `teacher` logits (detached here).
    ///
    /// # Shapes
    /// - `student`, `teacher`: `[batch, classes]`; `targets`: `[batch]`
    pub fn loss<B: Backend>(&self, student: Tensor<B, 2>, teacher: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let [batch, _] = student.dims();
        let tau = self.tau;
        let teacher = teacher.detach().div_scalar(tau);
        let p_teacher = softmax(teacher.clone(), 1);
        let log_ratio = log_softmax(teacher, 1).sub(log_softmax(student.clone().div_scalar(tau), 1));
        let kl = p_teacher.mul(log_ratio).sum().div_scalar(batch as f64);
        let loss = kl.mul_scalar(self.loss_weight * tau * tau);
        if self.ce_weight > 0.0 {
            let ce = CrossEntropyLossConfig::new().init(&student.device()).forward(student, targets);
            loss.add(ce.mul_scalar(self.ce_weight))
        } else {
            loss
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::{ElementConversion, TensorData};

    #[test]
    fn kl_matches_a_hand_computed_value() {
        let device = Default::default();
        let student = Tensor::<NdArray, 2>::from_data(TensorData::from([[1.0f32, 2.0, 0.5], [0.0, 0.0, 0.0]]), &device);
        let teacher = Tensor::<NdArray, 2>::from_data(TensorData::from([[2.0f32, 0.0, 1.0], [1.0, 1.0, 1.0]]), &device);
        let targets = Tensor::<NdArray, 1, Int>::from_data(TensorData::from([0i64, 1]), &device);
        let sm = |v: [f64; 3], tau: f64| {
            let e: Vec<f64> = v.iter().map(|x| (x / tau).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|x| x / z).collect::<Vec<_>>()
        };
        let expected = |tau: f64| {
            let kl = |t: [f64; 3], s: [f64; 3]| {
                let (p, q) = (sm(t, tau), sm(s, tau));
                p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>()
            };
            (kl([2.0, 0.0, 1.0], [1.0, 2.0, 0.5]) + kl([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])) / 2.0 * tau * tau
        };
        for tau in [1.0, 4.0] {
            let d = SelfDistiller { tau, loss_weight: 1.0, ce_weight: 0.0 };
            let got: f64 = d.loss(student.clone(), teacher.clone(), targets.clone()).into_scalar().elem();
            assert!((got - expected(tau)).abs() < 1e-5, "tau {tau}: {got} vs {}", expected(tau));
        }
        // The same logits give zero loss; the weight scales it.
        let zero: f64 = SelfDistiller::default().loss(teacher.clone(), teacher.clone(), targets.clone()).into_scalar().elem();
        assert!(zero.abs() < 1e-6);
        let d = SelfDistiller { tau: 1.0, loss_weight: 0.5, ce_weight: 0.0 };
        let half: f64 = d.loss(student, teacher, targets).into_scalar().elem();
        assert!((half - expected(1.0) / 2.0).abs() < 1e-5);
    }
}
