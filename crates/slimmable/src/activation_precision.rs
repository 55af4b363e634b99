//! The number format of the activations the dense GEMM convs hand to the next layer: their
//! output forward and their input's gradient backward.
//!
//! - [`ActivationPrecision::F32`] (the default): activations are f32 between layers.
//! - [`ActivationPrecision::Bf16`]: where the GEMM convs' operands are bfloat16 already
//!   ([`GemmPrecision::Bf16`](crate::GemmPrecision) on a device with bf16), a conv writes its
//!   output and its input gradient as bfloat16, and BatchNorm reads and writes them so (its
//!   statistics and arithmetic are still f32). Every pass over activations between a conv and
//!   the next one (the layout copies, BatchNorm's two kernels each way) then moves half the
//!   bytes. What is rounded that was not before: a conv's output before BatchNorm, and the
//!   gradient a conv hands back before BatchNorm's backward pass; BatchNorm's output and its
//!   input gradient were rounded to bf16 anyway, as the next GEMM's operands. Parameters, their
//!   gradients and the optimizer stay f32.
//!
//! Every slimmable layer takes activations of either format: the GEMM convs and BatchNorm's
//! batch-statistics kernels keep bf16; every other path (the linear layer, depthwise and im2col
//! convs, BatchNorm with running statistics, burn's own conv) first casts its input to its
//! parameters' type. Adding two activations of different formats with burn's tensor ops would
//! read one as the other's (burn-cubecl's binary kernels take the left operand's type):
//! [`residual_add`] casts first.

use std::sync::atomic::{AtomicU8, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::{DType, FloatDType, Tensor};

/// The number format of the activations between the GEMM convs and the layers after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationPrecision {
    /// f32 activations.
    #[default]
    F32,
    /// bfloat16 activations where the GEMM operands are bfloat16.
    Bf16,
}

impl ActivationPrecision {
    /// Every precision, in the order of their names.
    pub const ALL: [ActivationPrecision; 2] = [ActivationPrecision::F32, ActivationPrecision::Bf16];

    /// `f32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            ActivationPrecision::F32 => "f32",
            ActivationPrecision::Bf16 => "bf16",
        }
    }

    /// The precision of that name; the error lists the accepted ones.
    pub fn parse(name: &str) -> Result<ActivationPrecision, String> {
        crate::named::by_name(&Self::ALL, Self::name, "activation precision", name)
    }
}

static SELECTED: AtomicU8 = AtomicU8::new(0);

/// Chooses the activations' format for every GEMM conv in this process (default
/// [`ActivationPrecision::F32`]).
pub fn set_activation_precision(precision: ActivationPrecision) {
    SELECTED.store(precision as u8, Ordering::Relaxed);
}

/// The activations' format in use.
pub fn activation_precision() -> ActivationPrecision {
    ActivationPrecision::ALL[SELECTED.load(Ordering::Relaxed) as usize]
}

/// `x` with elements of `dtype` (a float type): itself when they are already, else a cast
/// (which autodiff passes the gradient back through).
pub fn with_dtype<B: Backend, const D: usize>(x: Tensor<B, D>, dtype: DType) -> Tensor<B, D> {
    match x.dtype() == dtype {
        true => x,
        false => x.cast(FloatDType::from(dtype)),
    }
}

/// `y + x` (a residual connection) in `y`'s number format, `x` cast to it when they differ.
pub fn residual_add<B: Backend, const D: usize>(y: Tensor<B, D>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dtype = y.dtype();
    y.add(with_dtype(x, dtype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NdArrayAd, assert_close, random};

    #[test]
    fn names_round_trip_and_unknown_ones_are_named_errors() {
        for precision in ActivationPrecision::ALL {
            assert_eq!(ActivationPrecision::parse(precision.name()), Ok(precision));
        }
        assert_eq!(ActivationPrecision::parse(" BF16 "), Ok(ActivationPrecision::Bf16));
        let err = ActivationPrecision::parse("f16").unwrap_err();
        assert!(err.contains("\"f16\"") && err.contains("f32, bf16"), "{err}");
        assert_eq!(ActivationPrecision::default(), ActivationPrecision::F32);
    }

    #[test]
    fn a_tensor_of_the_asked_type_is_itself_and_the_residual_sum_adds() {
        let device = Default::default();
        let x = random::<NdArrayAd, 2>([3, 4], &device);
        let y = random::<NdArrayAd, 2>([3, 4], &device);
        assert_eq!(with_dtype(x.clone(), DType::F32).dtype(), DType::F32);
        assert_close(with_dtype(x.clone(), DType::F32), x.clone(), 1e-12);
        assert_close(residual_add(y.clone(), x.clone()), y.clone().add(x.clone()), 1e-7);
        // Of another type, the shortcut is cast to the main path's before the sum.
        let wide = with_dtype(x.clone(), DType::F64);
        assert_eq!(wide.dtype(), DType::F64);
        let sum = residual_add(y.clone(), wide);
        assert_eq!(sum.dtype(), DType::F32);
        assert_close(sum, y.add(x), 1e-6);
    }
}

#[cfg(all(test, any(feature = "test-wgpu", feature = "test-cuda")))]
mod on_gpu {
    //! A small net of GEMM convs, BatchNorm, pooling and a linear head, run with f32 and
    //! with bf16 activations: on CUDA the activations between the layers are bf16 and the
    //! logits and gradients agree with the f32 run within bf16's rounding; on lavapipe (no
    //! bf16) they stay f32.
    use super::*;
    use crate::test_support::{assert_close_named, geometry, random};
    use crate::{Activation, GemmPrecision, NormMode, SlimBatchNormConfig, SlimLinearConfig, gemm_conv2d_active, set_gemm_precision};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::module::adaptive_avg_pool2d;

    /// What one run gives: the logits, the gradients of the input, of both convs' weights, of
    /// the first BatchNorm's γ and of the head's weight (all as f32), and the element types of
    /// the activations after each conv and each BatchNorm. The loss probes the logits and the
    /// last BatchNorm's output.
    struct Run<B: AutodiffBackend> {
        logits: Tensor<B::InnerBackend, 2>,
        grads: Vec<(&'static str, Tensor<B::InnerBackend, 2>)>,
        dtypes: [DType; 4],
        input_grad_dtype: DType,
    }

    /// The net's inputs, weights and probes, made once for both runs (seeding the backend's
    /// generator would not do: tests running beside this one draw from it too).
    struct Net<B: AutodiffBackend> {
        x: Tensor<B, 4>,
        w1: Tensor<B, 4>,
        w2: Tensor<B, 4>,
        bn1: crate::SlimBatchNorm<B>,
        bn2: crate::SlimBatchNorm<B>,
        head: crate::SlimLinear<B>,
        probe: Tensor<B, 2>,
        probe_planes: Tensor<B, 4>,
    }

    impl<B: AutodiffBackend> Net<B> {
        fn new(device: &B::Device) -> Self {
            Net {
                x: random::<B, 4>([4, 16, 8, 8], device).require_grad(),
                w1: random::<B, 4>([24, 16, 3, 3], device).mul_scalar(0.1).require_grad(),
                w2: random::<B, 4>([40, 24, 3, 3], device).mul_scalar(0.1).require_grad(),
                bn1: SlimBatchNormConfig::new(24).init::<B>(device),
                bn2: SlimBatchNormConfig::new(40).init::<B>(device),
                head: SlimLinearConfig::new(40, 10).init::<B>(device),
                probe: random::<B, 2>([4, 10], device),
                // A probe of every output value of the last BatchNorm too: through the pooling
                // alone, its gradient would be constant over each image's plane, and
                // BatchNorm's backward pass would cancel it to almost nothing (the f32 and bf16
                // runs then differ by a third of the input gradient's largest value, on a
                // gradient of rounding errors).
                probe_planes: random::<B, 4>([4, 32, 4, 4], device),
            }
        }
    }

    fn run<B: AutodiffBackend>(net: &Net<B>, precision: ActivationPrecision) -> Run<B> {
        let Net { x, w1, w2, bn1, bn2, head, probe, probe_planes } = net;
        let (probe, probe_planes) = (probe.clone(), probe_planes.clone());
        set_activation_precision(precision);
        let y1 = gemm_conv2d_active(x.clone(), w1.clone(), 24, None, &geometry(3, 1, 1, [1, 1], [1, 1]));
        // No clamp: where a value near a ReLU's edge rounds to the other side in one run, its
        // gradient differs by the whole upstream value (BatchNorm's own test covers the clamp
        // with bf16 inputs).
        let z1 = bn1.forward_activation(y1.clone(), NormMode::Auto, Activation::Identity);
        // Strided: its input gradient is a product and a fold, written f32 and cast.
        let y2 = gemm_conv2d_active(z1.clone(), w2.clone(), 32, None, &geometry(3, 2, 1, [1, 1], [1, 1]));
        let z2 = bn2.forward_activation(y2.clone(), NormMode::Auto, Activation::Identity);
        let pooled = adaptive_avg_pool2d(z2.clone(), [1, 1]).flatten::<2>(1, 3);
        let logits = head.forward(pooled, 10);
        set_activation_precision(ActivationPrecision::F32);

        let loss = logits.clone().mul(probe).sum().add(with_dtype(z2.clone(), DType::F32).mul(probe_planes).sum());
        let grads = loss.backward();
        let flat = |t: Tensor<B::InnerBackend, 4>| t.flatten::<2>(1, 3);
        let input_grad = x.grad(&grads).expect("the input has a gradient");
        Run {
            logits: logits.inner(),
            input_grad_dtype: input_grad.dtype(),
            grads: vec![
                ("the input's gradient", flat(with_dtype(input_grad, DType::F32))),
                ("the first conv's weight gradient", flat(w1.grad(&grads).unwrap())),
                ("the second conv's weight gradient", flat(w2.grad(&grads).unwrap())),
                ("the first BatchNorm's γ gradient", bn1.gamma.grad(&grads).unwrap().unsqueeze()),
                ("the head's weight gradient", head.weight.grad(&grads).unwrap()),
            ],
            dtypes: [y1.dtype(), z1.dtype(), y2.dtype(), z2.dtype()],
        }
    }

    /// Runs both precisions with bf16 operands; the precisions are process-wide, so the CUDA
    /// tests run on one thread, and on lavapipe neither takes effect.
    fn both<B: AutodiffBackend>(device: &B::Device) -> (Run<B>, Run<B>) {
        set_gemm_precision(GemmPrecision::Bf16);
        let net = Net::<B>::new(device);
        let runs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (run(&net, ActivationPrecision::F32), run(&net, ActivationPrecision::Bf16))));
        set_gemm_precision(GemmPrecision::Tf32);
        set_activation_precision(ActivationPrecision::F32);
        runs.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    #[cfg(feature = "test-cuda")]
    #[test]
    fn on_cuda_bf16_activations_pass_between_the_layers_and_agree_with_f32_ones() {
        let _settings = crate::test_support::changing_settings();
        let device = Default::default();
        let (f32_run, bf16_run) = both::<crate::test_support::CudaAd>(&device);
        assert_eq!(f32_run.dtypes, [DType::F32; 4]);
        assert_eq!(bf16_run.dtypes, [DType::BF16; 4], "conv, BatchNorm, conv, BatchNorm outputs");
        assert_eq!(bf16_run.logits.dtype(), DType::F32);
        // The input was f32: its gradient comes back f32.
        assert_eq!(bf16_run.input_grad_dtype, DType::F32);
        assert_close_named(bf16_run.logits.clone(), f32_run.logits.clone(), 0.05, "the logits");
        let diff: f32 = bf16_run.logits.sub(f32_run.logits).abs().max().into_scalar();
        assert!(diff > 0.0, "bf16 activations gave the f32 run's logits exactly: were they used?");
        for ((what, bf16), (_, f32)) in bf16_run.grads.into_iter().zip(f32_run.grads) {
            let scale: f32 = f32.clone().abs().max().into_scalar();
            assert!(scale > 0.0, "{what} is all zero");
            assert_close_named(bf16, f32, 0.05 * scale, what);
        }
    }

    #[cfg(feature = "test-wgpu")]
    #[test]
    fn without_bf16_on_the_device_activations_stay_f32() {
        let _settings = crate::test_support::using_settings();
        let device = Default::default();
        let (f32_run, bf16_run) = both::<crate::test_support::WgpuAd>(&device);
        assert_eq!(bf16_run.dtypes, [DType::F32; 4]);
        assert_eq!(bf16_run.input_grad_dtype, DType::F32);
        assert_close_named(bf16_run.logits, f32_run.logits, 1e-5, "the logits");
        for ((what, bf16), (_, f32)) in bf16_run.grads.into_iter().zip(f32_run.grads) {
            assert_close_named(bf16, f32, 1e-4, what);
        }
    }
}
