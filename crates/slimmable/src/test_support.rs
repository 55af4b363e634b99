//! Helpers shared by the layer tests: backends, random inputs and comparisons.

use std::ops::Range;

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Tensor};

/// The CPU test backend.
pub type NdArrayAd = burn::backend::Autodiff<burn::backend::NdArray>;
/// The GPU test backend (Mesa's lavapipe in CI).
#[cfg(feature = "test-wgpu")]
pub type WgpuAd = burn::backend::Autodiff<burn::backend::Wgpu>;

/// A tensor of standard-normal values.
pub fn random<B: Backend, const D: usize>(shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Asserts the same shape and a max abs difference below `tolerance`.
pub fn assert_close<B: Backend, const D: usize>(actual: Tensor<B, D>, expected: Tensor<B, D>, tolerance: f32) {
    assert_eq!(actual.dims(), expected.dims(), "shapes differ");
    let diff: f32 = actual.sub(expected).abs().max().into_scalar().elem();
    assert!(diff < tolerance, "max abs difference {diff} is not below {tolerance}");
}

/// Asserts that every element outside the `active` block is exactly zero and that the block
/// itself is not all zero (so the test could fail both ways).
pub fn assert_inactive_zero<B: Backend, const D: usize>(grad: Tensor<B, D>, active: &[Range<usize>]) {
    let block = grad.clone().slice(active);
    let block_abs: f32 = block.clone().abs().sum().into_scalar().elem();
    assert!(block_abs > 0.0, "the active block's gradient is all zero");
    let outside = grad.slice_assign(active, block.zeros_like());
    let outside_abs: f32 = outside.abs().max().into_scalar().elem();
    assert_eq!(outside_abs, 0.0, "gradient outside the active block {active:?} is not zero");
}

/// Instantiates generic test functions `fn name<B: AutodiffBackend>(device: &B::Device)` on
/// ndarray, and on wgpu when the `test-wgpu` feature is on.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod on_ndarray {
            $(
                #[test]
                fn $name() {
                    let device = Default::default();
                    super::$name::<crate::test_support::NdArrayAd>(&device);
                }
            )+
        }
        #[cfg(feature = "test-wgpu")]
        mod on_wgpu {
            $(
                #[test]
                fn $name() {
                    let device = Default::default();
                    super::$name::<crate::test_support::WgpuAd>(&device);
                }
            )+
        }
    };
}
pub(crate) use backend_tests;
