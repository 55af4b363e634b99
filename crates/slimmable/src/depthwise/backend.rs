//! The backend side of the depthwise op: two crate-private traits, implemented by the backends
//! with kernels (`cube.rs`, `cpu.rs`), and the autodiff impl over any of them (the backward
//! pass).

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::tensor::backend::Backend;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::FloatTensor;

use crate::im2col::ConvGeometry;

/// A backend that computes a depthwise convolution (`weight` `[c_max, 1, kh, kw]`, its first
/// `c` channels read) in one op.
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

    /// The gradient with respect to the weight, `[channels, 1, kh, kw]`: the weight's full
    /// length (at least the input's `c` channels), zero beyond the first `c`.
    fn depthwise_weight_grad(grad: FloatTensor<Self>, input: FloatTensor<Self>, geometry: &ConvGeometry, channels: usize) -> FloatTensor<Self>;
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
            let channels = weight.shape().dims::<4>()[0];
            grads.register::<B>(node.id, B::depthwise_weight_grad(grad.clone(), input.clone(), &geometry, channels));
        }
        if let Some(node) = input_node {
            let input_shape = input.shape().dims::<4>();
            let input_grad = B::depthwise_input_grad(grad, weight, input_shape, &geometry);
            // In the input's type (a bf16 activation's gradient is bf16).
            let input_grad = match input_grad.dtype() == input.dtype() {
                true => input_grad,
                false => B::float_cast(input_grad, input.dtype().into()),
            };
            grads.register::<B>(node.id, input_grad);
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
