//! `autoslim bench --mode host`: what one tensor op costs outside the device's arithmetic, on
//! the compiled backend — an allocation, a kernel launch, an op with a new output, and an
//! autodiff op's forward and backward — each over thousands of ops on a 256-value tensor, so that
//! the device's own time is negligible and what is measured is the host's: burn's op code, the
//! autodiff graph, and on cubecl's backends the calling thread's launch requests and the runtime's
//! server thread that carries them out.
//!
//! Why: a narrow MobileNetV2 pass is bound by that host work (docs/BENCHMARKS.md, session 28),
//! and the passes are made of ~900 launches and as many allocations; these per-op figures say
//! which of them to remove first.

use std::time::{Duration, Instant};

use anyhow::Result;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};

/// Values in the measured tensors: small enough that each op's kernel takes the device a
/// microsecond or two at most.
const VALUES: usize = 256;

/// Ops per autodiff graph in the `autodiff` case (then one backward pass).
const GRAPH_OPS: usize = 100;

/// A measured case: its name, and what runs its ops (as many as asked).
type Case<'a> = (&'static str, Box<dyn FnMut(usize) + 'a>);

/// Measures each case over `ops` ops (after `ops / 10` untimed ones), prints a line per case and
/// one `RESULT` line each through `report`.
pub fn host_costs<T: AutodiffBackend>(device: &T::Device, ops: usize, report: &dyn Fn(String)) -> Result<()> {
    let ops = ops.max(GRAPH_OPS);
    let sync = || T::sync(device).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    let x = Tensor::<T::InnerBackend, 1>::random([VALUES], Distribution::Normal(0.0, 1.0), device);
    let mut cases: Vec<Case> = vec![
        // A new buffer, dropped at once.
        ("allocation", Box::new(|n| (0..n).for_each(|_| drop(Tensor::<T::InnerBackend, 1>::empty([VALUES], device))))),
        // An op on a tensor nothing else holds: burn's cubecl backends write in place, one launch.
        (
            "launch in place",
            Box::new({
                let mut y = Some(x.clone() + 0.0);
                move |n| {
                    for _ in 0..n {
                        y = y.take().map(|y| y.mul_scalar(1.0));
                    }
                }
            }),
        ),
        // An op on a shared tensor: a new output, so an allocation and a launch.
        ("op with a new output", Box::new(|n| (0..n).for_each(|_| drop(x.clone().mul_scalar(1.0))))),
        // Autodiff: a chain of ops on a tracked tensor, then its backward pass (per op: the
        // forward op, its graph node and its gradient's op).
        (
            "autodiff op, forward and backward",
            Box::new(|n| {
                for _ in 0..n.div_ceil(GRAPH_OPS) {
                    let leaf = Tensor::<T, 1>::from_inner(x.clone()).require_grad();
                    let mut y = leaf.clone();
                    for _ in 0..GRAPH_OPS {
                        y = y.mul_scalar(1.0);
                    }
                    let grads = y.sum().backward();
                    drop(leaf.grad(&grads));
                }
            }),
        ),
    ];
    println!("host cost per op ({VALUES} values, {ops} ops a case): queued by the calling thread / done");
    for (name, run) in cases.iter_mut() {
        run(ops / 10);
        sync()?;
        let start = Instant::now();
        run(ops);
        let queued = start.elapsed();
        sync()?;
        // Microseconds per op for the calling thread to queue it, and in all (to the device's end
        // of the last op).
        let (queued_us, done_us) = (per_op(queued, ops), per_op(start.elapsed(), ops));
        println!("  {name:<34} {queued_us:>7.2} µs / {done_us:>7.2} µs");
        report(format!(r#""mode":"host_cost","case":"{name}","queued_us":{queued_us:.3},"us":{done_us:.3}"#));
    }
    Ok(())
}

/// Microseconds per op.
fn per_op(elapsed: Duration, ops: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / ops as f64
}
