//! Channel groups and subnets.
//!
//! A model declares, where it is built, which of its layers share one width: a
//! [`ChannelSpace`] of named groups and of the layers that read and write them. A [`Subnet`]
//! gives each group its active channel count; it is written and read as MMRazor 0.x's channel
//! YAML ([`yaml`]).

mod space;
mod subnet;
pub mod yaml;

pub use space::{ChannelError, ChannelGroup, ChannelSpace, ChannelSpaceBuilder, Channels, GroupId, LayerChannels, LayerKind, Op, OpKind};
pub use subnet::Subnet;
