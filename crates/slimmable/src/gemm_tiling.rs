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
//! else to run. A [`GemmTiling`] names the stage instead, written `MxNxK/PLANES` (e.g.
//! `128x128x64/4`), with `+double` for double-buffered tile fragments; `n` is fitted to the
//! product's `n` as [`GemmColumns`] says (by default rounded up to a power of two).
//!
//! [`GemmStages::Default`] takes [`BF16_TILING`] for bf16 operands: on an H200 it halved the
//! conv kernels' time in the bench net's plain step (19.2 → 9.4 ms; docs/BENCHMARKS.md,
//! session 12). f32 (TF32) operands keep cubek's inferred stage: cubek 0.2 refuses every named
//! one there (it picks TF32 registers only for stages it infers), and such a launch then runs
//! the inferred stage, counted by [`gemm_tiling_misses`].

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

/// The stage of [`GemmStages::Default`] for bf16 operands: 128 × 128 × 64, four warps.
pub const BF16_TILING: GemmTiling = GemmTiling { m: 128, n: 128, k: 64, planes: 4, double: false };

impl GemmTiling {
    /// `MxNxK/PLANES`, with `+double` when [`GemmTiling::double`].
    pub fn name(self) -> String {
        let double = if self.double { "+double" } else { "" };
        format!("{}x{}x{}/{}{double}", self.m, self.n, self.k, self.planes)
    }

    /// The tiling named `MxNxK/PLANES[+double]`; the error says what is wrong with the name.
    pub fn parse(name: &str) -> Result<GemmTiling, String> {
        let name = name.trim();
        let bad = |why: &str| format!("GEMM tiling \"{name}\": {why}; expected MxNxK/PLANES[+double], e.g. 128x128x64/4");
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
        Ok(tiling)
    }
}

/// Which stages the implicit-GEMM kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmStages {
    /// [`BF16_TILING`] for bf16 operands, cubek's inferred stage for f32 ones.
    #[default]
    Default,
    /// cubek's inferred stage, whatever the operands.
    Inferred,
    /// This stage, whatever the operands.
    Fixed(GemmTiling),
}

impl GemmStages {
    /// `default`, `inferred`, or the tiling's name.
    pub fn name(self) -> String {
        match self {
            GemmStages::Default => "default".into(),
            GemmStages::Inferred => "inferred".into(),
            GemmStages::Fixed(tiling) => tiling.name(),
        }
    }

    /// The stages named `default`, `inferred` or `MxNxK/PLANES[+double]`.
    pub fn parse(name: &str) -> Result<GemmStages, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "default" => Ok(GemmStages::Default),
            "inferred" | "auto" => Ok(GemmStages::Inferred),
            _ => GemmTiling::parse(name)
                .map(GemmStages::Fixed)
                .map_err(|err| format!("{err}, or \"default\" or \"inferred\"")),
        }
    }

    /// The stage for operands of bf16 (`bf16`) or f32: `None` for cubek's inferred one.
    pub fn tiling(self, bf16: bool) -> Option<GemmTiling> {
        match self {
            GemmStages::Default => bf16.then_some(BF16_TILING),
            GemmStages::Inferred => None,
            GemmStages::Fixed(tiling) => Some(tiling),
        }
    }
}

static SELECTED: RwLock<GemmStages> = RwLock::new(GemmStages::Default);

/// Chooses the stages of every [`gemm_conv2d`](crate::gemm_conv2d) kernel in this process
/// (default [`GemmStages::Default`]).
pub fn set_gemm_stages(stages: GemmStages) {
    *SELECTED.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = stages;
}

/// The stages in use.
pub fn gemm_stages() -> GemmStages {
    *SELECTED.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a named stage's columns fit a product's `n` (a conv's output channels, or its input
/// channels for the input gradient), at most the stage's `n`: a slimmable network's widths make
/// channel counts between powers of two (40, 80, 152, 304 at width 7/12 of the 8-layer net).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmColumns {
    /// The product's `n` rounded up to a power of two (64 stage columns for 40 channels).
    #[default]
    PowerOfTwo,
    /// The product's `n` split evenly over the fewest stages that take it, each rounded up to a
    /// multiple of this many columns (and of the tile instruction's): 40 channels in one stage
    /// of 40 columns with `Multiple(8)`, of 48 with `Multiple(16)`. On an H200 multiples of 16
    /// made the bench net's passes 1.5 % faster summed over its widths and its steps no faster
    /// (multiples of 8: 120-column stages slower than 128; docs/BENCHMARKS.md, session 18).
    Multiple(u32),
}

impl GemmColumns {
    /// `pow2`, or the multiple.
    pub fn name(self) -> String {
        match self {
            GemmColumns::PowerOfTwo => "pow2".into(),
            GemmColumns::Multiple(step) => step.to_string(),
        }
    }

    /// `pow2`, or a multiple of columns (a power of two from 8 to 128); the error says what is
    /// accepted.
    pub fn parse(name: &str) -> Result<GemmColumns, String> {
        match name.trim() {
            "" | "pow2" => Ok(GemmColumns::PowerOfTwo),
            text => match text.parse::<u32>() {
                Ok(step) if step.is_power_of_two() && (8..=128).contains(&step) => Ok(GemmColumns::Multiple(step)),
                _ => Err(format!("GEMM stage columns \"{text}\": expected \"pow2\" or a multiple of columns, a power of two from 8 to 128")),
            },
        }
    }

    /// The columns of a stage of at most `most` columns for a product of `n`, with tiles `tn`
    /// columns wide.
    pub fn stage_columns(self, most: u32, n: u32, tn: u32) -> u32 {
        let tn = tn.max(1);
        match self {
            GemmColumns::PowerOfTwo => most.min(n.next_power_of_two().max(tn)),
            GemmColumns::Multiple(step) => {
                let step = step.div_ceil(tn) * tn;
                let most = (most / step).max(1) * step;
                let stages = n.div_ceil(most).max(1);
                n.div_ceil(stages).div_ceil(step).max(1) * step
            }
        }
    }
}

static COLUMNS: RwLock<GemmColumns> = RwLock::new(GemmColumns::PowerOfTwo);

/// Chooses how the named stages' columns fit each product in this process (default
/// [`GemmColumns::PowerOfTwo`]).
pub fn set_gemm_columns(columns: GemmColumns) {
    *COLUMNS.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = columns;
}

/// How the named stages' columns fit each product.
pub fn gemm_columns() -> GemmColumns {
    *COLUMNS.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static MISSES: AtomicUsize = AtomicUsize::new(0);
static FIRST_MISS: RwLock<Option<String>> = RwLock::new(None);

/// How many kernel launches in this process ran cubek's inferred stage because the one
/// [`gemm_stages`] named did not fit their product, and why the first one did not.
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
        let n = super::gemm_columns().stage_columns(tiling.n, product.n as u32, tn);
        let what = tiling.name();
        let divides = |size: u32, by: u32, axis: &str| match size.is_multiple_of(by) && size >= by {
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
        assert_eq!(GemmStages::parse("inferred"), Ok(GemmStages::Inferred));
        assert_eq!(GemmStages::parse(" AUTO "), Ok(GemmStages::Inferred));
        assert_eq!(GemmStages::parse("default"), Ok(GemmStages::Default));
        let tiling = GemmTiling { m: 128, n: 128, k: 32, planes: 4, double: false };
        assert_eq!(GemmStages::parse("128x128x32/4"), Ok(GemmStages::Fixed(tiling)));
        assert_eq!(tiling.name(), "128x128x32/4");
        let double = GemmTiling { double: true, ..tiling };
        assert_eq!(GemmTiling::parse(&double.name()), Ok(double));
        assert_eq!(GemmStages::parse(&BF16_TILING.name()), Ok(GemmStages::Fixed(BF16_TILING)));
        for (bad, why) in [
            ("128x128x32", "no /PLANES"),
            ("128x128/4", "three sizes"),
            ("96x128x32/4", "M \"96\""),
            ("128x128x32/0", "PLANES \"0\""),
            ("4x128x32/8", "at most M"),
            ("fast", "no /PLANES"),
        ] {
            let err = GemmStages::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")) && err.contains(why) && err.contains("inferred"), "{bad}: {err}");
        }
    }

    #[test]
    fn stage_columns_fit_the_product_as_named() {
        let pow2 = GemmColumns::PowerOfTwo;
        for (n, expected) in [(64, 64), (40, 64), (80, 128), (152, 128), (512, 128), (3, 8)] {
            assert_eq!(pow2.stage_columns(128, n, 8), expected, "pow2, {n} columns");
        }
        let eights = GemmColumns::Multiple(8);
        for (n, expected) in [(64, 64), (128, 128), (256, 128), (40, 40), (80, 80), (152, 80), (304, 104), (344, 120), (3, 8), (0, 8)] {
            assert_eq!(eights.stage_columns(128, n, 8), expected, "multiples of 8, {n} columns");
        }
        for (n, expected) in [(40, 48), (88, 96), (120, 128), (152, 80), (304, 112)] {
            assert_eq!(GemmColumns::Multiple(16).stage_columns(128, n, 8), expected, "multiples of 16, {n} columns");
        }
        assert_eq!(GemmColumns::Multiple(8).stage_columns(128, 40, 16), 48, "whole 16-wide tiles");
        for n in 1..600 {
            for step in [8, 16, 32] {
                let columns = GemmColumns::Multiple(step).stage_columns(128, n, 8);
                let stages = n.div_ceil(columns);
                assert!(columns.is_multiple_of(step) && columns <= 128 && stages == n.div_ceil(128).max(1) && stages * columns < n + step * stages, "{n} by {step}: {columns}");
            }
        }
        assert_eq!(GemmColumns::parse("pow2"), Ok(GemmColumns::PowerOfTwo));
        assert_eq!(GemmColumns::parse(" 16 "), Ok(GemmColumns::Multiple(16)));
        assert_eq!(GemmColumns::parse(&GemmColumns::Multiple(32).name()), Ok(GemmColumns::Multiple(32)));
        for bad in ["12", "4", "256", "fit", "-8"] {
            let err = GemmColumns::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")) && err.contains("pow2"), "{bad}: {err}");
        }
        assert_eq!(gemm_columns(), GemmColumns::PowerOfTwo, "nothing in this test binary changes the columns off CUDA");
    }

    #[test]
    fn the_default_names_a_stage_for_bf16_only() {
        assert_eq!(GemmStages::default(), GemmStages::Default);
        assert_eq!(GemmStages::Default.tiling(true), Some(BF16_TILING));
        assert_eq!(GemmStages::Default.tiling(false), None);
        assert_eq!(GemmStages::Inferred.tiling(true), None);
        let tiling = GemmTiling { m: 64, n: 64, k: 32, planes: 2, double: true };
        assert_eq!(GemmStages::Fixed(tiling).tiling(false), Some(tiling));
        assert_eq!(gemm_stages(), GemmStages::Default, "nothing in this test binary changes the stages off CUDA");
    }
}
