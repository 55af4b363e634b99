//! The error a slimmable layer returns for a width it cannot run.
//!
//! Written by hand rather than with `thiserror` so that this crate depends on burn alone.

use std::fmt;

/// Why a slimmable layer cannot run at the requested width.
#[derive(Debug, Clone, PartialEq)]
pub enum SlimError {
    /// A width of zero channels was asked for.
    ZeroWidth {
        /// Which width: "input channels", "output features", ...
        what: &'static str,
    },
    /// A width above the layer's maximum (the width it was built with).
    AboveMaximum {
        /// Which width.
        what: &'static str,
        /// The width asked for.
        requested: usize,
        /// The layer's maximum.
        maximum: usize,
    },
    /// A grouped or depthwise conv asked for an output width that does not follow its input width.
    GroupedWidthMismatch {
        /// Active input channels.
        in_channels: usize,
        /// Output channels asked for.
        out_channels: usize,
        /// The only output width this input width allows.
        expected_out: usize,
        /// Input channels per group (1 for a depthwise conv).
        in_per_group: usize,
    },
    /// A grouped conv's input width is not a whole number of groups.
    PartialGroup {
        /// Active input channels.
        in_channels: usize,
        /// Input channels per group.
        in_per_group: usize,
    },
    /// A width ratio outside (0, 1].
    RatioOutOfRange {
        /// The ratio given.
        ratio: f64,
    },
    /// A switchable BatchNorm asked for a subnet index it does not hold.
    SubnetIndex {
        /// The index asked for.
        index: usize,
        /// How many subnets the layer holds.
        num_subnets: usize,
    },
    /// A layer configuration that cannot be built.
    InvalidConfig(String),
}

impl fmt::Display for SlimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlimError::ZeroWidth { what } => {
                write!(f, "a width of 0 {what} leaves the layer with no channels")
            }
            SlimError::AboveMaximum { what, requested, maximum } => write!(
                f,
                "{requested} {what} requested, but the layer was built with at most {maximum}"
            ),
            SlimError::GroupedWidthMismatch { in_channels, out_channels, expected_out, in_per_group } => {
                if *in_per_group == 1 {
                    write!(
                        f,
                        "depthwise conv: its output width follows its input width; \
                         {in_channels} input channels give {expected_out} output channels, \
                         but {out_channels} were requested"
                    )
                } else {
                    write!(
                        f,
                        "grouped conv ({in_per_group} input channels per group): \
                         {in_channels} input channels give {expected_out} output channels, \
                         but {out_channels} were requested"
                    )
                }
            }
            SlimError::PartialGroup { in_channels, in_per_group } => write!(
                f,
                "grouped conv: {in_channels} input channels is not a whole number of groups \
                 of {in_per_group} channels"
            ),
            SlimError::RatioOutOfRange { ratio } => {
                write!(f, "width ratio {ratio} is outside (0, 1]")
            }
            SlimError::SubnetIndex { index, num_subnets } => write!(
                f,
                "switchable BatchNorm: subnet index {index} requested, but it holds {num_subnets} \
                 subnets (0..{num_subnets})"
            ),
            SlimError::InvalidConfig(message) => write!(f, "invalid layer config: {message}"),
        }
    }
}

impl std::error::Error for SlimError {}

/// Checks that `requested` is a usable width for a layer whose maximum is `maximum`.
pub(crate) fn check_width(what: &'static str, requested: usize, maximum: usize) -> Result<(), SlimError> {
    if requested == 0 {
        return Err(SlimError::ZeroWidth { what });
    }
    if requested > maximum {
        return Err(SlimError::AboveMaximum { what, requested, maximum });
    }
    Ok(())
}
