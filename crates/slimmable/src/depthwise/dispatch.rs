//! Which backends have the depthwise kernels, decided by the backend's type at run time
//! (why by type: [`crate::type_match`]).

use std::any::TypeId;

use burn::tensor::DType;
use burn::tensor::TensorMetadata;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;

use super::backend::DepthwiseForward;
use crate::type_match::same_type;
use crate::im2col::ConvGeometry;

#[cfg(feature = "wgpu")]
use crate::type_match::WgpuCube;
#[cfg(feature = "cuda")]
use crate::type_match::CudaCube;

/// One backend the kernels can run on: its depthwise op, for tensors of `B` that are its own.
type Candidate<B> = fn(FloatTensor<B>, FloatTensor<B>, &ConvGeometry) -> FloatTensor<B>;

/// The backends with kernels: burn's wgpu, CUDA and ndarray backends in f32, with and without
/// autodiff (not under burn's `fusion`, whose tensors are its own).
fn candidates<B: Backend>() -> Vec<(TypeId, Candidate<B>)> {
    let mut list: Vec<(TypeId, Candidate<B>)> = Vec::new();
    #[cfg(feature = "ndarray")]
    {
        use burn::backend::{Autodiff, NdArray};
        list.push((TypeId::of::<NdArray>(), run_as::<B, NdArray>));
        list.push((TypeId::of::<Autodiff<NdArray>>(), run_as::<B, Autodiff<NdArray>>));
    }
    #[cfg(feature = "wgpu")]
    {
        list.push((TypeId::of::<WgpuCube>(), run_as::<B, WgpuCube>));
        list.push((TypeId::of::<burn::backend::Autodiff<WgpuCube>>(), run_as::<B, burn::backend::Autodiff<WgpuCube>>));
    }
    #[cfg(feature = "cuda")]
    {
        list.push((TypeId::of::<CudaCube>(), run_as::<B, CudaCube>));
        list.push((TypeId::of::<burn::backend::Autodiff<CudaCube>>(), run_as::<B, burn::backend::Autodiff<CudaCube>>));
    }
    list
}

/// Whether `B` is one of the cubecl backends, whose kernels also take bf16 activations.
fn takes_bf16<B: Backend>() -> bool {
    #[allow(unused_mut)]
    let mut cube: Vec<TypeId> = Vec::new();
    #[cfg(feature = "wgpu")]
    cube.extend([TypeId::of::<WgpuCube>(), TypeId::of::<burn::backend::Autodiff<WgpuCube>>()]);
    #[cfg(feature = "cuda")]
    cube.extend([TypeId::of::<CudaCube>(), TypeId::of::<burn::backend::Autodiff<CudaCube>>()]);
    cube.contains(&TypeId::of::<B>())
}

/// Whether backend `B` has the depthwise kernels.
pub(crate) fn has_kernels<B: Backend>() -> bool {
    candidates::<B>().iter().any(|(id, _)| *id == TypeId::of::<B>())
}

/// Runs the depthwise op of backend `K`; called only when `K` is `B` itself.
fn run_as<B: Backend, K: DepthwiseForward>(input: FloatTensor<B>, weight: FloatTensor<B>, geometry: &ConvGeometry) -> FloatTensor<B> {
    let mismatch = |_| unreachable!("run_as is called only when K is B");
    let output = K::depthwise_forward(same_type(input).unwrap_or_else(mismatch), same_type(weight).unwrap_or_else(mismatch), geometry);
    same_type(output).unwrap_or_else(|_| unreachable!("run_as is called only when K is B"))
}

/// The depthwise convolution by this crate's kernels when backend `B` has them and the tensors
/// are f32 (the input bf16 too on the cubecl backends: `ActivationPrecision`); otherwise the
/// tensors back, untouched.
pub(crate) fn try_kernels<B: Backend>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    geometry: &ConvGeometry,
) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)> {
    let input_ok = match input.dtype() {
        DType::F32 => true,
        DType::BF16 => takes_bf16::<B>(),
        _ => false,
    };
    if !input_ok || weight.dtype() != DType::F32 {
        return Err((input, weight));
    }
    match candidates::<B>().into_iter().find(|(id, _)| *id == TypeId::of::<B>()) {
        Some((_, run)) => Ok(run(input, weight, geometry)),
        None => Err((input, weight)),
    }
}
