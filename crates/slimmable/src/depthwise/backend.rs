//! The backend side of the depthwise kernels: two crate-private traits and their impls for
//! burn's cubecl backends (the kernels) and for autodiff over them (the backward pass).

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Shape, TensorMetadata};
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use super::kernel;
use crate::im2col::ConvGeometry;

/// A backend that computes a depthwise convolution (`weight` `[c, 1, kh, kw]`) in one op.
pub(crate) trait DepthwiseForward: Backend {
    /// The convolution of `input` `[n, c, h, w]`: `[n, c, h_out, w_out]`, without bias.
    fn depthwise_forward(input: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self>;
}

/// A backend that also has the two gradients of [`DepthwiseForward`]: what autodiff needs of
/// the backend it wraps.
pub(crate) trait DepthwiseBackward: DepthwiseForward {
    /// The gradient with respect to the input, of `input_shape`.
    fn depthwise_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        input_shape: [usize; 4],
        geometry: &ConvGeometry,
    ) -> FloatTensor<Self>;

    /// The gradient with respect to the weight, `[c, 1, kh, kw]`.
    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self>;
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> DepthwiseForward for CubeBackend<R, F, I, BT> {
    fn depthwise_forward(input: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        kernel::forward::<R, F>(input, weight, geometry)
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> DepthwiseBackward for CubeBackend<R, F, I, BT> {
    fn depthwise_input_grad(
        grad: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        input_shape: [usize; 4],
        geometry: &ConvGeometry,
    ) -> FloatTensor<Self> {
        kernel::input_grad::<R, F>(grad, weight, input_shape, geometry)
    }

    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        let channels = input.shape().dims::<4>()[1];
        let per_image = kernel::weight_grad_per_image::<R, F>(grad, input, geometry);
        let summed = Self::float_sum_dim(per_image, 0);
        Self::float_reshape(summed, Shape::new([channels, 1, geometry.kernel[0], geometry.kernel[1]]))
    }
}

/// The backward step of the depthwise op, recorded in the autodiff graph.
#[derive(Debug)]
struct DepthwiseConvBackward;

impl<B: DepthwiseBackward> Backward<B, 2> for DepthwiseConvBackward {
    /// The input's and the weight's checkpoints, and the geometry.
    type State = (NodeId, NodeId, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [input_node, weight_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (input_id, weight_id, geometry) = ops.state;
        let input: FloatTensor<B> = checkpointer.retrieve_node_output(input_id);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_id);
        if let Some(node) = weight_node {
            grads.register::<B>(node.id, B::depthwise_weight_grad(grad.clone(), input.clone(), &geometry));
        }
        if let Some(node) = input_node {
            let input_shape = input.shape().dims::<4>();
            grads.register::<B>(node.id, B::depthwise_input_grad(grad, weight, input_shape, &geometry));
        }
    }
}

impl<B: DepthwiseBackward, C: CheckpointStrategy> DepthwiseForward for Autodiff<B, C> {
    fn depthwise_forward(input: FloatTensor<Self>, weight: FloatTensor<Self>, geometry: &ConvGeometry) -> FloatTensor<Self> {
        match DepthwiseConvBackward
            .prepare::<C>([input.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let input_id = prep.checkpoint(&input);
                let weight_id = prep.checkpoint(&weight);
                let output = B::depthwise_forward(input.primitive, weight.primitive, geometry);
                prep.finish((input_id, weight_id, *geometry), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::depthwise_forward(input.primitive, weight.primitive, geometry)),
        }
    }
}
