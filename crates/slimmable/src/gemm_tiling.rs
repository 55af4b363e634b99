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
//! product's `n` as [`GemmColumns`] says (by default rounded up to a power of two). The warps
//! can also be split over the columns (`/2x2`), the tile instruction named (`@16x16x16`), and
//! the stages swizzled in shared memory for the `mma` tile (`+swizzle`), as cubek swizzles its
//! own inferred `mma` stages.
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
    /// Warps per cube along the rows.
    pub planes: u32,
    /// Warps per cube along the columns (1: every warp computes whole rows of the stage).
    pub column_planes: u32,
    /// The tensor cores' tile instruction `[m, n, k]`, or `None` for the one cubek would pick
    /// (32 × 8 × 16 for these long, narrow products).
    pub instruction: Option<[u32; 3]>,
    /// Double-buffered tile fragments in each warp.
    pub double: bool,
    /// Both operands' stages swizzled in shared memory (as cubek does for the `mma` tile's
    /// inferred stages), so that a warp's tile reads spread over the memory banks. `mma` only.
    pub swizzle: bool,
}

/// The stage of [`GemmStages::Default`] for bf16 operands: 128 × 128 × 64, four warps.
pub const BF16_TILING: GemmTiling = GemmTiling::new(128, 128, 64, 4);

impl GemmTiling {
    /// An `m × n × k` stage with `planes` warps along the rows, cubek's tile instruction,
    /// single-buffered and not swizzled.
    pub const fn new(m: u32, n: u32, k: u32, planes: u32) -> GemmTiling {
        GemmTiling { m, n, k, planes, column_planes: 1, instruction: None, double: false, swizzle: false }
    }

    /// `MxNxK/PLANES` (or `/ROWSxCOLUMNS` warps), then `@TMxTNxTK` for a named tile
    /// instruction, `+double` and `+swizzle` where set.
    pub fn name(self) -> String {
        let mut name = format!("{}x{}x{}/{}", self.m, self.n, self.k, self.planes);
        if self.column_planes != 1 {
            name += &format!("x{}", self.column_planes);
        }
        if let Some([m, n, k]) = self.instruction {
            name += &format!("@{m}x{n}x{k}");
        }
        if self.double {
            name += "+double";
        }
        if self.swizzle {
            name += "+swizzle";
        }
        name
    }

    /// The tiling named as [`GemmTiling::name`] writes it; the error says what is wrong.
    pub fn parse(name: &str) -> Result<GemmTiling, String> {
        let name = name.trim();
        let bad = |why: &str| {
            format!("GEMM tiling \"{name}\": {why}; expected MxNxK/PLANES[xCOLUMN_PLANES][@TMxTNxTK][+double][+swizzle], e.g. 128x128x64/4")
        };
        let mut parts = name.split('+');
        let shape = parts.next().unwrap_or_default();
        let (mut double, mut swizzle) = (false, false);
        for flag in parts {
            match flag.trim() {
                "double" => double = true,
                "swizzle" => swizzle = true,
                other => return Err(bad(&format!("unknown option \"+{other}\""))),
            }
        }
        let (shape, instruction) = match shape.split_once('@') {
            Some((shape, tile)) => (shape, Some(tile)),
            None => (shape, None),
        };
        let (sizes, planes) = shape.split_once('/').ok_or_else(|| bad("no /PLANES"))?;
        let number = |text: &str, what: &str| -> Result<u32, String> {
            match text.trim().parse::<u32>() {
                Ok(value) if value > 0 && value.is_power_of_two() => Ok(value),
                _ => Err(bad(&format!("{what} \"{text}\" is not a positive power of two"))),
            }
        };
        let three = |text: &str, what: &str| -> Result<[u32; 3], String> {
            let sizes: Vec<&str> = text.split('x').collect();
            match sizes[..] {
                [m, n, k] => Ok([number(m, "M")?, number(n, "N")?, number(k, "K")?]),
                _ => Err(bad(&format!("the {what} needs three sizes, MxNxK"))),
            }
        };
        let [m, n, k] = three(sizes, "stage")?;
        let (planes, column_planes) = match planes.split_once('x') {
            Some((rows, columns)) => (number(rows, "PLANES")?, number(columns, "COLUMN_PLANES")?),
            None => (number(planes, "PLANES")?, 1),
        };
        let instruction = instruction.map(|tile| three(tile, "tile instruction")).transpose()?;
        let tiling = GemmTiling { m, n, k, planes, column_planes, instruction, double, swizzle };
        if tiling.planes * tiling.column_planes > 32 || tiling.m < tiling.planes || tiling.n < tiling.column_planes {
            return Err(bad("at most 32 warps, PLANES at most M and COLUMN_PLANES at most N"));
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

    /// The stages named `default`, `inferred` or as [`GemmTiling::name`] writes a tiling.
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

/// Which bounds checks the named and fitted stages compile in. cubek compiles a check on the
/// rows, the columns and the depth only where the product's size is not a multiple of the
/// stage's, so one stage shape makes up to eight kernels, each compiled (NVRTC, then the CUDA
/// driver) the first time a product needs it: about 1.1 s each for the bf16 kernels on an H200,
/// and the 8-layer bench net's first sandwich step compiled 51 of them, 28 with every check on
/// (docs/BENCHMARKS.md, session 22). cubek's inferred stages (f32 operands) keep its choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GemmChecks {
    /// A check only where the product needs it (cubek's choice).
    #[default]
    AsNeeded,
    /// Every check where the product needs any, none where it needs none: two kernels per
    /// stage shape, and the products that fit their stages (a full-width net's, with channel
    /// counts that are powers of two) run as fast as with [`GemmChecks::AsNeeded`]. On an H200:
    /// the bench net's first sandwich step 59 s on an empty cache (71 s with `AsNeeded`), its
    /// passes summed over the widths 1.5 % slower.
    AllOrNone,
    /// Every check, whatever the product: one kernel per stage shape. On an H200: the bench
    /// net's first sandwich step 41 s on an empty cache, its passes summed over the widths 2.8 %
    /// slower (5 % at full width).
    Always,
    /// Every check along the sizes that change with the width (a conv's columns and depth, the
    /// channels; a weight-gradient product's rows and columns), the others as the product needs
    /// (a conv's rows, the positions; a weight-gradient product's depth): as few kernels as
    /// [`GemmChecks::Always`] for a run's widths, without the checks that never vary with them.
    /// On an H200: the bench net's passes summed over the widths 0.6 % slower than with
    /// [`GemmChecks::AsNeeded`] (2.5 % at full width), where `Always` took 3.0 % (session 23).
    Channels,
}

impl GemmChecks {
    /// `needed`, `all-or-none`, `always` or `channels`.
    pub fn name(self) -> &'static str {
        match self {
            GemmChecks::AsNeeded => "needed",
            GemmChecks::AllOrNone => "all-or-none",
            GemmChecks::Always => "always",
            GemmChecks::Channels => "channels",
        }
    }

    /// `needed`, `all-or-none`, `always` or `channels`; the error says what is accepted.
    pub fn parse(name: &str) -> Result<GemmChecks, String> {
        match name.trim() {
            "" | "needed" => Ok(GemmChecks::AsNeeded),
            "all-or-none" => Ok(GemmChecks::AllOrNone),
            "always" => Ok(GemmChecks::Always),
            "channels" => Ok(GemmChecks::Channels),
            other => Err(format!("GEMM bounds checks \"{other}\": expected \"needed\", \"all-or-none\", \"always\" or \"channels\"")),
        }
    }

    /// The checks `[m, n, k]` a stage compiles in, for the checks its product needs; `channel`
    /// says which of the product's sizes are channel counts (or multiples of one).
    pub fn applied(self, needed: [bool; 3], channel: [bool; 3]) -> [bool; 3] {
        match self {
            GemmChecks::AsNeeded => needed,
            GemmChecks::AllOrNone => [needed.contains(&true); 3],
            GemmChecks::Always => [true; 3],
            GemmChecks::Channels => [0, 1, 2].map(|axis| needed[axis] || channel[axis]),
        }
    }
}

static CHECKS: RwLock<GemmChecks> = RwLock::new(GemmChecks::AsNeeded);

/// Chooses the bounds checks of the named and fitted stages in this process (default
/// [`GemmChecks::AsNeeded`]).
pub fn set_gemm_checks(checks: GemmChecks) {
    *CHECKS.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = checks;
}

/// The bounds checks of the named and fitted stages.
pub fn gemm_checks() -> GemmChecks {
    *CHECKS.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static MISSES: AtomicUsize = AtomicUsize::new(0);
static FIRST_MISS: RwLock<Option<String>> = RwLock::new(None);

/// How many kernel launches in this process ran cubek's inferred stage because the one
/// [`gemm_stages`] named (or, for the weight gradient's products, the fitted one of
/// [`WgradStages::Fitted`](crate::WgradStages)) did not fit their product, and why the first
/// one did not.
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
    use cubecl::ir::StorageType;
    use cubek::matmul::routines::{find_instruction_size, select_swizzle};
    use cubek::std::MatrixLayout;
    use cubek::std::cube_count::{CubeCountStrategy, GlobalOrder, HypercubeBlueprint, SmAllocation};
    use cubek::std::{PartitionSize, StageSize, SwizzleModes, TileSize};

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
        let (problem, dtypes, instruction) = problem_and_instruction(client, tile, product, dtypes, tiling.instruction)?;
        let (tm, tn, tk) = (instruction.m(), instruction.n(), instruction.k());
        let n = super::gemm_columns().stage_columns(tiling.n, product.n as u32, tn * tiling.column_planes);
        let what = tiling.name();
        let divides = |size: u32, by: u32, axis: &str| match size.is_multiple_of(by) && size >= by {
            true => Ok(size / by),
            false => Err(format!("tiling {what}: {axis} {size} is not a multiple of {by}")),
        };
        let rows = divides(tiling.m, tiling.planes * tm, "rows per stage")?;
        let cols = divides(n, tiling.column_planes * tn, "columns per stage")?;
        let depth = divides(tiling.k, tk, "depth per stage")?;
        let scheme = TilingScheme::builder()
            .with_tile_size(instruction)
            .with_partition_size(PartitionSize::new(rows, cols, depth))
            .with_stage_size(StageSize::new(tiling.planes, tiling.column_planes, 1))
            .build()
            .map_err(|err| format!("tiling {what}: {err:?}"))?;
        finish(client, tile, scheme, &problem, &dtypes, Finish { depth: tiling.k, swizzle: tiling.swizzle, double: tiling.double, channel: [false, true, true] }, &what)
    }

    /// The most output rows or columns of a fitted product stage (as the named default's).
    const FITTED_MOST: u32 = 128;
    /// A fitted product stage's rows and columns are multiples of this: at most four sizes
    /// along each axis, so that a sandwich step's random widths meet at most 16 stages (fitted
    /// to whole tiles, the bench net's widths met 87, each a kernel compiled when first met:
    /// its sandwich steps took 4–6 s throughout session 20's call 3).
    const FITTED_STEP: u32 = 32;
    /// The most tensor-core tiles one warp of a fitted stage accumulates (4 registers each).
    const FITTED_TILES_PER_WARP: u32 = 32;

    /// A stage fitted to `product`, for the weight gradient's batched products, whose `m` and
    /// `n` are channel counts such as 152 or 9 × 40 ([`fitted_stage`]: 152 × 152 in four stages
    /// of 96 × 96, where cubek infers six of 128 rows and 64 columns, 2.1 times its area), 64
    /// deep.
    pub(crate) fn fitted_product_blueprint<R: Runtime>(client: &ComputeClient<R>, tile: TileMatmulKind, product: &Product, dtypes: &MatmulElems) -> Result<TilingBlueprint, String> {
        let (problem, dtypes, instruction) = problem_and_instruction(client, tile, product, dtypes, None)?;
        let (tm, tn, tk) = (instruction.m(), instruction.n(), instruction.k());
        let what = format!("fitted stage for {} x {} of {tm}x{tn}x{tk} tiles", product.m, product.n);
        let ([row_tiles, col_tiles], [planes, column_planes]) = fitted_stage([product.m, product.n], [tm, tn]).ok_or_else(|| format!("{what}: no split over at most four warps keeps each within {FITTED_TILES_PER_WARP} tiles"))?;
        let depth = (64 / tk).max(1);
        let scheme = TilingScheme::builder()
            .with_tile_size(instruction)
            .with_partition_size(PartitionSize::new(row_tiles / planes, col_tiles / column_planes, depth))
            .with_stage_size(StageSize::new(planes, column_planes, 1))
            .build()
            .map_err(|err| format!("{what}: {err:?}"))?;
        finish(client, tile, scheme, &problem, &dtypes, Finish { depth: depth * tk, swizzle: false, double: false, channel: [true, true, false] }, &what)
    }

    /// A stage for a product of `sizes` (`[m, n]`) with tiles `tile` (`[tm, tn]`): its tiles
    /// along each axis and its warps along each. Each axis splits evenly over the fewest stages
    /// of at most [`FITTED_MOST`], rounded up to a multiple of [`FITTED_STEP`], or further to an
    /// even count of tiles or a multiple of four so that warps divide them; of those, the one
    /// with the least padded area whose warps (up to four, each within
    /// [`FITTED_TILES_PER_WARP`] tiles) divide it, the most warps first.
    pub(crate) fn fitted_stage(sizes: [usize; 2], tile: [u32; 2]) -> Option<([u32; 2], [u32; 2])> {
        let axis = |a: usize| {
            let size = sizes[a].max(1) as u32;
            let stages = size.div_ceil(FITTED_MOST);
            let step = (FITTED_STEP / tile[a]).max(1);
            let tiles = size.div_ceil(stages).div_ceil(tile[a] * step).max(1) * step;
            (stages * tile[a], [tiles, tiles.div_ceil(2) * 2, tiles.div_ceil(4) * 4].map(|t| t.min(FITTED_MOST / tile[a]).max(tiles)))
        };
        let ((row_unit, rows), (col_unit, cols)) = (axis(0), axis(1));
        let mut best: Option<(u32, u32, [u32; 2], [u32; 2])> = None;
        for r in rows {
            for c in cols {
                let Some([p, q]) = [[4, 1], [2, 2], [1, 4], [2, 1], [1, 2], [1, 1]]
                    .into_iter()
                    .find(|[p, q]| r.is_multiple_of(*p) && c.is_multiple_of(*q) && (r / p) * (c / q) <= FITTED_TILES_PER_WARP)
                else {
                    continue;
                };
                let (area, warps) = (r * row_unit * c * col_unit, p * q);
                if best.is_none_or(|(a, w, _, _)| (area, std::cmp::Reverse(warps)) < (a, std::cmp::Reverse(w))) {
                    best = Some((area, warps, [r, c], [p, q]));
                }
            }
        }
        best.map(|(_, _, tiles, warps)| (tiles, warps))
    }

    /// cubek's problem for `product`, the operand formats the tile takes, and the tile
    /// instruction (`forced` where named, else cubek's choice).
    fn problem_and_instruction<R: Runtime>(
        client: &ComputeClient<R>,
        tile: TileMatmulKind,
        product: &Product,
        dtypes: &MatmulElems,
        forced: Option<[u32; 3]>,
    ) -> Result<(MatmulProblem, MatmulElems, TileSize), String> {
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
        let forced = forced.map_or((None, None, None), |[m, n, k]| (Some(m), Some(n), Some(k)));
        let instruction = find_instruction_size(
            client,
            registers,
            (product.m, product.n, product.k).into(),
            forced,
            |c, cfg| tile.is_supported(c, cfg),
            |c, l, r, a| tile.supported_sizes(c, l, r, a),
        )
        .map_err(|err| format!("no tile instruction: {err:?}"))?;
        Ok((problem, dtypes, instruction))
    }

    /// What a stage's blueprint takes beside its scheme: its depth, and whether its stages are
    /// swizzled and its tile fragments double-buffered.
    struct Finish {
        depth: u32,
        swizzle: bool,
        double: bool,
        /// Which of `[m, n, k]` are channel counts ([`super::GemmChecks::applied`]).
        channel: [bool; 3],
    }

    /// The blueprint of `scheme`, its cubes ordered as cubek orders them for its inferred
    /// stages; `what` names the stage in errors.
    fn finish<R: Runtime>(client: &ComputeClient<R>, tile: TileMatmulKind, scheme: TilingScheme, problem: &MatmulProblem, dtypes: &MatmulElems, options: Finish, what: &str) -> Result<TilingBlueprint, String> {
        // As cubek's conv kernels swizzle their inferred stages: by the stage's depth, for
        // operands read 16 bytes at a time.
        let swizzle = match options.swizzle {
            false => None,
            true if tile != TileMatmulKind::Mma => return Err(format!("tiling {what}: swizzled stages need the mma tile")),
            true => {
                let depth = options.depth as usize;
                let mode = |elem: StorageType| select_swizzle(depth, elem, (16 / elem.size()).max(1));
                Some(SwizzleModes { lhs: mode(dtypes.lhs_stage), rhs: mode(dtypes.rhs_stage), ..Default::default() })
            }
        };
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
        let buffering = if options.double { PartitionBuffering::Double } else { PartitionBuffering::Single };
        let mut builder = TilingBlueprint::builder(tile, scheme, plane_dim, problem).partition_buffering(buffering).hypercube_blueprint(hypercube);
        if let Some(modes) = swizzle {
            builder = builder.shared_swizzle(modes);
        }
        let mut blueprint = builder.build();
        let needed = [blueprint.check_m_bounds, blueprint.check_n_bounds, blueprint.check_k_bounds];
        [blueprint.check_m_bounds, blueprint.check_n_bounds, blueprint.check_k_bounds] = super::gemm_checks().applied(needed, options.channel);
        Ok(blueprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fitted product stages for the bench net's channel counts, with the `mma` tile's 16 × 8
    /// (rows × columns): little padding, and warps that divide the stage.
    #[cfg(feature = "cube")]
    #[test]
    fn fitted_stages_pad_little_and_split_over_warps() {
        use super::blueprint::fitted_stage;
        let tile = [16, 8];
        // 152 × 152 (width 7/12): four stages of 96 × 96 (cubek infers six of 128 × 64).
        assert_eq!(fitted_stage([152, 152], tile), Some(([6, 12], [2, 2])));
        // 304 × 304: 3 × 3 stages of 128 × 128, four warps along the rows.
        assert_eq!(fitted_stage([304, 304], tile), Some(([8, 16], [4, 1])));
        // Powers of two keep 128 × 128 stages; a narrow product one small stage.
        assert_eq!(fitted_stage([512, 4608], tile), Some(([8, 16], [4, 1])));
        assert_eq!(fitted_stage([16, 16], tile), Some(([2, 4], [2, 2])));
        let mut stages = std::collections::BTreeSet::new();
        for m in (16..=520).step_by(8) {
            for n in [8, 40, 88, 152, 216, 304, 360, 1368, 2736] {
                let ([r, c], [p, q]) = fitted_stage([m, n], tile).unwrap_or_else(|| panic!("no stage for {m} x {n}"));
                assert!(r * 16 <= 128 && c * 8 <= 128 && (r * 16) % 32 == 0 && (c * 8) % 32 == 0, "{m} x {n}: a stage of {r} x {c} tiles");
                stages.insert([r, c]);
                assert!(r % p == 0 && c % q == 0 && p * q <= 4 && (r / p) * (c / q) <= 32, "{m} x {n}: warps {p} x {q} for {r} x {c} tiles");
                let padded = |size: usize, tiles: u32, unit: u32| size.div_ceil((tiles * unit) as usize) * (tiles * unit) as usize;
                let waste = (padded(m, r, 16) * padded(n, c, 8)) as f64 / (m * n) as f64;
                // Stages of multiples of 32: 40 × 40 in 64 × 64 at worst, 2.56 times.
                assert!(m < 32 || n < 32 || (waste <= 2.56 && (waste < 2.0 || m < 72 || n < 72)), "{m} x {n}: {waste:.2} times the product's area");
            }
        }
        assert!(stages.len() <= 16, "{} stage shapes: {stages:?}", stages.len());
    }

    #[test]
    fn each_choice_compiles_in_the_checks_it_names() {
        let (none, m_only, k_only) = ([false; 3], [true, false, false], [false, false, true]);
        // A conv's columns and depth are channels; a weight-gradient product's rows and columns.
        let (conv, wgrad) = ([false, true, true], [true, true, false]);
        for channel in [conv, wgrad] {
            assert_eq!(GemmChecks::AsNeeded.applied(k_only, channel), k_only);
            assert_eq!(GemmChecks::AllOrNone.applied(k_only, channel), [true; 3]);
            assert_eq!(GemmChecks::AllOrNone.applied(none, channel), none);
            assert_eq!(GemmChecks::Always.applied(none, channel), [true; 3]);
        }
        assert_eq!(GemmChecks::Channels.applied(none, conv), conv);
        assert_eq!(GemmChecks::Channels.applied(m_only, conv), [true; 3]);
        assert_eq!(GemmChecks::Channels.applied(none, wgrad), wgrad);
        assert_eq!(GemmChecks::Channels.applied(k_only, wgrad), [true; 3]);
    }

    #[test]
    fn check_names_round_trip_and_bad_ones_say_why() {
        for checks in [GemmChecks::AsNeeded, GemmChecks::AllOrNone, GemmChecks::Always, GemmChecks::Channels] {
            assert_eq!(GemmChecks::parse(checks.name()), Ok(checks));
        }
        assert_eq!(GemmChecks::parse(" "), Ok(GemmChecks::AsNeeded));
        let err = GemmChecks::parse("sometimes").unwrap_err();
        assert!(err.contains("\"sometimes\"") && err.contains("\"always\""), "{err}");
    }

    #[test]
    fn names_round_trip_and_bad_ones_say_why() {
        assert_eq!(GemmStages::parse("inferred"), Ok(GemmStages::Inferred));
        assert_eq!(GemmStages::parse(" AUTO "), Ok(GemmStages::Inferred));
        assert_eq!(GemmStages::parse("default"), Ok(GemmStages::Default));
        let tiling = GemmTiling::new(128, 128, 32, 4);
        assert_eq!(GemmStages::parse("128x128x32/4"), Ok(GemmStages::Fixed(tiling)));
        assert_eq!(tiling.name(), "128x128x32/4");
        let double = GemmTiling { double: true, ..tiling };
        assert_eq!(GemmTiling::parse(&double.name()), Ok(double));
        assert_eq!(GemmStages::parse(&BF16_TILING.name()), Ok(GemmStages::Fixed(BF16_TILING)));
        let every = GemmTiling { column_planes: 2, instruction: Some([16, 16, 16]), double: true, swizzle: true, ..GemmTiling::new(128, 128, 64, 2) };
        assert_eq!(every.name(), "128x128x64/2x2@16x16x16+double+swizzle");
        assert_eq!(GemmTiling::parse(&every.name()), Ok(every));
        assert_eq!(GemmTiling::parse("128x128x64/4+swizzle+double"), Ok(GemmTiling { double: true, swizzle: true, ..BF16_TILING }));
        for (bad, why) in [
            ("128x128x64/4+fast", "unknown option \"+fast\""),
            ("128x128x64/4@16x16", "tile instruction needs three sizes"),
            ("128x128x64/2x3", "COLUMN_PLANES \"3\""),
            ("128x128x64/8x8", "at most 32 warps"),
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
        let _settings = crate::test_support::using_settings();
        assert_eq!(GemmStages::default(), GemmStages::Default);
        assert_eq!(GemmStages::Default.tiling(true), Some(BF16_TILING));
        assert_eq!(GemmStages::Default.tiling(false), None);
        assert_eq!(GemmStages::Inferred.tiling(true), None);
        let tiling = GemmTiling { double: true, ..GemmTiling::new(64, 64, 32, 2) };
        assert_eq!(GemmStages::Fixed(tiling).tiling(false), Some(tiling));
        assert_eq!(gemm_stages(), GemmStages::Default, "nothing in this test binary changes the stages off CUDA");
    }
}
