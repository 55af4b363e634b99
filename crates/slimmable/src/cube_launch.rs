//! What this crate's cubecl kernels (`depthwise/cube.rs`, `batch_norm_kernels.rs`) share: new
//! output tensors and the launch geometry of one thread per output element.

use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeRuntime, FloatElement};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// A new contiguous tensor of element `F` and `shape` on `like`'s device (uninitialised).
pub(crate) fn empty_like<R: CubeRuntime, F: FloatElement>(like: &CubeTensor<R>, shape: &[usize]) -> CubeTensor<R> {
    let shape = Shape::from(shape.to_vec());
    let buffer = like.client.empty(shape.num_elements() * core::mem::size_of::<F>());
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), shape, buffer, F::dtype())
}

/// The cube count and size that launch one thread per vector of `vector_size` elements of
/// `output` (1: one per element).
pub(crate) fn elementwise_launch<R: CubeRuntime>(output: &CubeTensor<R>, vector_size: usize) -> (CubeCount, CubeDim) {
    let elements = output.meta.num_elements() / vector_size.max(1);
    let cube_dim = CubeDim::new(&output.client, elements);
    (calculate_cube_count_elemwise(&output.client, elements, cube_dim), cube_dim)
}
