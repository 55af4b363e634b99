//! Which of cubek's implicit-GEMM convolution kernels [`gemm_conv2d`](crate::gemm_conv2d)
//! runs for the forward pass and the input gradient.
//!
//! cubek 0.2 (the kernels under burn 0.21) has nine implicit-GEMM algorithms, each with two
//! kinds of tensor-core tile: `cmma` (CUDA's warp matrix functions) and `mma` (the PTX `mma`
//! instruction). burn's `ConvStrategy::ImplicitGemm` always runs `simple_sync_cyclic/cmma`, and
//! picks among the others only under its `autotune` feature, which times every candidate for
//! every new shape. This setting names the kernel instead, so a benchmark can compare them and a
//! user can keep the fastest for their GPU without tuning at run time.
//!
//! On an H200 (docs/BENCHMARKS.md, session 10) the 8-layer bench net's plain step took 70.3 ms
//! with `simple_sync_strided/mma` against 78.1 ms with burn's `simple_sync_cyclic/cmma`, but the
//! former failed to launch for some of the layer tests' small shapes (cubek's validation, at
//! launch time, so the CUDA context breaks and no fallback can run). burn's loads with the
//! `mma` tile, `simple_sync_cyclic/mma`, passed every CUDA layer test and ran the sandwich step
//! 2 % faster than burn's kernel (the plain step 0–3 %; session 19): it is the default on CUDA,
//! burn's elsewhere
//! ([`GemmKernel::default_for`]); the two are [`VERIFIED_GEMM_KERNELS`]. What is known of the
//! others is in [`GemmKernel::check_verified`]'s message.

use std::sync::atomic::{AtomicUsize, Ordering};

/// cubek's algorithm names, in the order of `cubek::convolution::ConvAlgorithm`'s variants.
pub const GEMM_ALGORITHMS: [&str; 9] = [
    "simple_sync_cyclic",
    "simple_sync_strided",
    "simple_sync_tilewise",
    "simple_async_cyclic",
    "simple_async_strided",
    "simple_async_tma",
    "specialized_async_cyclic",
    "specialized_async_strided",
    "specialized_tma",
];

/// The tile kinds, in the order of `cubek::convolution::AcceleratedTileKind`'s variants.
pub const GEMM_TILES: [&str; 2] = ["cmma", "mma"];

/// The kernels that passed every CUDA layer test of this crate on an H200.
pub const VERIFIED_GEMM_KERNELS: [&str; 2] = ["simple_sync_cyclic/cmma", "simple_sync_cyclic/mma"];

/// One implicit-GEMM kernel: an algorithm of [`GEMM_ALGORITHMS`] with a tile of [`GEMM_TILES`],
/// written `algorithm/tile` (e.g. `simple_sync_cyclic/cmma`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmKernel {
    /// Index into [`GEMM_ALGORITHMS`].
    pub algorithm: usize,
    /// Index into [`GEMM_TILES`].
    pub tile: usize,
}

impl GemmKernel {
    /// What burn's `ConvStrategy::ImplicitGemm` runs: `simple_sync_cyclic/cmma`.
    pub const BURN_DEFAULT: GemmKernel = GemmKernel { algorithm: 0, tile: 0 };

    /// This crate's default on every runtime but CUDA: burn's.
    pub const DEFAULT: GemmKernel = GemmKernel::BURN_DEFAULT;

    /// This crate's default on CUDA: `simple_sync_cyclic/mma` (burn's loads with the PTX `mma`
    /// tile): on an H200 the 8-layer bench net's sandwich step 2 % faster than with burn's
    /// (its plain step 0–3 %, its narrowest widths' passes 2–6 % slower; docs/BENCHMARKS.md,
    /// session 19). `mma` is a PTX instruction: other runtimes keep burn's.
    pub const CUDA_DEFAULT: GemmKernel = GemmKernel { algorithm: 0, tile: 1 };

    /// This crate's default on the cubecl runtime named `runtime` (`"cuda"`, `"wgpu"`, …).
    pub fn default_for(runtime: &str) -> GemmKernel {
        match runtime {
            "cuda" => GemmKernel::CUDA_DEFAULT,
            _ => GemmKernel::DEFAULT,
        }
    }

    /// `Ok` for a kernel of [`VERIFIED_GEMM_KERNELS`]; otherwise what is known of it.
    pub fn check_verified(self) -> Result<(), String> {
        let name = self.name();
        if VERIFIED_GEMM_KERNELS.contains(&name.as_str()) {
            return Ok(());
        }
        let known = match name.as_str() {
            "simple_sync_strided/mma" => {
                "on an H200 it matched burn-ndarray on three shapes and ran the 8-layer bench net 11 % faster, but failed to launch \
                 for some small shapes (\"Too many data will be loaded\"), which leaves the CUDA context broken"
            }
            "simple_async_cyclic/cmma" => "on an H200 it matched burn-ndarray on three shapes only, and was slower than the default",
            "simple_async_tma/cmma" => "on an H200 most of the 8-layer bench net's passes fell back from it to burn's direct kernel (8× slower)",
            "simple_async_strided/mma" => "on an H200 its input gradient differed from burn-ndarray's by more than the tolerance",
            _ if GEMM_ALGORITHMS[self.algorithm].starts_with("specialized") => "on an H200 the specialized kernels failed at run time",
            _ => "it has not been checked against burn-ndarray on a GPU",
        };
        Err(format!("implicit-GEMM kernel \"{name}\" is not one of the verified ones ({}): {known}", VERIFIED_GEMM_KERNELS.join(", ")))
    }

    /// Every kernel, algorithm-major.
    pub fn all() -> impl Iterator<Item = GemmKernel> {
        (0..GEMM_ALGORITHMS.len()).flat_map(|algorithm| (0..GEMM_TILES.len()).map(move |tile| GemmKernel { algorithm, tile }))
    }

    /// The kernel's name, `algorithm/tile`.
    pub fn name(self) -> String {
        format!("{}/{}", GEMM_ALGORITHMS[self.algorithm], GEMM_TILES[self.tile])
    }

    /// The kernel named `algorithm/tile`, or `algorithm` alone (with `cmma`); the error lists
    /// the accepted names.
    pub fn parse(name: &str) -> Result<GemmKernel, String> {
        let (algorithm, tile) = name.trim().split_once('/').unwrap_or((name.trim(), GEMM_TILES[0]));
        let algorithm = GEMM_ALGORITHMS.iter().position(|a| *a == algorithm);
        let tile = GEMM_TILES.iter().position(|t| *t == tile);
        match (algorithm, tile) {
            (Some(algorithm), Some(tile)) => Ok(GemmKernel { algorithm, tile }),
            _ => Err(format!(
                "unknown implicit-GEMM kernel \"{name}\"; accepted: ALGORITHM or ALGORITHM/TILE with ALGORITHM one of {} and TILE one of {}",
                GEMM_ALGORITHMS.join(", "),
                GEMM_TILES.join(", ")
            )),
        }
    }
}

/// The kernel set, as `algorithm * GEMM_TILES.len() + tile`; [`UNSET`] for each runtime's
/// default ([`GemmKernel::default_for`]).
static SELECTED: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;

/// Chooses the implicit-GEMM kernel of every [`gemm_conv2d`](crate::gemm_conv2d) in this
/// process (default: [`GemmKernel::default_for`] the runtime). Any of the 18 can be set; see
/// [`GemmKernel::check_verified`] for which are known to give right results.
pub fn set_gemm_kernel(kernel: GemmKernel) {
    SELECTED.store(kernel.algorithm * GEMM_TILES.len() + kernel.tile, Ordering::Relaxed);
}

/// Undoes [`set_gemm_kernel`]: each runtime runs its default again ([`GemmKernel::default_for`]).
pub fn reset_gemm_kernel() {
    SELECTED.store(UNSET, Ordering::Relaxed);
}

/// The implicit-GEMM kernel in use on the cubecl runtime named `runtime`: the one set, or the
/// runtime's default.
pub fn gemm_kernel_for(runtime: &str) -> GemmKernel {
    match SELECTED.load(Ordering::Relaxed) {
        UNSET => GemmKernel::default_for(runtime),
        index => GemmKernel { algorithm: index / GEMM_TILES.len(), tile: index % GEMM_TILES.len() },
    }
}

/// cubek's matrix-product kernels the weight gradient's products can run on (`algorithm/tile`).
/// burn's `matmul` runs the first, `simple_cyclic/cmma` (single-buffered loads); the `double`
/// ones load the next slice of the operands while the tensor cores work on the current one.
pub const WGRAD_MATMULS: [&str; 6] =
    ["simple_cyclic/cmma", "simple_cyclic/mma", "double_cyclic/cmma", "double_cyclic/mma", "ordered_double/cmma", "double_tilewise/cmma"];

/// The default of [`set_wgrad_matmul`], `simple_cyclic/mma`: on an H200 the bench net's plain
/// step took 50.1 ms with it against 54.4 ms with burn's `simple_cyclic/cmma` (bf16 operands,
/// docs/BENCHMARKS.md, session 12); every one of [`WGRAD_MATMULS`] passed the CUDA tests.
pub const DEFAULT_WGRAD_MATMUL: &str = WGRAD_MATMULS[1];

static WGRAD_SELECTED: AtomicUsize = AtomicUsize::new(1);

/// Chooses the kernel of the weight gradient's matrix products, one of [`WGRAD_MATMULS`]
/// (default [`DEFAULT_WGRAD_MATMUL`]); the error lists the accepted names.
pub fn set_wgrad_matmul(name: &str) -> Result<(), String> {
    let name = name.trim();
    let index = WGRAD_MATMULS.iter().position(|known| *known == name).ok_or_else(|| {
        format!("unknown weight-gradient matrix-product kernel \"{name}\"; accepted: {}", WGRAD_MATMULS.join(", "))
    })?;
    WGRAD_SELECTED.store(index, Ordering::Relaxed);
    Ok(())
}

/// The weight gradient's matrix-product kernel in use.
pub fn wgrad_matmul() -> &'static str {
    WGRAD_MATMULS[WGRAD_SELECTED.load(Ordering::Relaxed)]
}

/// How the weight gradient's matrix products (and the strided input gradient's) split into
/// stages, [`set_wgrad_stages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WgradStages {
    /// cubek's own choice from the problem (for a product of 152 × 152 channels, six stages of
    /// 128 rows and 64 columns: 2.1 times its area).
    Inferred,
    /// Stages fitted to the product's rows and columns (`gemm_tiling::blueprint::fitted_product_blueprint`),
    /// for the `simple_cyclic/mma` kernel (the default) and bf16 operands; the others keep cubek's. Where cubek
    /// refuses a fitted stage the inferred one runs, counted by
    /// [`gemm_tiling_misses`](crate::gemm_tiling_misses).
    Fitted,
}

impl WgradStages {
    /// Both.
    pub const ALL: [WgradStages; 2] = [WgradStages::Inferred, WgradStages::Fitted];

    /// The name `AUTOSLIM_WGRAD_STAGES` takes.
    pub fn name(self) -> &'static str {
        match self {
            WgradStages::Inferred => "inferred",
            WgradStages::Fitted => "fitted",
        }
    }

    /// The choice named `name`; the error lists the accepted names.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| format!("unknown weight-gradient stages \"{name}\"; accepted: \"inferred\", \"fitted\""))
    }
}

static WGRAD_STAGES: AtomicUsize = AtomicUsize::new(WgradStages::Fitted as usize);

/// Chooses how the weight gradient's products split into stages (default
/// [`WgradStages::Fitted`]). Process-wide.
pub fn set_wgrad_stages(stages: WgradStages) {
    WGRAD_STAGES.store(stages as usize, Ordering::Relaxed);
}

/// How the weight gradient's products split into stages now ([`set_wgrad_stages`]).
pub fn wgrad_stages() -> WgradStages {
    WgradStages::ALL[WGRAD_STAGES.load(Ordering::Relaxed)]
}

#[cfg(feature = "cube")]
pub(crate) mod launch {
    //! The launches, on channels-last tensors.

    use burn::tensor::DType;
    use burn::tensor::ops::ConvOptions;
    use burn_cubecl::CubeRuntime;
    use burn_cubecl::ops::numeric::empty_device_dtype;
    use burn_cubecl::ops::{permute_nchw_to_nhwc, permute_nhwc_to_nchw};
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::client::ComputeClient;
    use cubek::convolution::components::{ConvSetupError, Dimensionality};
    use cubek::convolution::definition::{BackwardDataBlueprint, ConvBlueprint, ForwardBlueprint};
    use cubek::convolution::{AcceleratedTileKind, ConvAlgorithm, ConvolutionArgs, ConvolutionInputs, Strategy, launch_ref};
    use cubek::matmul::components::tile::TileMatmulKind;
    use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems, MatmulSetupError, TilingBlueprint};
    use cubek::std::{InputBinding, MatrixLayout};

    use super::{GemmKernel, gemm_kernel_for};
    use crate::gemm_tiling::blueprint::{Product, blueprint, fitted_product_blueprint};
    use crate::gemm_tiling::{gemm_stages, note_tiling_miss};
    use crate::im2col::ConvGeometry;
    use crate::launch_share::runs;

    /// Which of the two products a launch computes.
    #[derive(Clone, Copy)]
    enum Operation {
        Forward,
        BackwardData,
    }

    /// cubek's strategy for `kernel`: its inferred stage, or the one [`gemm_stages`] names for
    /// these operands (where that stage does not fit `product`, the inferred one, counted by
    /// [`note_tiling_miss`]).
    ///
    /// With f32 operands cubek 0.2 refuses every named stage: it turns f32 into TF32 registers
    /// only while inferring a stage itself, so a forced one asks for f32 tensor-core tiles,
    /// which do not exist (the CUDA tests print its reason).
    fn strategy<R: CubeRuntime>(kernel: GemmKernel, client: &ComputeClient<R>, operation: Operation, product: Product, dtypes: &MatmulElems) -> Strategy {
        let inferred = inferred(kernel);
        let Some(tiling) = gemm_stages().tiling(dtypes.lhs_global == DType::BF16.into()) else {
            return inferred;
        };
        let Strategy::Inferred { algorithm, tile_kind } = inferred else {
            return inferred;
        };
        let tile = match tile_kind {
            AcceleratedTileKind::Cmma => TileMatmulKind::Cmma,
            AcceleratedTileKind::Mma => TileMatmulKind::Mma,
        };
        match blueprint(tiling, client, tile, &product, dtypes) {
            Ok(matmul) => {
                let dimensionality = Dimensionality::Dim2;
                let blueprint = match operation {
                    Operation::Forward => ConvBlueprint::Forward(ForwardBlueprint { matmul, dimensionality, has_bias: false }),
                    Operation::BackwardData => ConvBlueprint::BackwardData(BackwardDataBlueprint { matmul, dimensionality }),
                };
                Strategy::Forced { algorithm, blueprint }
            }
            Err(why) => {
                note_tiling_miss(&why);
                inferred
            }
        }
    }

    /// cubek's strategy for `kernel`, its stage inferred from the problem.
    fn inferred(kernel: GemmKernel) -> Strategy {
        use ConvAlgorithm::*;
        let algorithm = [
            SimpleSyncCyclic,
            SimpleSyncStrided,
            SimpleSyncTilewise,
            SimpleAsyncCyclic,
            SimpleAsyncStrided,
            SimpleAsyncTma,
            SpecializedAsyncCyclic,
            SpecializedAsyncStrided,
            SpecializedTma,
        ][kernel.algorithm];
        let tile_kind = [AcceleratedTileKind::Cmma, AcceleratedTileKind::Mma][kernel.tile];
        Strategy::Inferred { algorithm, tile_kind }
    }

    fn input<R: CubeRuntime>(tensor: CubeTensor<R>) -> InputBinding<R> {
        let dtype = tensor.dtype;
        InputBinding::new(tensor.binding(), dtype.into())
    }

    fn dtypes<R: CubeRuntime>(lhs: &CubeTensor<R>, rhs: &CubeTensor<R>, out: &CubeTensor<R>) -> MatmulElems {
        MatmulElems::from_globals(&MatmulGlobalElems { lhs: lhs.dtype.into(), rhs: rhs.dtype.into(), out: out.dtype.into() })
    }

    /// Whether this process runs a conv's launch ([`crate::launch_share`]): its kernel is named
    /// by the forced blueprint (the stage and the bounds checks) where there is one, else by the
    /// shapes cubek infers a stage from.
    fn runs_conv<R: CubeRuntime>(op: &str, strategy: &Strategy, tensors: &[&CubeTensor<R>], options: &ConvOptions<2>) -> bool {
        if !crate::launch_share::sharing() {
            return true;
        }
        let args = (options.stride, options.padding, options.dilation);
        let shapes: Vec<&[usize]> = match strategy {
            Strategy::Forced { .. } => Vec::new(),
            Strategy::Inferred { .. } => tensors.iter().map(|t| t.meta.shape().as_slice()).collect(),
        };
        runs(op, tensors, (format!("{strategy:?}"), args, shapes))
    }

    fn args(options: &ConvOptions<2>) -> ConvolutionArgs<2> {
        ConvolutionArgs { stride: options.stride, padding: options.padding, dilation: options.dilation }
    }

    /// The convolution of `x` `[n, c_in, h, w]` with `weight` `[c_out, c_in, kh, kw]`, both
    /// channels-last in memory (of one element type, f32 or bf16); the output
    /// `[n, c_out, h_out, w_out]`, of element `out_dtype`, is channels-last too. The kernel is
    /// the runtime's ([`gemm_kernel_for`]).
    pub(crate) fn forward<R: CubeRuntime>(
        x: CubeTensor<R>,
        weight: CubeTensor<R>,
        options: &ConvOptions<2>,
        out_dtype: DType,
    ) -> Result<CubeTensor<R>, ConvSetupError> {
        let [n, _, h, w] = x.meta.shape().dims::<4>();
        let [c_out, _, kh, kw] = weight.meta.shape().dims::<4>();
        let geometry = ConvGeometry::from_options([kh, kw], options);
        let [h_out, w_out] = geometry.output_size([h, w]);
        let (x, weight) = (permute_nchw_to_nhwc(x), permute_nchw_to_nhwc(weight));
        let out = empty_device_dtype(x.client.clone(), x.device.clone(), [n, h_out, w_out, c_out].into(), out_dtype);
        let (client, dtypes) = (x.client.clone(), dtypes(&x, &weight, &out));
        let kernel = gemm_kernel_for(R::name(&client));
        let product = Product { m: n * h_out * w_out, n: c_out, k: kh * kw * x.meta.shape()[3], lhs: MatrixLayout::RowMajor, rhs: MatrixLayout::ColMajor };
        let strategy = strategy(kernel, &client, Operation::Forward, product, &dtypes);
        let inputs = || ConvolutionInputs::Forward { input: input(x.clone()), weight: input(weight.clone()), bias: None, out: out.clone().binding() };
        if runs_conv("gemm conv forward", &strategy, &[&x, &weight, &out], options) {
            launch_or_inferred(kernel, strategy, &client, inputs, options, dtypes)?;
        }
        Ok(permute_nhwc_to_nchw(out))
    }

    /// The input gradient `[n, c_in, h, w]` of a stride-1 convolution, from the output gradient
    /// and the weight, both channels-last in memory (of one element type); the result, of
    /// element `out_dtype`, is channels-last too. The kernel is the runtime's ([`gemm_kernel_for`]).
    pub(crate) fn input_grad<R: CubeRuntime>(
        grad: CubeTensor<R>,
        weight: CubeTensor<R>,
        input_shape: [usize; 4],
        options: &ConvOptions<2>,
        out_dtype: DType,
    ) -> Result<CubeTensor<R>, ConvSetupError> {
        let [n, c_in, h, w] = input_shape;
        let (grad, weight) = (permute_nchw_to_nhwc(grad), permute_nchw_to_nhwc(weight));
        let in_grad = empty_device_dtype(grad.client.clone(), grad.device.clone(), [n, h, w, c_in].into(), out_dtype);
        let (client, dtypes) = (grad.client.clone(), dtypes(&grad, &weight, &in_grad));
        let kernel = gemm_kernel_for(R::name(&client));
        let [c_out, kh, kw, _] = weight.meta.shape().dims::<4>(); // channels-last: [c_out, kh, kw, c_in]
        let product = Product { m: n * h * w, n: c_in, k: kh * kw * c_out, lhs: MatrixLayout::RowMajor, rhs: MatrixLayout::RowMajor };
        let strategy = strategy(kernel, &client, Operation::BackwardData, product, &dtypes);
        let inputs = || ConvolutionInputs::BackwardData { out_grad: input(grad.clone()), weights: input(weight.clone()), in_grad: in_grad.clone().binding() };
        if runs_conv("gemm conv input gradient", &strategy, &[&grad, &weight, &in_grad], options) {
            launch_or_inferred(kernel, strategy, &client, inputs, options, dtypes)?;
        }
        Ok(permute_nhwc_to_nchw(in_grad))
    }

    /// Launches `strategy`; where a forced stage is refused (cubek checks a blueprint before it
    /// compiles or runs anything), notes why ([`note_tiling_miss`]) and launches cubek's
    /// inferred stage instead.
    fn launch_or_inferred<R: CubeRuntime>(
        kernel: GemmKernel,
        strategy: Strategy,
        client: &ComputeClient<R>,
        inputs: impl Fn() -> ConvolutionInputs<R>,
        options: &ConvOptions<2>,
        dtypes: MatmulElems,
    ) -> Result<(), ConvSetupError> {
        let forced = matches!(strategy, Strategy::Forced { .. });
        match launch_ref::<R, 2>(&strategy, client, inputs(), args(options), dtypes.clone()) {
            Err(err) if forced => {
                note_tiling_miss(&format!("cubek refused the stage: {err:?}"));
                launch_ref::<R, 2>(&inferred(kernel), client, inputs(), args(options), dtypes)
            }
            result => result,
        }
    }

    /// The batched matrix product `lhs · rhs` (batch axes broadcast), its sums and result in
    /// `out_dtype` whatever the operands' format, by the kernel [`super::wgrad_matmul`] names
    /// (burn's kernels where the device has no tile for it).
    pub(crate) fn products<R: CubeRuntime>(lhs: CubeTensor<R>, rhs: CubeTensor<R>, out_dtype: DType) -> Result<CubeTensor<R>, MatmulSetupError> {
        use cubek::matmul::launch::Strategy as M;
        use cubek::matmul::routines::BlueprintStrategy::Forced;
        let strategy = match super::WGRAD_SELECTED.load(std::sync::atomic::Ordering::Relaxed) {
            0 => M::SimpleCyclicCmma(Default::default()),
            1 => M::SimpleCyclicMma(Default::default()),
            2 => M::DoubleCyclicCmma(Default::default()),
            3 => M::DoubleCyclicMma(Default::default()),
            4 => M::OrderedDoubleCmma(Default::default()),
            _ => M::DoubleTilewiseCmma(Default::default()),
        };
        let (lhs_shape, rhs_shape) = (lhs.meta.shape().clone(), rhs.meta.shape().clone());
        let rank = lhs_shape.len();
        let mut shape: Vec<usize> = (0..rank - 2).map(|axis| lhs_shape[axis].max(rhs_shape[axis])).collect();
        shape.extend([lhs_shape[rank - 2], rhs_shape[rank - 1]]);
        let out = empty_device_dtype(lhs.client.clone(), lhs.device.clone(), shape.into(), out_dtype);
        let fitted = fitted(&strategy, &lhs, &rhs, &out);
        let run = match &fitted {
            Some(Ok(blueprint)) => runs("gemm products", &[&lhs, &rhs, &out], blueprint),
            // A stage cubek infers from the shapes.
            _ => runs("gemm products", &[&lhs, &rhs, &out], (lhs.meta.shape().as_slice(), rhs.meta.shape().as_slice())),
        };
        if !run {
            return Ok(out);
        }
        let client = lhs.client.clone();
        // Each attempt with fresh element types: a launch may adjust them to its tile.
        let launch = |strategy: &M| {
            let mut elems = dtypes(&lhs, &rhs, &out);
            cubek::matmul::launch::launch_ref(strategy, &client, input(lhs.clone()), input(rhs.clone()), out.clone().binding(), &mut elems)
        };
        // Where the device has no such tile (`mma` is CUDA's; lavapipe has no tensor cores at
        // all), burn's `cmma` kernel, then cubek's kernel without tensor cores, as burn's
        // `matmul` falls back.
        let fallbacks = [M::SimpleCyclicCmma(Default::default()), M::SimpleUnit(Default::default())];
        // A stage fitted to the product where asked and the kernel takes one; where cubek
        // refuses it, the inferred one (counted).
        let mut result = match fitted.map(|fitted| fitted.map(|blueprint| M::SimpleCyclicMma(Forced(blueprint)))) {
            Some(Ok(forced)) => launch(&forced).or_else(|err| {
                note_tiling_miss(&format!("fitted product stage refused: {err:?}"));
                launch(&strategy)
            }),
            Some(Err(why)) => {
                note_tiling_miss(&why);
                launch(&strategy)
            }
            None => launch(&strategy),
        };
        for fallback in &fallbacks {
            match result {
                Err(MatmulSetupError::Unavailable(_)) => result = launch(fallback),
                _ => break,
            }
        }
        result?;
        Ok(out)
    }

    /// The blueprint of a stage fitted to the product of `lhs` and `rhs` for `strategy`
    /// ([`WgradStages::Fitted`](super::WgradStages)), or why none fits; `None` where not asked,
    /// for a kernel other than `simple_cyclic/mma`, or for operands other than bf16 (cubek 0.2
    /// turns f32 into TF32 registers only for stages it infers).
    fn fitted<R: CubeRuntime>(strategy: &cubek::matmul::launch::Strategy, lhs: &CubeTensor<R>, rhs: &CubeTensor<R>, out: &CubeTensor<R>) -> Option<Result<TilingBlueprint, String>> {
        use cubek::matmul::launch::Strategy as M;
        if super::wgrad_stages() != super::WgradStages::Fitted || lhs.dtype != DType::BF16 {
            return None;
        }
        // Only the `mma` tile: with `cmma` a fitted bf16 stage never finished on an H200
        // (session 20's CUDA tests).
        let M::SimpleCyclicMma(_) = strategy else { return None };
        let tile = TileMatmulKind::Mma;
        let layout = |t: &CubeTensor<R>| match t.meta.strides().last() {
            Some(1) => MatrixLayout::RowMajor,
            _ => MatrixLayout::ColMajor,
        };
        let (ls, rs) = (lhs.meta.shape(), rhs.meta.shape());
        let rank = ls.len();
        let product = Product { m: ls[rank - 2], n: rs[rank - 1], k: ls[rank - 1], lhs: layout(lhs), rhs: layout(rhs) };
        Some(fitted_product_blueprint(&lhs.client, tile, &product, &dtypes(lhs, rhs, out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named_errors() {
        for kernel in GemmKernel::all() {
            assert_eq!(GemmKernel::parse(&kernel.name()), Ok(kernel));
        }
        assert_eq!(GemmKernel::all().count(), 18);
        assert_eq!(GemmKernel::parse("specialized_tma"), Ok(GemmKernel { algorithm: 8, tile: 0 }));
        assert_eq!(GemmKernel::BURN_DEFAULT.name(), "simple_sync_cyclic/cmma");
        assert_eq!(GemmKernel::DEFAULT.name(), "simple_sync_cyclic/cmma");
        assert_eq!(GemmKernel::CUDA_DEFAULT.name(), "simple_sync_cyclic/mma");
        assert_eq!(gemm_kernel_for("wgpu"), GemmKernel::DEFAULT, "the CUDA tests that set a kernel reset it");
        assert_eq!(gemm_kernel_for("cuda"), GemmKernel::CUDA_DEFAULT);
        for bad in ["fast", "simple_sync_cyclic/wmma", ""] {
            let err = GemmKernel::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")) && err.contains("specialized_tma"), "{err}");
        }
    }

    #[test]
    fn only_the_verified_kernels_pass_the_check_and_the_others_say_why() {
        let verified: Vec<String> = GemmKernel::all().filter(|k| k.check_verified().is_ok()).map(GemmKernel::name).collect();
        assert_eq!(verified.len(), VERIFIED_GEMM_KERNELS.len());
        assert!(VERIFIED_GEMM_KERNELS.iter().all(|name| verified.iter().any(|v| v == name)));
        assert!(GemmKernel::DEFAULT.check_verified().is_ok() && GemmKernel::CUDA_DEFAULT.check_verified().is_ok());
        let err = GemmKernel::parse("specialized_tma/mma").unwrap().check_verified().unwrap_err();
        assert!(err.contains("\"specialized_tma/mma\"") && err.contains("failed at run time"), "{err}");
        let err = GemmKernel::parse("simple_sync_strided/mma").unwrap().check_verified().unwrap_err();
        assert!(err.contains("failed to launch"), "{err}");
        let err = GemmKernel::parse("simple_sync_tilewise/mma").unwrap().check_verified().unwrap_err();
        assert!(err.contains("not been checked"), "{err}");
    }
}
