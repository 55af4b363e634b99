//! Which backends have the depthwise kernels, decided by the backend's type at run time.
//!
//! burn adds an op to a backend through a trait of one's own (its custom-kernel example), and
//! every model that calls the op then needs that trait as its bound. That would make
//! `SlimConv2d<B: Backend>` unusable with any backend this crate does not know, and every
//! model using it would carry the bound. Instead, [`try_kernels`] compares the backend type
//! with the few this crate has kernels for and moves the tensors to that type (a checked
//! `Any` downcast: the same type, so nothing is converted); any other backend gets its tensors
//! back and takes the tensor-op path.

use std::any::{Any, TypeId};

use burn::tensor::DType;
use burn::tensor::TensorMetadata;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;

use super::backend::DepthwiseForward;
use crate::im2col::ConvGeometry;

#[cfg(feature = "wgpu")]
type WgpuCube = burn_cubecl::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;
#[cfg(feature = "cuda")]
type CudaCube = burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;

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

/// `value` as type `T` when it is a `T`, else back.
fn same_type<S: 'static, T: 'static>(value: S) -> Result<T, S> {
    if TypeId::of::<S>() != TypeId::of::<T>() {
        return Err(value);
    }
    let boxed: Box<dyn Any> = Box::new(value);
    Ok(*boxed.downcast::<T>().unwrap_or_else(|_| unreachable!("the type ids are equal")))
}

/// The depthwise convolution by this crate's kernels when backend `B` has them and the tensors
/// are f32; otherwise the tensors back, untouched.
pub(crate) fn try_kernels<B: Backend>(
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    geometry: &ConvGeometry,
) -> Result<FloatTensor<B>, (FloatTensor<B>, FloatTensor<B>)> {
    if input.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return Err((input, weight));
    }
    match candidates::<B>().into_iter().find(|(id, _)| *id == TypeId::of::<B>()) {
        Some((_, run)) => Ok(run(input, weight, geometry)),
        None => Err((input, weight)),
    }
}
