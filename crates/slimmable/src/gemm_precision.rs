//! The number format in which [`gemm_conv2d`](crate::gemm_conv2d) hands a dense conv's
//! operands to the tensor cores: the forward pass, the input gradient and the weight gradient.
//!
//! - [`GemmPrecision::Tf32`] (the default): the operands stay f32 in memory and the tensor
//!   cores round them to TF32 (10-bit mantissa), as PyTorch does with `allow_tf32`.
//! - [`GemmPrecision::Bf16`]: the channels-last copies the kernels read anyway are written as
//!   bfloat16 (8-bit mantissa, f32's range), so the kernels read half the bytes and run at the
//!   tensor cores' 16-bit rate; every product is still summed in f32 and every result, the
//!   weight gradient included, is f32. The parameters, the optimizer and everything outside
//!   the dense convs stay f32 ("f32 master weights"). The input and the weight a conv keeps for
//!   its backward pass are its bf16 copies, which halves what the conv layers hold. Where the
//!   device has no bf16 (lavapipe), the operands stay f32.
//!
//! bfloat16 rather than f16: gradients far below f16's smallest normal value (6e-5) keep their
//! exponent, so no loss scaling is needed.

use std::sync::atomic::{AtomicU8, Ordering};

/// The operand format of the implicit-GEMM convs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmPrecision {
    /// f32 operands, rounded to TF32 by the tensor cores.
    #[default]
    Tf32,
    /// bfloat16 operands, f32 sums and results.
    Bf16,
}

impl GemmPrecision {
    /// Every precision, in the order of their names.
    pub const ALL: [GemmPrecision; 2] = [GemmPrecision::Tf32, GemmPrecision::Bf16];

    /// `tf32` or `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            GemmPrecision::Tf32 => "tf32",
            GemmPrecision::Bf16 => "bf16",
        }
    }

    /// The precision of that name; the error lists the accepted ones.
    pub fn parse(name: &str) -> Result<GemmPrecision, String> {
        crate::named::by_name(&Self::ALL, Self::name, "GEMM precision", name)
    }
}

static SELECTED: AtomicU8 = AtomicU8::new(0);

/// Chooses the operand format of every [`gemm_conv2d`](crate::gemm_conv2d) in this process
/// (default [`GemmPrecision::Tf32`]).
pub fn set_gemm_precision(precision: GemmPrecision) {
    SELECTED.store(precision as u8, Ordering::Relaxed);
}

/// The operand format in use.
pub fn gemm_precision() -> GemmPrecision {
    GemmPrecision::ALL[SELECTED.load(Ordering::Relaxed) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named_errors() {
        for precision in GemmPrecision::ALL {
            assert_eq!(GemmPrecision::parse(precision.name()), Ok(precision));
        }
        assert_eq!(GemmPrecision::parse(" BF16 "), Ok(GemmPrecision::Bf16));
        let err = GemmPrecision::parse("fp8").unwrap_err();
        assert!(err.contains("\"fp8\"") && err.contains("tf32, bf16"), "{err}");
        assert_eq!(GemmPrecision::default(), GemmPrecision::Tf32);
    }
}
