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
//! product's `n` ([`fitted_columns`]).
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
    use cubek::std::{PartitionSize, StageSize, TileSize};

    use super::{GemmTiling, fitted_columns, fitted_tiling};

    /// The product a conv kernel computes: `m × n` over `k`, and its operands' layouts.
    pub(crate) struct Product {
        pub m: usize,
        pub n: usize,
        pub k: usize,
        pub lhs: MatrixLayout,
        pub rhs: MatrixLayout,
    }

    /// [`fitted_tiling`]'s stage for `product` as a blueprint ([`blueprint`]), with the tile
    /// instruction cubek would pick; `None` where cubek's inferred stage pads it about as little.
    pub(crate) fn fitted_blueprint<R: Runtime>(
        client: &ComputeClient<R>,
        tile: TileMatmulKind,
        product: &Product,
        dtypes: &MatmulElems,
    ) -> Result<Option<TilingBlueprint>, String> {
        let instruction = instruction(client, tile, product, dtypes)?;
        match fitted_tiling(product.m as u32, product.n as u32, (instruction.m(), instruction.n(), instruction.k())) {
            Some(tiling) => blueprint(tiling, client, tile, product, dtypes).map(Some),
            None => Ok(None),
        }
    }

    /// The tile instruction cubek picks for `product` with `tile`.
    fn instruction<R: Runtime>(client: &ComputeClient<R>, tile: TileMatmulKind, product: &Product, dtypes: &MatmulElems) -> Result<TileSize, String> {
        let mut dtypes = dtypes.clone();
        adjust_dtypes(client, &mut dtypes, tile.requires_accelerator());
        let registers = (dtypes.lhs_register, dtypes.rhs_register, dtypes.acc_register);
        find_instruction_size(
            client,
            registers,
            (product.m, product.n, product.k).into(),
            (None, None, None),
            |c, cfg| tile.is_supported(c, cfg),
            |c, l, r, a| tile.supported_sizes(c, l, r, a),
        )
        .map_err(|err| format!("no tile instruction: {err:?}"))
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
        let instruction = instruction(client, tile, product, &dtypes)?;
        let (tm, tn, tk) = (instruction.m(), instruction.n(), instruction.k());
        let n = fitted_columns(tiling.n, product.n as u32, tn);
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

/// The columns per stage for a product of `n` columns: at most `most` (when that is a multiple
/// of the tile's `tn`), the product's columns split evenly over the fewest stages that take
/// them, rounded up to a multiple of `tn`. A power of two instead (64 stage columns for 40
/// channels, 128 for 80) left up to 40 % of every tensor-core tile multiplying zeros at the
/// widths between powers of two: the GEMM kernels took 1.9× as long at width 7/12 of the
/// 8-layer net (40–304 channels) as at 6/12 (32–256) for 1.36× the arithmetic
/// (docs/BENCHMARKS.md, session 18).
pub(crate) fn fitted_columns(most: u32, n: u32, tn: u32) -> u32 {
    let tn = tn.max(1);
    let most = (most / tn).max(1) * tn;
    let stages = n.div_ceil(most).max(1);
    (n.div_ceil(stages).div_ceil(tn) * tn).max(tn)
}

/// Warps per stage of a [`fitted_tiling`], at most.
const MAX_FITTED_PLANES: u32 = 8;

/// A stage fitted to an `m × n` product with the tile instruction `(tm, tn, tk)`: one warp per
/// `tm` rows, at most [`MAX_FITTED_PLANES`] a stage (the rows split evenly over the fewest
/// stages that take them), the columns as [`fitted_columns`], two tiles deep (as cubek's own).
/// `None` where cubek's inferred stage pads the product at most about as much: for 16×16 tiles
/// and bf16 operands cubek 0.2 stages 64 × 64 when either side is at most 64, else 128 × 128
/// (on a GPU of 1 024 threads per cube), and whole tiles for products of at most two tiles a
/// side. The weight gradient's products, `c_out × c_in` over a long `k`, run at every width of
/// a slimmable network: 40 × 40 channels padded to 64 × 64 multiply 61 % zeros.
pub(crate) fn fitted_tiling(m: u32, n: u32, (tm, tn, tk): (u32, u32, u32)) -> Option<GemmTiling> {
    if (tm, tn) != (16, 16) || (m <= 2 * tm && n <= 2 * tn) {
        return None;
    }
    let side = if m <= 64 || n <= 64 { 64 } else { 128 };
    let padded = |size: u32, stage: u32| size.div_ceil(stage) * stage;
    let tiles = m.div_ceil(tm);
    let planes = tiles.div_ceil(tiles.div_ceil(MAX_FITTED_PLANES));
    let tiling = GemmTiling { m: planes * tm, n: fitted_columns(128, n, tn), k: 2 * tk, planes, double: false };
    let (fitted, inferred) = (padded(m, tiling.m) * padded(n, tiling.n), padded(m, side) * padded(n, side));
    (fitted * 100 < inferred * 85).then_some(tiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_stages_only_where_cubeks_pad_more() {
        let tile = (16, 16, 16);
        let stage = |m: u32, n: u32, planes: u32| Some(GemmTiling { m, n, k: 32, planes, double: false });
        assert_eq!(fitted_tiling(40, 40, tile), stage(48, 40, 3));
        assert_eq!(fitted_tiling(80, 80, tile), stage(80, 80, 5));
        assert_eq!(fitted_tiling(152, 152, tile), stage(80, 80, 5), "two stages each way");
        assert_eq!(fitted_tiling(304, 40, tile), stage(112, 40, 7), "three stages of rows");
        assert_eq!(fitted_tiling(48, 24, tile), stage(48, 24, 3));
        for (m, n) in [(64, 64), (128, 128), (512, 512), (64, 256), (32, 32), (16, 24), (512, 504)] {
            assert_eq!(fitted_tiling(m, n, tile), None, "{m} × {n}: cubek's own stage");
        }
        assert_eq!(fitted_tiling(40, 40, (32, 8, 16)), None, "other tiles: cubek's own stage");
    }

    #[test]
    fn stage_columns_fit_the_product() {
        // Powers of two as before; the channel counts between them with no tile of zeros.
        for (n, expected) in [(64, 64), (128, 128), (256, 128), (512, 128), (40, 40), (80, 80), (152, 80), (304, 104), (344, 120), (3, 8), (0, 8)] {
            assert_eq!(fitted_columns(128, n, 8), expected, "{n} columns");
        }
        assert_eq!(fitted_columns(128, 40, 16), 48, "a 16-wide tile");
        assert_eq!(fitted_columns(4, 40, 8), 8, "at least a tile");
        for n in 1..600 {
            let columns = fitted_columns(128, n, 8);
            assert!(columns % 8 == 0 && columns <= 128 && n.div_ceil(columns) * columns < n + 8 * n.div_ceil(128), "{n}: {columns}");
        }
    }

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
