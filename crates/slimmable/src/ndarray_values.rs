//! Reading and making the f32 tensors of burn-ndarray for this crate's CPU ops (the dense conv of
//! [`cpu_conv`](crate::cpu_conv) and the depthwise op's loops).
//!
//! burn-ndarray's `into_data` of a shared array (one autodiff also holds) or a sliced one copies
//! it value by value through ndarray's dynamic-rank iterator — a quarter of a CPU training step
//! before the dense conv read its inputs in place (session 32). A contiguous array is read here in
//! place instead, and only a non-contiguous view (a channel slice of a larger tensor) is gathered
//! into a row-major copy.

use burn::backend::NdArray;
use burn::backend::ndarray::NdArrayTensor;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData};

/// Calls `f` with `tensor`'s f32 values, row-major, and its shape: in place where the array is
/// contiguous in row-major order, else from a row-major copy.
///
/// # Panics
/// If the tensor is not f32 or not four-dimensional (the ops' dispatch admits only those).
pub(crate) fn with_values<R>(tensor: &FloatTensor<NdArray>, f: impl FnOnce(&[f32], [usize; 4]) -> R) -> R {
    let NdArrayTensor::F32(storage) = tensor else { panic!("the dispatch admits f32 tensors only") };
    let view = storage.view();
    let shape: [usize; 4] = view.shape().try_into().expect("the op's tensors have four dimensions");
    match view.as_slice() {
        Some(values) => f(values, shape),
        None => f(&view.iter().copied().collect::<Vec<_>>(), shape),
    }
}

/// A burn-ndarray tensor of `shape` holding `values` (row-major).
pub(crate) fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FloatTensor<NdArray> {
    Tensor::<NdArray, 4>::from_data(TensorData::new(values, shape), &Default::default()).into_primitive().tensor()
}
