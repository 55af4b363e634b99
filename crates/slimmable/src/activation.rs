//! The activation a BatchNorm applies to its output in the same pass
//! ([`SlimBatchNorm::try_forward_activation`](crate::SlimBatchNorm::try_forward_activation)).

use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

/// An elementwise activation after a BatchNorm. On burn's cubecl backends (CUDA, wgpu) it is
/// applied inside BatchNorm's own kernels: the output is clamped where it is written, and the
/// backward pass masks the gradient where it reads it, recomputing the pre-activation from the
/// input it keeps anyway — no pass of its own either way and nothing more kept. Elsewhere it runs
/// as tensor ops after the normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// No activation.
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`, MobileNetV2's.
    Relu6,
}

impl Activation {
    /// The activation as a clamp to `[low, high]` (the gradient passes where
    /// `low < x < high`); `None` for the identity.
    pub fn bounds(self) -> Option<(f64, f64)> {
        match self {
            Activation::Identity => None,
            Activation::Relu => Some((0.0, f64::INFINITY)),
            Activation::Relu6 => Some((0.0, 6.0)),
        }
    }

    /// Applies the activation with tensor ops.
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;
    use burn::backend::NdArray;
    use burn::tensor::Tensor;

    #[test]
    fn bounds_and_tensor_ops_agree() {
        let device = Default::default();
        let x = Tensor::<NdArray, 1>::from_floats([-2.0, 0.5, 5.0, 7.5], &device);
        let applied = |a: Activation| a.apply(x.clone()).into_data().to_vec::<f32>().unwrap();
        assert_eq!(applied(Activation::Identity), vec![-2.0, 0.5, 5.0, 7.5]);
        assert_eq!(applied(Activation::Relu), vec![0.0, 0.5, 5.0, 7.5]);
        assert_eq!(applied(Activation::Relu6), vec![0.0, 0.5, 5.0, 6.0]);
        for a in [Activation::Relu, Activation::Relu6] {
            let (low, high) = a.bounds().unwrap();
            let clamped: Vec<f32> = [-2.0f64, 0.5, 5.0, 7.5].iter().map(|v| v.clamp(low, high) as f32).collect();
            assert_eq!(applied(a), clamped, "{a:?}: the bounds are the activation");
        }
        assert_eq!(Activation::Identity.bounds(), None);
    }
}
