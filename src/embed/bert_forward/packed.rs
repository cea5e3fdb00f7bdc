//! Dense-layer products for a few token rows (one query), over weights packed once at load.
//!
//! Embedding a single query is a product of a short `[rows x in]` activation matrix with every
//! weight matrix of the model (42 MB for MiniLM). `gemm` repacks its right-hand side on every
//! call, so for a 30-token query the pass spent more time copying weights than multiplying: a
//! fixed ~6 ms per query whatever its length. Here each weight matrix is stored once as column
//! panels of [`PANEL`] outputs with the `in` dimension contiguous, the layout the kernel streams,
//! so a query reads every weight exactly once and the threads split the panels between them.
//!
//! The panels are stored as f16. In the service a query's search evicts the weights from the
//! caches, so each embedding streams them from memory again, and at 42 MB that stream cost more
//! than the arithmetic. Half precision halves it; every slice is widened to f32 once, in L1,
//! and all arithmetic is f32. (f16 keeps 11 significant bits, and MiniLM's weights are far
//! inside its range: embeddings keep a cosine of 0.9999998 to the f32 ones.)
//!
//! The kernels accumulate each output element over `in` in order with fused multiply-adds, so
//! the AVX-512 and AVX2 paths give bit-identical results.

use super::team::Team;

/// Output columns per packed panel: two AVX-512 registers, four AVX2 registers.
pub(super) const PANEL: usize = 32;

/// A `[in x out]` weight matrix stored as `ceil(out / PANEL)` panels of f16 bits; panel `p`
/// holds `w[k][p * PANEL + j]` at row `p * in + k`, column `j`, zero-padded past `out`.
pub(super) struct PackedWeights {
    data: Vec<PanelRow>,
    inp: usize,
    out: usize,
}

/// Which instruction set the kernel runs with (probed once, when the model loads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KernelIsa {
    Avx512,
    Avx2,
}

impl KernelIsa {
    /// The widest kernel this CPU can run, or `None` where only `gemm` should be used.
    pub(super) fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Some(Self::Avx512);
            }
            if std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("f16c")
            {
                return Some(Self::Avx2);
            }
        }
        None
    }
}

impl PackedWeights {
    /// Packs a row-major `[inp x out]` matrix.
    pub(super) fn pack(w: &[f32], inp: usize, out: usize) -> Self {
        assert_eq!(w.len(), inp * out, "weight matrix size");
        let panels = out.div_ceil(PANEL);
        let mut data = vec![PanelRow([0u16; PANEL]); panels * inp];
        for (p, panel) in data.chunks_exact_mut(inp).enumerate() {
            let first = p * PANEL;
            let width = PANEL.min(out - first);
            for (k, row) in panel.iter_mut().enumerate() {
                for (packed, &x) in row.0.iter_mut().zip(&w[k * out + first..][..width]) {
                    *packed = half::f16::from_f32(x).to_bits();
                }
            }
        }
        Self { data, inp, out }
    }

    fn panels(&self) -> usize {
        self.out.div_ceil(PANEL)
    }

    fn panel(&self, p: usize) -> &[PanelRow] {
        &self.data[p * self.inp..][..self.inp]
    }
}

// The kernels read and write their buffers with aligned vector loads and stores. That is not
// for the hardware, which forgives unaligned access, but for dev builds: there the unaligned
// load intrinsics keep their debug precondition checks and a copy through the stack, which
// halved the kernel's speed (50 against 100 GFLOP/s for a 24-row product).

/// One `in` row of a panel: `PANEL` f16 weights, one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct PanelRow([u16; PANEL]);

/// One activation row's `PANEL` accumulators, two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct AccumulatorRow([f32; PANEL]);

/// A slice of a panel widened to f32.
#[repr(C, align(64))]
struct Widened([f32; K_SLICE * PANEL]);

/// A raw pointer the worker threads write disjoint columns through.
#[derive(Clone, Copy)]
struct SharedDst(*mut f32);
// SAFETY: workers write through the pointer only into the column ranges of their own panels, and
// the owning `&mut` slice outlives the parallel section (see `product`).
unsafe impl Send for SharedDst {}
unsafe impl Sync for SharedDst {}

impl SharedDst {
    /// Through a method, so closures capture the whole `Sync` wrapper, not the raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `dst[rows x out] = x[rows x in] * w`, row-major, splitting the panels over the team's
/// threads when there is one.
pub(super) fn product(
    dst: &mut [f32],
    x: &[f32],
    w: &PackedWeights,
    rows: usize,
    isa: KernelIsa,
    team: Option<&Team>,
) {
    assert_eq!(x.len(), rows * w.inp, "activation matrix size");
    assert_eq!(dst.len(), rows * w.out, "output matrix size");
    if rows == 0 {
        return;
    }
    let panels = w.panels();
    let out = SharedDst(dst.as_mut_ptr());
    let run_panels = |first: usize, end: usize| {
        for p in first..end {
            // SAFETY: `x` holds `rows * inp` values and the panel `inp * PANEL` (asserted above
            // and by construction); the kernel writes rows `0..rows` of columns
            // `p * PANEL..min(out, (p + 1) * PANEL)`, inside `dst`, and no other part writes them.
            unsafe { panel_product(out.get(), x.as_ptr(), w, p, rows, isa) };
        }
    };
    match team {
        // One panel per part: 12-48 parts per product balance two threads well, and a claim
        // costs far less than a panel's work (a few microseconds at query lengths). Parts of four
        // panels split the 12-panel products 8:4 between the threads.
        Some(team) => team.for_each(panels, &|p| run_panels(p, p + 1)),
        None => run_panels(0, panels),
    }
}

/// Rows of the activation matrix one kernel call keeps in registers.
const fn max_block_rows(isa: KernelIsa) -> usize {
    match isa {
        // 12 rows x 2 registers = 24 of 32 zmm accumulators.
        KernelIsa::Avx512 => 12,
        // Half a panel (2 ymm) x 6 rows = 12 of 16 ymm accumulators.
        KernelIsa::Avx2 => 6,
    }
}

/// Rows of `in` one pass over the row blocks covers: the slice of the panel, widened to 16 KiB of
/// f32, stays in L1 while every row block reads it. Without slicing, a whole panel (48-192 KiB
/// of f32) was read from L2 again by each further row block.
const K_SLICE: usize = 128;

/// Computes all `rows` of panel `p`'s output columns.
///
/// # Safety
/// `x` must hold `rows * w.inp` values; `dst` must be valid for writes of `rows * w.out` values;
/// the CPU must support `isa`. Only columns `p * PANEL..` up to `PANEL` or `w.out` of `dst` are
/// written.
unsafe fn panel_product(
    dst: *mut f32,
    x: *const f32,
    w: &PackedWeights,
    p: usize,
    rows: usize,
    isa: KernelIsa,
) {
    let panel = w.panel(p).as_ptr().cast::<u16>();
    let width = PANEL.min(w.out - p * PANEL);
    // Equal row blocks (16 rows as 8 + 8, not 12 + 4): a short block does as many loads as a
    // full one for fewer multiply-adds.
    let blocks = rows.div_ceil(max_block_rows(isa));
    let mut acc = vec![AccumulatorRow([0f32; PANEL]); rows];
    let mut widened = Widened([0f32; K_SLICE * PANEL]);
    for k0 in (0..w.inp).step_by(K_SLICE) {
        let k_len = K_SLICE.min(w.inp - k0);
        // SAFETY: the panel holds rows `k0..k0 + k_len` (and what is prefetched, the rest of the
        // panel or the next panel's first slice, is inside the weights too); `widened` holds
        // `K_SLICE * PANEL` values; the caller guarantees the ISA.
        unsafe {
            let next_k = k0 + K_SLICE;
            let next = if next_k < w.inp {
                Some((panel.add(next_k * PANEL), K_SLICE.min(w.inp - next_k)))
            } else if p + 1 < w.panels() {
                // The next panel's first slice: without this, the first slice of every panel
                // came from memory unprefetched (a third of all slices for the 384-input
                // products), and widening, where those loads stalled, took 12% of a query's time.
                // (With a team the next panel may go to the other thread; then the prefetch
                // costs only bandwidth.)
                Some((w.panel(p + 1).as_ptr().cast::<u16>(), K_SLICE.min(w.inp)))
            } else {
                None
            };
            let slice = panel.add(k0 * PANEL);
            match isa {
                #[cfg(target_arch = "x86_64")]
                KernelIsa::Avx512 => x86::avx512_widen(&mut widened.0, slice, k_len, next),
                #[cfg(target_arch = "x86_64")]
                KernelIsa::Avx2 => x86::avx2_widen(&mut widened.0, slice, k_len, next),
                #[cfg(not(target_arch = "x86_64"))]
                _ => unreachable!("no packed kernel on this architecture"),
            }
        }
        for b in 0..blocks {
            let (first, end) = (rows * b / blocks, rows * (b + 1) / blocks);
            // SAFETY: rows `first..end` of `x` exist and hold columns `k0..k0 + k_len`; the
            // panel holds rows `k0..k0 + k_len`; `acc` holds `rows * PANEL` values; the caller
            // guarantees the ISA.
            unsafe {
                let last = k0 + k_len == w.inp;
                let slice = Slice {
                    acc: acc.as_mut_ptr().add(first).cast::<f32>(),
                    x: x.add(first * w.inp + k0),
                    x_stride: w.inp,
                    panel: widened.0.as_ptr(),
                    k_len,
                    start: k0 == 0,
                    out: last.then(|| OutputRows {
                        first: dst.add(first * w.out + p * PANEL),
                        stride: w.out,
                        width,
                    }),
                };
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    KernelIsa::Avx512 => x86::avx512_block(slice, end - first),
                    #[cfg(target_arch = "x86_64")]
                    KernelIsa::Avx2 => x86::avx2_block(slice, end - first),
                    #[cfg(not(target_arch = "x86_64"))]
                    _ => unreachable!("no packed kernel on this architecture"),
                }
            }
        }
    }
}

/// One kernel call: rows of `x` times a slice of `in` of one panel, added to `acc`.
#[derive(Clone, Copy)]
struct Slice {
    /// `[rows x PANEL]` accumulators, row-major, 64-byte aligned ([`AccumulatorRow`]).
    acc: *mut f32,
    /// The first row's value at the slice's first `in` index; rows are `x_stride` apart.
    x: *const f32,
    x_stride: usize,
    /// The slice of the panel, widened to f32: `k_len` rows of `PANEL`, 64-byte aligned
    /// ([`Widened`]).
    panel: *const f32,
    k_len: usize,
    /// Whether this is the first slice: the accumulators start at zero instead of `acc`.
    start: bool,
    /// For the last slice, where the sums go instead of back to `acc`: straight into the
    /// product. (A copy from `acc` afterwards was 5% of a query's embedding time.)
    out: Option<OutputRows>,
}

/// The block's rows of one panel's columns in the product matrix.
#[derive(Clone, Copy)]
struct OutputRows {
    /// The first row's first column; rows are `stride` apart, any alignment.
    first: *mut f32,
    stride: usize,
    /// Columns of the panel inside the product (`PANEL` but for the last panel): the stores
    /// are masked to them.
    width: usize,
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests {
    use super::super::team::with_team;
    use super::*;

    fn naive(x: &[f32], w: &[f32], rows: usize, inp: usize, out: usize) -> Vec<f32> {
        let mut dst = vec![0f32; rows * out];
        for r in 0..rows {
            for c in 0..out {
                dst[r * out + c] = (0..inp).map(|k| x[r * inp + k] * w[k * out + c]).sum();
            }
        }
        dst
    }

    /// Deterministic values in [-1, 1) without a random-number dependency.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let h = i
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503));
                (h >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn isas() -> Vec<KernelIsa> {
        let mut isas = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                isas.push(KernelIsa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                isas.push(KernelIsa::Avx2);
            }
        }
        isas
    }

    #[test]
    fn packed_product_matches_the_naive_product_for_every_shape_and_kernel() {
        let isas = isas();
        if isas.is_empty() {
            eprintln!("SKIPPED: this CPU has neither AVX-512 nor AVX2 + FMA");
            return;
        }
        // Rows cover partial register blocks; widths cover partial and single panels.
        for &(rows, inp, out) in &[
            (1, 7, 32),
            (5, 33, 70),
            (13, 16, 96),
            (29, 40, 5),
            (25, 9, 64),
            // Three slices of `in`, the last one short: sums carried across kernel calls.
            (13, 300, 70),
        ] {
            let x = values(rows * inp, 1);
            let w = values(inp * out, 2);
            // The panels hold f16 weights: the reference multiplies by the same rounded values.
            let rounded: Vec<f32> = w.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
            let expected = naive(&x, &rounded, rows, inp, out);
            let packed = PackedWeights::pack(&w, inp, out);
            for &isa in &isas {
                for helpers in [0, 1, 2] {
                    let mut dst = vec![f32::NAN; rows * out];
                    with_team(helpers, |team| {
                        product(&mut dst, &x, &packed, rows, isa, Some(team));
                    });
                    for (i, (got, want)) in dst.iter().zip(&expected).enumerate() {
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "{isa:?}, {helpers} helpers, {rows}x{inp}x{out}: element {i} is \
                             {got}, expected {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn avx512_and_avx2_kernels_give_identical_bits() {
        let isas = isas();
        if isas.len() < 2 {
            eprintln!("SKIPPED: this CPU lacks AVX-512, so there is only one kernel to compare");
            return;
        }
        let (rows, inp, out) = (17, 384, 96);
        let x = values(rows * inp, 3);
        let packed = PackedWeights::pack(&values(inp * out, 4), inp, out);
        let mut wide = vec![0f32; rows * out];
        let mut narrow = vec![0f32; rows * out];
        with_team(1, |team| {
            product(&mut wide, &x, &packed, rows, KernelIsa::Avx512, Some(team))
        });
        product(&mut narrow, &x, &packed, rows, KernelIsa::Avx2, None);
        assert_eq!(wide, narrow);
    }
}
