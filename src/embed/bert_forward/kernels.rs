//! Element-wise kernels of the BERT forward pass: fused bias + GELU, fused bias + residual +
//! LayerNorm, softmax, mean pooling.
//!
//! They are written as plain loops over fixed-width lane arrays, with branch-free polynomial
//! `exp`/`erf`, so that LLVM vectorises them; libm's scalar `expf` and a scalar GELU were a large
//! share of the time in the candle version. [`simd_dispatch!`] compiles each kernel a second and
//! third time for AVX-512 and AVX2 and picks one at run time: the crate is built for baseline
//! x86-64 (SSE2), and 4-wide SSE2 left these kernels at ~18% of the forward pass.

use super::LayerNorm;

/// Defines `pub(super) fn $name` whose body is compiled for AVX-512, for AVX2 + FMA and for the
/// baseline target; the widest one the CPU supports is picked at run time (std caches the CPUID
/// probe, so a call costs a couple of loads). The body is the same code for all three, and Rust
/// never contracts `a * b + c` into an FMA, so results do not depend on the path taken.
macro_rules! simd_dispatch {
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        pub(super) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn imp($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                fn v4($($arg: $ty),*) {
                    imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) {
                    imp($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512dq")
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                {
                    // SAFETY: `v4` only requires the CPU features detected just above.
                    return unsafe { v4($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: `v3` only requires the CPU features detected just above.
                    return unsafe { v3($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}

/// Lanes of the accumulator arrays: wide enough for AVX-512, harmless on narrower SIMD.
const LANES: usize = 16;

/// Sum of `xs`, in `LANES` independent partial sums (so the loop can vectorise).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Largest element (NEG_INFINITY for an empty slice), vectorisable like [`sum`].
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    acc.iter().fold(rest, |m, &x| if x > m { x } else { m })
}

/// Sum of `(x - mean)^2` over `xs`, vectorisable like [`sum`].
#[inline(always)]
fn sum_sq_dev(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += (x - mean) * (x - mean);
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// In-place LayerNorm of one row (biased variance, as PyTorch).
#[inline(always)]
fn layer_norm(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    // Two passes (mean, then squared deviations) to match PyTorch's numerics closely.
    let var = sum_sq_dev(row, mean) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *x = (*x - mean) * inv * g + b;
    }
}

simd_dispatch! {
/// In-place LayerNorm of every `gamma.len()`-wide row of `m`.
fn layer_norm_rows(m: &mut [f32], ln: &LayerNorm, eps: f32) {
    for row in m.chunks_exact_mut(ln.gamma.len()) {
        layer_norm(row, &ln.gamma, &ln.beta, eps);
    }
}
}

simd_dispatch! {
/// `hidden = LayerNorm(dense + bias + hidden)`, row by row; `dense` is the layer's product.
fn bias_residual_layer_norm(hidden: &mut [f32], dense: &[f32], bias: &[f32], ln: &LayerNorm, eps: f32) {
    let width = bias.len();
    for (h, d) in hidden.chunks_exact_mut(width).zip(dense.chunks_exact(width)) {
        // Same association as PyTorch: (dense + bias) + residual.
        for ((h, d), b) in h.iter_mut().zip(d).zip(bias) {
            *h += d + b;
        }
        layer_norm(h, &ln.gamma, &ln.beta, eps);
    }
}
}

simd_dispatch! {
/// Adds `bias` to every row of `m`.
fn add_bias(m: &mut [f32], bias: &[f32]) {
    for row in m.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
}
}

simd_dispatch! {
/// `m = gelu(m + bias)` row by row, with the exact (erf) GELU BERT uses.
fn bias_gelu(m: &mut [f32], bias: &[f32]) {
    for row in m.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            let v = *x + b;
            *x = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}
}

/// erf(x) for f32, max abs error ~1e-7 (Eigen/TensorFlow's rational approximation, clamped to
/// [-4, 4] where erf is +-1 in f32). Branch-free so it vectorises.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Coefficients as published.
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.72614225801306e-10_f32;
    p = p * x2 + 2.77068142495902e-08;
    p = p * x2 + -2.10102402082508e-06;
    p = p * x2 + -5.69250639462346e-05;
    p = p * x2 + -7.34990630326855e-04;
    p = p * x2 + -2.95459980854025e-03;
    p = p * x2 + -1.60960333262415e-02;
    let mut q = -1.45660718464996e-05_f32;
    q = q * x2 + -2.13374055278905e-04;
    q = q * x2 + -1.68282697438203e-03;
    q = q * x2 + -7.37332916720468e-03;
    q = q * x2 + -1.42647390514189e-02;
    x * p / q
}

/// e^x for x <= 0 (softmax inputs), relative error ~2 ulp (Cephes `expf` polynomial).
/// Rounds with the 1.5 * 2^23 trick instead of `round()`, which would not vectorise on SSE2.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Coefficients as published.
fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    // n is an integer in [-126, 0], so 2^n is a normal float whose biased exponent n + 127 we
    // read off the low mantissa bits of n + 127 + 2^23 (a float-to-int cast, saturating in Rust,
    // would not vectorise).
    let biased = (n + (127.0 + 8_388_608.0)).to_bits() << 23;
    e * f32::from_bits(biased)
}

simd_dispatch! {
/// In-place softmax of every `width`-wide row of attention scores `m`.
fn softmax_rows(m: &mut [f32], width: usize) {
    for row in m.chunks_exact_mut(width) {
        let max = max(row);
        for x in row.iter_mut() {
            *x = exp_nonpositive(*x - max);
        }
        let inv = 1.0 / sum(row);
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
}
}

/// Mean of the rows (one per token), then L2-normalised (as sentence-transformers' Normalize).
pub(super) fn mean_pool_normalised(rows: &[f32], width: usize) -> Vec<f32> {
    let mut acc = vec![0f32; width];
    let count = rows.len() / width;
    for row in rows.chunks_exact(width) {
        for (a, x) in acc.iter_mut().zip(row) {
            *a += x;
        }
    }
    let scale = 1.0 / count.max(1) as f32;
    acc.iter_mut().for_each(|a| *a *= scale);
    let norm = acc.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    acc.iter_mut().for_each(|a| *a /= norm);
    acc
}

#[cfg(test)]
mod tests {
    use super::{erf, exp_nonpositive};

    /// erf by its Taylor series in f64 (converges fast for |x| <= 4 with enough terms).
    fn erf_ref(x: f64) -> f64 {
        if x.abs() > 5.0 {
            return x.signum();
        }
        let (mut term, mut total) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst = 0f64;
        for i in -6000..=6000 {
            let x = i as f32 / 1000.0;
            worst = worst.max((f64::from(erf(x)) - erf_ref(f64::from(x))).abs());
        }
        assert!(worst < 1e-6, "max erf error {worst}");
    }

    #[test]
    fn exp_is_accurate() {
        for i in 0..=90_000 {
            let x = -(i as f32) / 1000.0;
            let (got, want) = (f64::from(exp_nonpositive(x)), f64::from(x).exp());
            assert!(
                (got - want).abs() <= want * 1e-6 + 1e-37,
                "exp({x}) = {got}, want {want}"
            );
        }
    }
}
