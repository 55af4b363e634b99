//! How the implicit-GEMM kernels of [`gemm_conv2d`](crate::gemm_conv2d) split a conv into
//! work for each cube (thread block): cubek's own choice, or a stage shape named here.
//!
//! A conv is a matrix product of `m` output positions by `n` output channels over `k` =
//! kernel taps × input channels (the input gradient: input positions by input channels over
//! taps × output channels). Each cube computes one *stage*, `m × n` outputs, reading `k`-deep
//! slices of both operands into shared memory, with `planes` warps stacked along `m`, each
//! computing its rows with the tensor cores' tile instruction (for these long, narrow products
//! cubek picks a 32×8×16 tile).
//!
//! cubek 0.2 infers the stage from the problem: for the 8-layer bench net with bf16 operands it
//! takes 512 × 128 × 32 with 16 warps (512 threads), which fills a streaming multiprocessor
//! with one cube and single-buffers its loads, so every `k` step waits for memory with nothing
//! else to run. This setting names the stage instead, written `MxNxK/PLANES` (e.g.
//! `128x128x32/4`), with `+double` for double-buffered tile fragments; `n` is capped at the
//! product's `n` rounded up to a power of two. `auto` is cubek's choice (the default).

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A stage shape for the implicit-GEMM kernels (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmTiling {
    /// Output rows (positions) per stage.
    pub m: u32,
    /// Output columns (channels) per stage, at most: capped at the product's.
    pub n: u32,
    /// Reduction depth per stage.
    pub k: u32,
    /// Warps per cube, stacked along the rows.
    pub planes: u32,
    /// Double-buffered tile fragments in each warp.
    pub double: bool,
}

impl GemmTiling {
    /// `MxNxK/PLANES`, with `+double` when [`GemmTiling::double`].
    pub fn name(self) -> String {
        let double = if self.double { "+double" } else { "" };
        format!("{}x{}x{}/{}{double}", self.m, self.n, self.k, self.planes)
    }

    /// The tiling named `auto` (`None`: cubek's choice) or `MxNxK/PLANES[+double]`; the error
    /// says what is wrong with the name.
    pub fn parse(name: &str) -> Result<Option<GemmTiling>, String> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("auto") || name.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| format!("GEMM tiling \"{name}\": {why}; expected \"auto\" or MxNxK/PLANES[+double], e.g. 128x128x32/4");
        let (shape, double) = match name.strip_suffix("+double") {
            Some(shape) => (shape, true),
            None => (name, false),
        };
        let (sizes, planes) = shape.split_once('/').ok_or_else(|| bad("no /PLANES"))?;
        let number = |text: &str, what: &str| -> Result<u32, String> {
            match text.trim().parse::<u32>() {
                Ok(value) if value > 0 && value.is_power_of_two() => Ok(value),
                _ => Err(bad(&format!("{what} \"{text}\" is not a positive power of two"))),
            }
        };
        let sizes: Vec<&str> = sizes.split('x').collect();
        let [m, n, k] = sizes[..] else {
            return Err(bad("the stage needs three sizes, MxNxK"));
        };
        let tiling = GemmTiling { m: number(m, "M")?, n: number(n, "N")?, k: number(k, "K")?, planes: number(planes, "PLANES")?, double };
        if tiling.planes > 32 || tiling.m < tiling.planes {
            return Err(bad("PLANES must be at most 32 and at most M"));
        }
        Ok(Some(tiling))
    }
}

static SELECTED: RwLock<Option<GemmTiling>> = RwLock::new(None);

/// Chooses the stage shape of every [`gemm_conv2d`](crate::gemm_conv2d) kernel in this process
/// (`None`, the default: cubek's own choice).
pub fn set_gemm_tiling(tiling: Option<GemmTiling>) {
    *SELECTED.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = tiling;
}

/// The stage shape in use (`None`: cubek's own choice).
pub fn gemm_tiling() -> Option<GemmTiling> {
    *SELECTED.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static MISSES: AtomicUsize = AtomicUsize::new(0);
static FIRST_MISS: RwLock<Option<String>> = RwLock::new(None);

/// How many kernel launches in this process used cubek's inferred stage because the
/// [`gemm_tiling`] in use did not fit their product, and why the first one did not.
pub fn gemm_tiling_misses() -> (usize, Option<String>) {
    let first = FIRST_MISS.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    (MISSES.load(Ordering::Relaxed), first)
}

/// Counts a launch that fell back to the inferred stage, keeping the first reason.
#[cfg(feature = "cube")]
pub(crate) fn note_tiling_miss(why: &str) {
    if MISSES.fetch_add(1, Ordering::Relaxed) == 0 {
        *FIRST_MISS.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(why.to_string());
    }
}

#[cfg(feature = "cube")]
pub(crate) mod blueprint {
    //! The tiling as a cubek blueprint for one matrix product.

    use cubecl::Runtime;
    use cubecl::client::ComputeClient;
    use cubecl::zspace::Shape;
    use cubek::matmul::components::stage::PartitionBuffering;
    use cubek::matmul::components::tile::TileMatmulKind;
    use cubek::matmul::definition::{MatmulElems, MatmulProblem, TilingBlueprint, TilingScheme, adjust_dtypes};
    use cubek::matmul::routines::find_instruction_size;
    use cubek::std::MatrixLayout;
    use cubek::std::cube_count::{CubeCountStrategy, GlobalOrder, HypercubeBlueprint, SmAllocation};
    use cubek::std::{PartitionSize, StageSize};

    use super::GemmTiling;

    /// The product a conv kernel computes: `m × n` over `k`, and its operands' layouts.
    pub(crate) struct Product {
        pub m: usize,
        pub n: usize,
        pub k: usize,
        pub lhs: MatrixLayout,
        pub rhs: MatrixLayout,
    }

    /// The blueprint of `tiling` for `product`, with the tile instruction cubek would pick and
    /// its cube ordering; an error names what does not divide.
    pub(crate) fn blueprint<R: Runtime>(
        tiling: GemmTiling,
        client: &ComputeClient<R>,
        tile: TileMatmulKind,
        product: &Product,
        dtypes: &MatmulElems,
    ) -> Result<TilingBlueprint, String> {
        let mut dtypes = dtypes.clone();
        adjust_dtypes(client, &mut dtypes, tile.requires_accelerator());
        let problem = MatmulProblem::from_parameters(
            product.m,
            product.n,
            product.k,
            Shape::new([]),
            Shape::new([]),
            product.lhs,
            product.rhs,
            MatrixLayout::RowMajor,
            None,
            None,
            dtypes.as_global_elems(),
            Default::default(),
        );
        let registers = (dtypes.lhs_register, dtypes.rhs_register, dtypes.acc_register);
        let instruction = find_instruction_size(
            client,
            registers,
            (product.m, product.n, product.k).into(),
            (None, None, None),
            |c, cfg| tile.is_supported(c, cfg),
            |c, l, r, a| tile.supported_sizes(c, l, r, a),
        )
        .map_err(|err| format!("no tile instruction: {err:?}"))?;
        let (tm, tn, tk) = (instruction.m(), instruction.n(), instruction.k());
        let n = tiling.n.min((product.n as u32).next_power_of_two().max(tn));
        let what = tiling.name();
        let divides = |size: u32, by: u32, axis: &str| match size % by == 0 && size >= by {
            true => Ok(size / by),
            false => Err(format!("tiling {what}: {axis} {size} is not a multiple of {by}")),
        };
        let rows = divides(tiling.m, tiling.planes * tm, "rows per stage")?;
        let cols = divides(n, tn, "columns per stage")?;
        let depth = divides(tiling.k, tk, "depth per stage")?;
        let scheme = TilingScheme::builder()
            .with_tile_size(instruction)
            .with_partition_size(PartitionSize::new(rows, cols, depth))
            .with_stage_size(StageSize::new(tiling.planes, 1, 1))
            .build()
            .map_err(|err| format!("tiling {what}: {err:?}"))?;
        // As cubek orders cubes for its inferred stages.
        let cube_count_strategy = match client.properties().hardware.num_streaming_multiprocessors {
            Some(num_sms) => CubeCountStrategy::Sm { num_sms, sm_usage: SmAllocation::Exact, cubes_first: true },
            None => CubeCountStrategy::FromProblem,
        };
        let hypercube = HypercubeBlueprint::builder().global_order(GlobalOrder::SwizzleRow(4)).cube_count_strategy(cube_count_strategy).build();
        let plane_dim = match client.properties().hardware.plane_size_max {
            0 => 32,
            size => size,
        };
        let buffering = if tiling.double { PartitionBuffering::Double } else { PartitionBuffering::Single };
        Ok(TilingBlueprint::builder(tile, scheme, plane_dim, &problem).partition_buffering(buffering).hypercube_blueprint(hypercube).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_say_why() {
        assert_eq!(GemmTiling::parse("auto"), Ok(None));
        assert_eq!(GemmTiling::parse(" AUTO "), Ok(None));
        let tiling = GemmTiling { m: 128, n: 128, k: 32, planes: 4, double: false };
        assert_eq!(GemmTiling::parse("128x128x32/4"), Ok(Some(tiling)));
        assert_eq!(tiling.name(), "128x128x32/4");
        let double = GemmTiling { double: true, ..tiling };
        assert_eq!(GemmTiling::parse(&double.name()), Ok(Some(double)));
        for (bad, why) in [
            ("128x128x32", "no /PLANES"),
            ("128x128/4", "three sizes"),
            ("96x128x32/4", "M \"96\""),
            ("128x128x32/0", "PLANES \"0\""),
            ("4x128x32/8", "at most M"),
            ("fast", "no /PLANES"),
        ] {
            let err = GemmTiling::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")) && err.contains(why), "{bad}: {err}");
        }
        assert_eq!(gemm_tiling(), None, "nothing in this test binary sets a tiling");
    }
}
