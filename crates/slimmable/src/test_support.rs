//! Helpers shared by the layer tests: backends, random inputs and comparisons.

use std::ops::Range;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::module::conv2d;
use burn::tensor::{Distribution, ElementConversion, Tensor};

use crate::ConvGeometry;

/// The CPU test backend.
pub type NdArrayAd = burn::backend::Autodiff<burn::backend::NdArray>;
/// The GPU test backend (Mesa's lavapipe in CI).
#[cfg(feature = "test-wgpu")]
pub type WgpuAd = burn::backend::Autodiff<burn::backend::Wgpu>;
/// The NVIDIA test backend (run on a GPU machine, not in CI).
#[cfg(feature = "test-cuda")]
pub type CudaAd = burn::backend::Autodiff<crate::type_match::CudaCube>;

/// The crate's process-wide settings (the GEMM kernel, its stages and precision, the
/// activations' precision, the conv algorithm, …) are shared by every test of one process, and
/// the harness runs tests on parallel threads: a test that changes one would change it under
/// another test's feet (on CUDA, where several GEMM stages tried by one test are wrong on
/// purpose, that made seven tests fail). So a test that changes a setting holds
/// [`changing_settings`] while it runs, and one that runs the layers on a GPU holds
/// [`using_settings`] (every [`backend_tests!`] test does).
static SETTINGS: RwLock<()> = RwLock::new(());

/// Shared hold on the process-wide settings: none changes while the guard lives.
pub fn using_settings() -> RwLockReadGuard<'static, ()> {
    SETTINGS.read().unwrap_or_else(PoisonError::into_inner)
}

/// Sole hold on the process-wide settings, for a test that changes them (and puts them back).
pub fn changing_settings() -> RwLockWriteGuard<'static, ()> {
    SETTINGS.write().unwrap_or_else(PoisonError::into_inner)
}

/// A tensor of standard-normal values.
pub fn random<B: Backend, const D: usize>(shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Asserts the same shape and a max abs difference below `tolerance`.
#[track_caller]
pub fn assert_close<B: Backend, const D: usize>(actual: Tensor<B, D>, expected: Tensor<B, D>, tolerance: f32) {
    assert_close_named(actual, expected, tolerance, "the tensors");
}

/// [`assert_close`], naming `what` is compared in the message.
#[track_caller]
pub fn assert_close_named<B: Backend, const D: usize>(actual: Tensor<B, D>, expected: Tensor<B, D>, tolerance: f32, what: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
    let diff: f32 = actual.sub(expected).abs().max().into_scalar().elem();
    assert!(diff < tolerance, "{what}: max abs difference {diff} is not below {tolerance}");
}

/// The tolerance of a comparison whose one side is computed by matrix products: 1e-4, or
/// `tf32` on burn's CUDA backend, whose matrix products round f32 inputs to TF32 (10-bit
/// mantissa) on the tensor cores, as PyTorch does with `allow_tf32`.
pub fn matmul_tolerance<B: Backend>(tf32: f32) -> f32 {
    if is_cuda::<B>() { tf32 } else { 1e-4 }
}

/// Whether `B` is burn's CUDA backend (with or without autodiff): the one whose matrix
/// products use TF32 and that runs the implicit-GEMM conv kernels rather than falling back.
pub fn is_cuda<B: Backend>() -> bool {
    std::any::type_name::<B>().contains("Cuda")
}

/// A square conv geometry: kernel, stride and dilation along both axes, explicit padding.
pub fn geometry(kernel: usize, stride: usize, dilation: usize, pad: [usize; 2], pad_end: [usize; 2]) -> ConvGeometry {
    ConvGeometry { kernel: [kernel; 2], stride: [stride; 2], dilation: [dilation; 2], pad_start: pad, pad_end }
}

/// Asserts that the output, input gradient, weight gradient and bias gradient of `ours` and
/// the backend's `conv2d` (with `groups`) agree on random tensors of the given shapes.
pub fn agrees_with<B: AutodiffBackend>(
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    g: ConvGeometry,
    groups: usize,
    device: &B::Device,
    ours: impl Fn(Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>, &ConvGeometry) -> Tensor<B, 4>,
) {
    agrees_with_tolerance(x_shape, w_shape, g, groups, device, 1e-4, ours);
}

/// [`agrees_with`] within `tolerance` for the output and the input gradient, and ten times
/// that for the weight and bias gradients (sums over every output position).
pub fn agrees_with_tolerance<B: AutodiffBackend>(
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    g: ConvGeometry,
    groups: usize,
    device: &B::Device,
    tolerance: f32,
    ours: impl Fn(Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>, &ConvGeometry) -> Tensor<B, 4>,
) {
    let x = random::<B, 4>(x_shape, device).require_grad();
    let weight = random::<B, 4>(w_shape, device).require_grad();
    let bias = random::<B, 1>([w_shape[0]], device).require_grad();
    let native = conv2d(x.clone(), weight.clone(), Some(bias.clone()), g.options(groups));
    let ours = ours(x.clone(), weight.clone(), Some(bias.clone()), &g);
    assert_eq!(ours.dims(), native.dims(), "{g:?}");
    assert_close_named(ours.clone(), native.clone(), tolerance, &format!("output, {g:?}"));
    // A loss that weighs every output differently.
    let mask = random::<B, 4>(native.dims(), device);
    let grads_native = native.mul(mask.clone()).sum().backward();
    let grads_ours = ours.mul(mask).sum().backward();
    let grad = |what: &str| format!("{what} gradient, x {x_shape:?}, weight {w_shape:?}, {g:?}");
    assert_close_named(x.grad(&grads_ours).unwrap(), x.grad(&grads_native).unwrap(), tolerance, &grad("input"));
    assert_close_named(weight.grad(&grads_ours).unwrap(), weight.grad(&grads_native).unwrap(), 10.0 * tolerance, &grad("weight"));
    assert_close_named(bias.grad(&grads_ours).unwrap(), bias.grad(&grads_native).unwrap(), 10.0 * tolerance, &grad("bias"));
}

/// Asserts that the output and the input, weight and bias gradients of `ours` on `B` agree
/// with burn-ndarray's `conv2d` (one group) on the same random tensors: a reference that does
/// not share the GPU backend's own conv kernels (burn's wgpu conv gave an all-zero input
/// gradient for a 1×1 stride-2 conv; `gemm_conv.rs`). Tolerances as [`agrees_with_tolerance`].
pub fn agrees_with_ndarray<B: AutodiffBackend>(
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    g: ConvGeometry,
    device: &B::Device,
    tolerance: f32,
    ours: impl Fn(Tensor<B, 4>, Tensor<B, 4>, Option<Tensor<B, 1>>, &ConvGeometry) -> Tensor<B, 4>,
) {
    let cpu = Default::default();
    let x = random::<NdArrayAd, 4>(x_shape, &cpu).require_grad();
    let weight = random::<NdArrayAd, 4>(w_shape, &cpu).require_grad();
    let bias = random::<NdArrayAd, 1>([w_shape[0]], &cpu).require_grad();
    let expected = conv2d(x.clone(), weight.clone(), Some(bias.clone()), g.options(1));
    let mask = random::<NdArrayAd, 4>(expected.dims(), &cpu);
    let to_b = |t: Tensor<NdArrayAd, 4>| Tensor::<B, 4>::from_data(t.into_data(), device);
    let (xb, wb) = (to_b(x.clone()).require_grad(), to_b(weight.clone()).require_grad());
    let bb = Tensor::<B, 1>::from_data(bias.clone().into_data(), device).require_grad();
    let actual = ours(xb.clone(), wb.clone(), Some(bb.clone()), &g);
    let to_cpu = |t: Tensor<B::InnerBackend, 4>| Tensor::<burn::backend::NdArray, 4>::from_data(t.into_data(), &cpu);
    assert_close_named(to_cpu(actual.clone().inner()), expected.clone().inner(), tolerance, &format!("output, {g:?}"));
    let grads = actual.mul(to_b(mask.clone())).sum().backward();
    let grads_expected = expected.mul(mask).sum().backward();
    let what = |what: &str| format!("{what} gradient against ndarray, x {x_shape:?}, weight {w_shape:?}, {g:?}");
    assert_close_named(to_cpu(xb.grad(&grads).unwrap()), x.grad(&grads_expected).unwrap(), tolerance, &what("input"));
    assert_close_named(to_cpu(wb.grad(&grads).unwrap()), weight.grad(&grads_expected).unwrap(), 10.0 * tolerance, &what("weight"));
    let bias_grad = Tensor::<burn::backend::NdArray, 1>::from_data(bb.grad(&grads).unwrap().into_data(), &cpu);
    assert_close_named(bias_grad, bias.grad(&grads_expected).unwrap(), 10.0 * tolerance, &what("bias"));
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
/// ndarray, on wgpu when the `test-wgpu` feature is on, and on CUDA with `test-cuda`, each
/// holding [`using_settings`]; those listed after `; changing_settings:` hold
/// [`changing_settings`] instead.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)? $(; changing_settings: $($changing:ident),+ $(,)?)?) => {
        mod on_ndarray {
            $( $crate::test_support::backend_test!(NdArrayAd, $name, using_settings); )+
            $($( $crate::test_support::backend_test!(NdArrayAd, $changing, changing_settings); )+)?
        }
        #[cfg(feature = "test-wgpu")]
        mod on_wgpu {
            $( $crate::test_support::backend_test!(WgpuAd, $name, using_settings); )+
            $($( $crate::test_support::backend_test!(WgpuAd, $changing, changing_settings); )+)?
        }
        #[cfg(feature = "test-cuda")]
        mod on_cuda {
            $( $crate::test_support::backend_test!(CudaAd, $name, using_settings); )+
            $($( $crate::test_support::backend_test!(CudaAd, $changing, changing_settings); )+)?
        }
    };
}

/// One test of [`backend_tests!`]: `super::name` on `backend`, holding the settings by `hold`.
macro_rules! backend_test {
    ($backend:ident, $name:ident, $hold:ident) => {
        #[test]
        fn $name() {
            let _settings = $crate::test_support::$hold();
            let device = Default::default();
            super::$name::<$crate::test_support::$backend>(&device);
        }
    };
}
pub(crate) use backend_test;
pub(crate) use backend_tests;
