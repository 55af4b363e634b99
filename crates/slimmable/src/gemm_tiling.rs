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
//! `128x128x64/4`), with `+double` for double-buffered tile fragments; `n` is capped at the
//! product's `n` rounded up to a power of two. With `+fit` the stage's columns and depth are
//! halved (at most twice and once) where that pads the product less: a slimmed layer's channel
//! counts are rarely powers of two (conv8 at 7/12 has 152 and 304 output channels, which
//! 128-column stages pad to 256 and 384), see [`GemmTiling::fitted`].
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
    /// Narrower columns or a shallower depth for each product where they pad it less
    /// ([`GemmTiling::fitted`]).
    pub fit: bool,
}

/// The stage of [`GemmStages::Default`] for bf16 operands: 128 × 128 × 64, four warps.
pub const BF16_TILING: GemmTiling = GemmTiling { m: 128, n: 128, k: 64, planes: 4, double: false, fit: false };

impl GemmTiling {
    /// `MxNxK/PLANES`, with `+double` when [`GemmTiling::double`] and `+fit` when
    /// [`GemmTiling::fit`].
    pub fn name(self) -> String {
        let double = if self.double { "+double" } else { "" };
        let fit = if self.fit { "+fit" } else { "" };
        format!("{}x{}x{}/{}{double}{fit}", self.m, self.n, self.k, self.planes)
    }

    /// The tiling named `MxNxK/PLANES[+double][+fit]`; the error says what is wrong with the name.
    pub fn parse(name: &str) -> Result<GemmTiling, String> {
        let name = name.trim();
        let bad = |why: &str| format!("GEMM tiling \"{name}\": {why}; expected MxNxK/PLANES[+double][+fit], e.g. 128x128x64/4");
        let (shape, fit) = match name.strip_suffix("+fit") {
            Some(shape) => (shape, true),
            None => (name, false),
        };
        let (shape, double) = match shape.strip_suffix("+double") {
            Some(shape) => (shape, true),
            None => (shape, false),
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
        let tiling = GemmTiling { m: number(m, "M")?, n: number(n, "N")?, k: number(k, "K")?, planes: number(planes, "PLANES")?, double, fit };
        if tiling.planes > 32 || tiling.m < tiling.planes {
            return Err(bad("PLANES must be at most 32 and at most M"));
        }
        Ok(tiling)
    }

    /// The stage's columns and depth for a product of `n` columns over `k`, given the tile
    /// instruction's `tn × tk`: `n` capped at `n`'s next power of two, and with
    /// [`GemmTiling::fit`] the columns halved up to twice and the depth once where the product
    /// is padded less. Each halving is charged 10 % (a narrower stage reloads the rows' operand
    /// for more cubes, a shallower one synchronises more often), so it is taken only for a
    /// real saving: 152 columns take 32-column stages (160 computed, not 256), 304 take 64
    /// (320, not 384), 512 keep 128.
    pub fn fitted(self, n: usize, k: usize, tn: u32, tk: u32) -> (u32, u32) {
        let cap = self.n.min((n as u32).next_power_of_two().max(tn));
        if !self.fit {
            return (cap, self.k);
        }
        // The candidate (of `size` halved 0..=halvings times, none below `least`) that
        // computes the fewest padded values, each halving charged 10 %.
        let best = |size: u32, halvings: u32, least: u32, extent: usize| {
            (0..=halvings)
                .map(|h| size >> h)
                .filter(|&candidate| candidate >= least && candidate > 0)
                .min_by_key(|&candidate| {
                    let halved = (size / candidate).trailing_zeros() as usize;
                    extent.div_ceil(candidate as usize) * candidate as usize * (10 + halved)
                })
                .unwrap_or(size)
        };
        // Columns: none narrower than 32 (unless the cap already is), where a warp's share of
        // the tile instructions gets too small to hide its loads.
        (best(cap, 2, tn.max(cap.min(32)), n), best(self.k, 1, tk, k))
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
        let (n, k) = tiling.fitted(product.n, product.k, tn, tk);
        let what = tiling.name();
        let divides = |size: u32, by: u32, axis: &str| match size % by == 0 && size >= by {
            true => Ok(size / by),
            false => Err(format!("tiling {what}: {axis} {size} is not a multiple of {by}")),
        };
        let rows = divides(tiling.m, tiling.planes * tm, "rows per stage")?;
        let cols = divides(n, tn, "columns per stage")?;
        let depth = divides(k, tk, "depth per stage")?;
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
        let tiling = GemmTiling { m: 128, n: 128, k: 32, planes: 4, double: false, fit: false };
        assert_eq!(GemmStages::parse("128x128x32/4"), Ok(GemmStages::Fixed(tiling)));
        assert_eq!(tiling.name(), "128x128x32/4");
        let double = GemmTiling { double: true, ..tiling };
        assert_eq!(GemmTiling::parse(&double.name()), Ok(double));
        let fit = GemmTiling { fit: true, ..double };
        assert_eq!(fit.name(), "128x128x32/4+double+fit");
        assert_eq!(GemmTiling::parse(&fit.name()), Ok(fit));
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
    fn a_fitted_stage_pads_slimmed_products_less_and_keeps_full_ones() {
        let plain = BF16_TILING;
        let fit = GemmTiling { fit: true, ..BF16_TILING };
        // Without `+fit` only the cap at the next power of two applies.
        assert_eq!(plain.fitted(152, 1368, 8, 16), (128, 64));
        assert_eq!(plain.fitted(24, 216, 8, 16), (32, 64));
        // (n, k) -> stage: conv8's layers at 12/12 keep the full stage ...
        for (n, k) in [(64, 576), (128, 1152), (256, 2304), (512, 4608)] {
            assert_eq!(fit.fitted(n, k, 8, 16), (n.min(128) as u32, 64), "{n} x {k}");
        }
        // ... and at 7/12 (40, 80, 152 and 304 channels after alignment to 8) narrow where
        // that computes fewer padded values: 152 on 32 columns (160, not 256), 304 on 64 (320,
        // not 384), 80 on 32 (96, not 128); 40 has nothing to gain below 64 (64 either way),
        // but its 72-deep product (the 3-channel stem's 9 taps of 8) halves the depth.
        assert_eq!(fit.fitted(152, 9 * 80, 8, 16), (32, 64));
        assert_eq!(fit.fitted(304, 9 * 152, 8, 16), (64, 64));
        assert_eq!(fit.fitted(80, 9 * 40, 8, 16), (32, 64));
        assert_eq!(fit.fitted(40, 9 * 8, 8, 16), (64, 32));
        // A shallow product takes the shallower stage; never below the tile instruction.
        assert_eq!(fit.fitted(8, 9, 8, 16), (8, 32));
        assert_eq!(GemmTiling { n: 16, k: 32, ..fit }.fitted(24, 40, 16, 32), (16, 32));
    }

    #[test]
    fn the_default_names_a_stage_for_bf16_only() {
        assert_eq!(GemmStages::default(), GemmStages::Default);
        assert_eq!(GemmStages::Default.tiling(true), Some(BF16_TILING));
        assert_eq!(GemmStages::Default.tiling(false), None);
        assert_eq!(GemmStages::Inferred.tiling(true), None);
        let tiling = GemmTiling { m: 64, n: 64, k: 32, planes: 2, double: true, fit: false };
        assert_eq!(GemmStages::Fixed(tiling).tiling(false), Some(tiling));
        assert_eq!(gemm_stages(), GemmStages::Default, "nothing in this test binary changes the stages off CUDA");
    }
}
