//! Safe, bounds-checked wrapper around `gemm`'s raw-pointer matrix product, with strided views.

use gemm::Parallelism;

/// A strided read-only matrix view over a slice.
#[derive(Clone, Copy)]
pub(super) struct MatRef<'a> {
    pub(super) data: &'a [f32],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

/// A row-major (unit column stride) writable matrix view over a slice.
pub(super) struct MatMut<'a> {
    pub(super) data: &'a mut [f32],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
}

/// Highest element offset a view touches, +1 (0 for an empty view).
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `dst = scale * a * b`, overwriting `dst`.
pub(super) fn matmul(dst: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, scale: f32, par: Parallelism) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert_eq!(
        (dst.rows, dst.cols),
        (a.rows, b.cols),
        "output shape differs"
    );
    // These bounds checks are what make the raw-pointer call below sound.
    assert!(
        extent(a.rows, a.cols, a.rs, a.cs) <= a.data.len(),
        "lhs view out of bounds"
    );
    assert!(
        extent(b.rows, b.cols, b.rs, b.cs) <= b.data.len(),
        "rhs view out of bounds"
    );
    assert!(
        extent(dst.rows, dst.cols, dst.rs, 1) <= dst.data.len(),
        "dst view out of bounds"
    );
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    // SAFETY: `gemm` only has a raw-pointer API. Every element it reads or writes lies inside the
    // slices, as checked above; `dst` is a unique borrow, so it aliases neither input; strides fit
    // in isize because they index existing allocations. With `read_dst = false`, `dst` is only
    // written, and alpha is ignored.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            a.cols,
            dst.data.as_mut_ptr(),
            1,
            dst.rs as isize,
            false,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            0.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
}
