//! The x86 kernels of the packed products: AVX-512 and AVX2 + FMA (+ F16C for widening).

use super::{K_SLICE, PANEL, Slice};
use std::arch::x86_64::*;

/// Defines `$name(slice, n, offset)`: `acc[i][offset..] += sum_k x[i][k] * panel[k][offset..]`
/// over `2 * lanes` columns, for `n` rows (one of the listed counts), with one accumulator
/// variable per register. The rows are spelled out as literals because a loop over an
/// accumulator array is not unrolled at the dev profile's opt-level, and then the
/// accumulators live on the stack. Each output is summed over `k` in order with fused
/// multiply-adds, whatever the vector width.
macro_rules! block_kernel {
    ($name:ident, $feature:literal, $vector:ty, $zero:ident, $load:ident, $store:ident,
     $store_prefix:ident, $broadcast:ident, $fma:ident, $lanes:literal;
     $($rows:literal => [$($i:literal)*])*) => {
        /// # Safety
        /// The CPU supports the kernel's features; `slice` points at `n` rows of `x` and
        /// accumulators and `k_len` panel rows, the accumulators and the panel 64-byte aligned;
        /// `offset + 2 * lanes <= PANEL`; `slice.out`, if any, holds `n` rows of `width`
        /// columns.
        #[target_feature(enable = $feature)]
        unsafe fn $name(slice: Slice, n: usize, offset: usize) {
            match n {
                $($rows => {
                    let out = slice.acc.wrapping_add(offset);
                    // SAFETY: rows `i < n` of the accumulators exist (see above).
                    let mut acc: [[$vector; 2]; $rows] = if slice.start {
                        [[$zero(); 2]; $rows]
                    } else {
                        unsafe {
                            [$([
                                $load(out.add($i * PANEL)),
                                $load(out.add($i * PANEL + $lanes)),
                            ]),*]
                        }
                    };
                    // Row pointers and a moving panel pointer keep index arithmetic (and
                    // its overflow checks in dev builds) out of the inner loop.
                    let rows: [*const f32; $rows] =
                        std::array::from_fn(|i| slice.x.wrapping_add(i * slice.x_stride));
                    let mut w = slice.panel.wrapping_add(offset);
                    for k in 0..slice.k_len {
                        // SAFETY: `k < k_len`: the reads are inside the panel and the rows.
                        unsafe {
                            let w0 = $load(w);
                            let w1 = $load(w.add($lanes));
                            $(
                                let a = $broadcast(_mm_load_ss(rows[$i].add(k)));
                                acc[$i][0] = $fma(a, w0, acc[$i][0]);
                                acc[$i][1] = $fma(a, w1, acc[$i][1]);
                            )*
                            w = w.add(PANEL);
                        }
                    }
                    match slice.out {
                        // SAFETY: the caller guarantees `n` output rows of `width` columns;
                        // the stores are masked to the columns `< width`.
                        Some(dst) => unsafe {
                            let (first, second) = (
                                dst.width.saturating_sub(offset),
                                dst.width.saturating_sub(offset + $lanes),
                            );
                            $(
                                let row = dst.first.wrapping_add($i * dst.stride + offset);
                                $store_prefix(row, first, acc[$i][0]);
                                $store_prefix(row.wrapping_add($lanes), second, acc[$i][1]);
                            )*
                        },
                        // SAFETY: as for the loads above.
                        None => unsafe {
                            $(
                                $store(out.add($i * PANEL), acc[$i][0]);
                                $store(out.add($i * PANEL + $lanes), acc[$i][1]);
                            )*
                        },
                    }
                })*
                _ => unreachable!("block of {n} rows"),
            }
        }
    };
}

block_kernel!(avx512_rows, "avx512f", __m512, _mm512_setzero_ps, _mm512_load_ps,
    _mm512_store_ps, avx512_store_prefix, _mm512_broadcastss_ps, _mm512_fmadd_ps, 16;
    1 => [0] 2 => [0 1] 3 => [0 1 2] 4 => [0 1 2 3] 5 => [0 1 2 3 4]
    6 => [0 1 2 3 4 5] 7 => [0 1 2 3 4 5 6] 8 => [0 1 2 3 4 5 6 7]
    9 => [0 1 2 3 4 5 6 7 8] 10 => [0 1 2 3 4 5 6 7 8 9]
    11 => [0 1 2 3 4 5 6 7 8 9 10] 12 => [0 1 2 3 4 5 6 7 8 9 10 11]);

block_kernel!(avx2_rows, "avx2,fma", __m256, _mm256_setzero_ps, _mm256_load_ps,
    _mm256_store_ps, avx2_store_prefix, _mm256_broadcastss_ps, _mm256_fmadd_ps, 8;
    1 => [0] 2 => [0 1] 3 => [0 1 2] 4 => [0 1 2 3] 5 => [0 1 2 3 4]
    6 => [0 1 2 3 4 5]);

/// Stores the first `count` lanes of `v` at `dst` (none when `count` is 0), with a masked store:
/// it needs no alignment, writes nothing past `count`, and unlike the unaligned-store intrinsic
/// it carries no precondition check in dev builds.
///
/// # Safety
/// The CPU supports AVX-512F; `dst` is valid for writes of `min(count, 16)` values.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_store_prefix(dst: *mut f32, count: usize, v: __m512) {
    let mask = if count >= 16 {
        u16::MAX
    } else {
        (1u16 << count) - 1
    };
    // SAFETY: the masked lanes are the valid ones (see above).
    unsafe { _mm512_mask_storeu_ps(dst, mask, v) }
}

/// As [`avx512_store_prefix`] for eight lanes with AVX2.
///
/// # Safety
/// The CPU supports AVX2; `dst` is valid for writes of `min(count, 8)` values.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn avx2_store_prefix(dst: *mut f32, count: usize, v: __m256) {
    if count == 0 {
        return;
    }
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count.min(8) as i32), lanes);
    // SAFETY: the masked lanes are the valid ones (see above).
    unsafe { _mm256_maskstore_ps(dst, mask, v) }
}

/// Widens `k_len <= K_SLICE` panel rows of f16 to f32 and prefetches the panel's next slice
/// (`next`: where it starts and its rows), so its loads from memory overlap this slice's
/// work.
///
/// # Safety
/// The CPU supports AVX-512F; `slice` holds `k_len * PANEL` values, `next` (if any) its
/// rows of `PANEL`; `slice` is 64-byte aligned.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn avx512_widen(
    widened: &mut [f32; K_SLICE * PANEL],
    slice: *const u16,
    k_len: usize,
    next: Option<(*const u16, usize)>,
) {
    for k in 0..k_len {
        // SAFETY: row `k < k_len <= K_SLICE` of both; a panel row of f16 is one aligned cache
        // line, and `widened` is aligned by its type.
        unsafe {
            prefetch_next_row(next, k);
            let row = slice.add(k * PANEL);
            let low = _mm512_cvtph_ps(_mm256_load_si256(row.cast()));
            let high = _mm512_cvtph_ps(_mm256_load_si256(row.add(16).cast()));
            let out = widened.as_mut_ptr().add(k * PANEL);
            _mm512_store_ps(out, low);
            _mm512_store_ps(out.add(16), high);
        }
    }
}

/// Prefetches row `k` of the next slice (where it starts and its rows), if it has one.
///
/// # Safety
/// `next` (if any) points at its rows of `PANEL` values.
#[inline(always)]
unsafe fn prefetch_next_row(next: Option<(*const u16, usize)>, k: usize) {
    if let Some((next, next_len)) = next
        && k < next_len
    {
        // SAFETY: row `k < next_len` of the next slice.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(next.add(k * PANEL).cast()) }
    }
}

/// As [`avx512_widen`] with AVX2 and F16C.
///
/// # Safety
/// The CPU supports AVX2 and F16C; `slice` holds `k_len * PANEL` values, `next` (if any) its
/// rows of `PANEL`; `slice` is 64-byte aligned.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn avx2_widen(
    widened: &mut [f32; K_SLICE * PANEL],
    slice: *const u16,
    k_len: usize,
    next: Option<(*const u16, usize)>,
) {
    for k in 0..k_len {
        // SAFETY: as in `avx512_widen`.
        unsafe {
            prefetch_next_row(next, k);
            let row = slice.add(k * PANEL);
            let out = widened.as_mut_ptr().add(k * PANEL);
            for quarter in 0..4 {
                let half = _mm256_cvtph_ps(_mm_load_si128(row.add(quarter * 8).cast()));
                _mm256_store_ps(out.add(quarter * 8), half);
            }
        }
    }
}

/// All `PANEL` columns of a slice for `n <= 12` rows.
///
/// # Safety
/// The CPU supports AVX-512F; `slice` is valid for `n` rows (see [`Slice`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn avx512_block(slice: Slice, n: usize) {
    // SAFETY: forwarded from the caller; one offset-0 call covers the whole panel.
    unsafe { avx512_rows(slice, n, 0) }
}

/// As [`avx512_block`] for `n <= 6` rows with AVX2 + FMA, one half panel at a time.
///
/// # Safety
/// The CPU supports AVX2 and FMA; `slice` is valid for `n` rows (see [`Slice`]).
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn avx2_block(slice: Slice, n: usize) {
    for half in [0, PANEL / 2] {
        // SAFETY: forwarded from the caller; `half + 16 <= PANEL`.
        unsafe { avx2_rows(slice, n, half) }
    }
}
