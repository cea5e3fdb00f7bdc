//! Multi-head self-attention over the packed token rows, one sequence and head at a time.

use std::sync::OnceLock;

use gemm::Parallelism;

use super::matmul::{MatMut, MatRef, matmul};
use super::{BertEncoder, PassThreads, kernels};

impl BertEncoder {
    /// Self-attention of every sequence (sequences never attend to each other, so the packed
    /// layout needs no mask). Writes the heads' outputs side by side in `ctx`. With a team, the
    /// (sequence, head) pairs are shared out: alone, they were a quarter of a query's time, with
    /// the second core idle.
    pub(super) fn attention(
        &self,
        qkv: &[f32],
        ctx: &mut [f32],
        seqs: &[&[u32]],
        threads: PassThreads<'_>,
    ) {
        let hd = self.dims.hidden_size;
        let heads = self.dims.num_attention_heads;
        let dh = hd / heads;
        let mut starts = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for ids in seqs {
            starts.push(start);
            start += ids.len();
        }
        let PassThreads::Team(team) = threads else {
            let max_len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
            let mut scores = vec![0f32; max_len * max_len];
            for (ids, &start) in seqs.iter().zip(&starts) {
                let len = ids.len();
                let ctx_rows = &mut ctx[start * hd..(start + len) * hd];
                for h in 0..heads {
                    let out = MatMut {
                        data: &mut ctx_rows[h * dh..],
                        rows: len,
                        cols: dh,
                        rs: hd,
                    };
                    self.head_attention(qkv, start, len, h, out, &mut scores[..len * len]);
                }
            }
            return;
        };
        // Each part writes its own `[len x dh]` block; they are copied into `ctx` afterwards,
        // since the heads' columns interleave in memory.
        let outputs: Vec<OnceLock<Vec<f32>>> =
            (0..seqs.len() * heads).map(|_| OnceLock::new()).collect();
        team.for_each(outputs.len(), &|part| {
            let (s, h) = (part / heads, part % heads);
            let len = seqs[s].len();
            let mut block = vec![0f32; len * dh];
            let mut scores = vec![0f32; len * len];
            let out = MatMut {
                data: &mut block,
                rows: len,
                cols: dh,
                rs: dh,
            };
            self.head_attention(qkv, starts[s], len, h, out, &mut scores);
            outputs[part].set(block).expect("each part runs once");
        });
        for (part, block) in outputs.into_iter().enumerate() {
            let (s, h) = (part / heads, part % heads);
            let block = block.into_inner().expect("every part ran");
            for (i, row) in block.chunks_exact(dh).enumerate() {
                ctx[(starts[s] + i) * hd + h * dh..][..dh].copy_from_slice(row);
            }
        }
    }

    /// Head `h` of the sequence at rows `start..start + len`: `out = softmax(Q K^T / sqrt(dh)) V`.
    fn head_attention(
        &self,
        qkv: &[f32],
        start: usize,
        len: usize,
        h: usize,
        out: MatMut<'_>,
        scores: &mut [f32],
    ) {
        let hd = self.dims.hidden_size;
        let dh = hd / self.dims.num_attention_heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let rows = &qkv[start * 3 * hd..(start + len) * 3 * hd];
        let q = MatRef {
            data: &rows[h * dh..],
            rows: len,
            cols: dh,
            rs: 3 * hd,
            cs: 1,
        };
        // K^T: element (d, j) is K[j, d].
        let kt = MatRef {
            data: &rows[hd + h * dh..],
            rows: dh,
            cols: len,
            rs: 1,
            cs: 3 * hd,
        };
        let v = MatRef {
            data: &rows[2 * hd + h * dh..],
            rows: len,
            cols: dh,
            rs: 3 * hd,
            cs: 1,
        };
        let score_matrix = MatMut {
            data: scores,
            rows: len,
            cols: len,
            rs: len,
        };
        matmul(score_matrix, q, kt, scale, Parallelism::None);
        kernels::softmax_rows(scores, len);
        let p = MatRef {
            data: scores,
            rows: len,
            cols: len,
            rs: len,
            cs: 1,
        };
        matmul(out, p, v, 1.0, Parallelism::None);
    }
}
