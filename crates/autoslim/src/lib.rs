//! AutoSlim on burn: train one network at many widths, search the best channel numbers
//! under a FLOPs budget, and deploy the result as a plain, smaller burn model.

pub mod channels;
