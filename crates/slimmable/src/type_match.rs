//! Running an op of this crate's own on the backends it recognises, found by the backend's
//! type at run time.
//!
//! burn adds an op to a backend through a trait of one's own (its custom-kernel example), and
//! every model that calls the op then needs that trait as its bound. That would make
//! `SlimConv2d<B: Backend>` unusable with any backend this crate does not know, and every model
//! using it would carry the bound. Instead, the op compares the backend type with the few this
//! crate knows and moves the tensors to that type (a checked `Any` downcast: the same type, so
//! nothing is converted); any other backend gets its tensors back and takes the tensor-op path.

use std::any::{Any, TypeId};

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::{CheckpointStrategy, NoCheckpointing};
use burn::tensor::backend::Backend;

/// `value` as type `T` when it is a `T`, else back.
pub(crate) fn same_type<S: 'static, T: 'static>(value: S) -> Result<T, S> {
    if TypeId::of::<S>() != TypeId::of::<T>() {
        return Err(value);
    }
    let boxed: Box<dyn Any> = Box::new(value);
    Ok(*boxed.downcast::<T>().unwrap_or_else(|_| unreachable!("the type ids are equal")))
}

/// An op written for any `Autodiff<I, C>`, holding tensors of `B`; [`on_autodiff`] calls
/// [`run`](Self::run) when `B` is that type.
pub(crate) trait AutodiffOp<B: Backend>: Sized {
    /// What the op gives back, in tensors of `B`.
    type Output;

    /// Runs the op; called only when `B` is `Autodiff<I, C>`, so the op's tensors can be moved
    /// to that type with [`same_type`].
    fn run<I: Backend, C: CheckpointStrategy>(self) -> Self::Output;
}

/// Whether `B` is `Autodiff<I>` for the wrapped backend `I`.
fn is_autodiff_of<B: Backend, I: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Autodiff<I, NoCheckpointing>>()
}

/// Runs `op` when `B` is burn's autodiff over a backend this crate recognises in f32 (ndarray,
/// wgpu, CUDA, each when this crate's feature of that name is on; not under burn's `fusion`),
/// else gives it back.
pub(crate) fn on_autodiff<B: Backend, O: AutodiffOp<B>>(op: O) -> Result<O::Output, O> {
    #[cfg(feature = "ndarray")]
    if is_autodiff_of::<B, burn::backend::NdArray>() {
        return Ok(op.run::<burn::backend::NdArray, NoCheckpointing>());
    }
    #[cfg(feature = "wgpu")]
    if is_autodiff_of::<B, WgpuCube>() {
        return Ok(op.run::<WgpuCube, NoCheckpointing>());
    }
    #[cfg(feature = "cuda")]
    if is_autodiff_of::<B, CudaCube>() {
        return Ok(op.run::<CudaCube, NoCheckpointing>());
    }
    Err(op)
}

/// An op for tensors of `B` written for any of burn's cubecl backends in f32
/// (`CubeBackend<R, f32, i32, BT>`); [`on_cube`] calls [`run`](Self::run) when `B` is one.
#[cfg(feature = "cube")]
pub(crate) trait CubeOp<B: Backend>: Sized {
    /// What the op gives back, in tensors of `B`.
    type Output;

    /// Runs the op; called only when `B` is `CubeBackend<R, f32, i32, BT>`, so the op's tensors
    /// can be moved to that type with [`same_type`].
    fn run<R: burn_cubecl::CubeRuntime, BT: burn_cubecl::BoolElement>(self) -> Self::Output;
}

/// Runs `op` when `B` is burn's wgpu or CUDA backend in f32 (each when this crate's feature of
/// that name is on; not under burn's `fusion`), else gives it back.
#[cfg(feature = "cube")]
pub(crate) fn on_cube<B: Backend, O: CubeOp<B>>(op: O) -> Result<O::Output, O> {
    #[cfg(feature = "wgpu")]
    if TypeId::of::<B>() == TypeId::of::<WgpuCube>() {
        return Ok(op.run::<burn::backend::wgpu::WgpuRuntime, u32>());
    }
    #[cfg(feature = "cuda")]
    if TypeId::of::<B>() == TypeId::of::<CudaCube>() {
        return Ok(op.run::<cubecl::cuda::CudaRuntime, u8>());
    }
    Err(op)
}

/// burn's wgpu backend in f32, without fusion.
#[cfg(feature = "wgpu")]
pub(crate) type WgpuCube = burn_cubecl::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;
/// burn's CUDA backend in f32, without fusion.
#[cfg(feature = "cuda")]
pub(crate) type CudaCube = burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;
