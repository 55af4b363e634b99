//! What this crate's cubecl kernels (`depthwise/cube.rs`, `batch_norm_kernels.rs`,
//! `gemm_operands.rs`) share: new output tensors, the launch geometry of one thread per output
//! element, the vector size a tensor is read with along one axis, and one thread's sum of a
//! run of values.

use burn::tensor::{DType, Shape};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeRuntime, FloatElement};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// A new contiguous tensor of element `F` and `shape` on `like`'s device (uninitialised).
pub(crate) fn empty_like<R: CubeRuntime, F: FloatElement>(like: &CubeTensor<R>, shape: &[usize]) -> CubeTensor<R> {
    empty_of(like, shape, F::dtype())
}

/// A new contiguous tensor of elements of `dtype` and `shape` on `like`'s device
/// (uninitialised).
pub(crate) fn empty_of<R: CubeRuntime>(like: &CubeTensor<R>, shape: &[usize], dtype: DType) -> CubeTensor<R> {
    let shape = Shape::from(shape.to_vec());
    let buffer = like.client.empty(shape.num_elements() * dtype.size());
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape, buffer, dtype)
}

/// The cube count and size that launch one thread per vector of `vector_size` elements of
/// `output` (1: one per element).
pub(crate) fn elementwise_launch<R: CubeRuntime>(output: &CubeTensor<R>, vector_size: usize) -> (CubeCount, CubeDim) {
    let elements = output.meta.num_elements() / vector_size.max(1);
    let cube_dim = CubeDim::new(&output.client, elements);
    (calculate_cube_count_elemwise(&output.client, elements, cube_dim), cube_dim)
}

/// The widest vector the device loads in one access that `tensor` can be read with along
/// `axis`: that axis innermost (stride 1), its size and every other stride multiples of the
/// vector (cubecl's own check looks at the smallest other stride only); 1 otherwise.
pub(crate) fn vector_size_along<R: CubeRuntime>(tensor: &CubeTensor<R>, axis: usize) -> VectorSize {
    let supported = tensor.client.io_optimized_vector_sizes(tensor.dtype.size());
    let strides = tensor.meta.strides();
    let size = cubecl::tensor_vector_size_parallel(supported, tensor.meta.shape(), strides, axis);
    match strides.iter().enumerate().all(|(at, &stride)| at == axis || stride % size == 0) {
        true => size,
        false => 1,
    }
}

/// The sum of `count` consecutive values of `values` from `start`, four at a time into four
/// sums: with one running sum every load waited for the add before it, and a thread adding 128
/// partial sums (the depthwise weight gradient's chunks; BatchNorm's segments until session 31)
/// took 11–17 µs on an H200 (docs/BENCHMARKS.md, session 30); here four independent loads are
/// in flight at once.
#[cube]
pub(crate) fn run_total<F: Float>(values: &Tensor<F>, start: usize, count: usize) -> F {
    let quads = count / 4;
    let mut sum_a = F::new(0.0);
    let mut sum_b = F::new(0.0);
    let mut sum_c = F::new(0.0);
    let mut sum_d = F::new(0.0);
    for q in 0..quads {
        let at = start + 4 * q;
        sum_a += values[at];
        sum_b += values[at + 1];
        sum_c += values[at + 2];
        sum_d += values[at + 3];
    }
    for k in 4 * quads..count {
        sum_a += values[start + k];
    }
    (sum_a + sum_b) + (sum_c + sum_d)
}
