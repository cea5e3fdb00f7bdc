//! Hand-written f32 BERT encoder forward pass on the CPU, with mean pooling and L2 normalisation.
//!
//! Replaces candle's `BertModel` for the in-process embedder because candle pads every sequence
//! of a batch to the longest, allocates a fresh buffer per element-wise op and runs GELU/softmax
//! as scalar code. Here a batch is *packed*: all tokens of all sequences form one
//! `[tokens x hidden]` matrix, so the dense layers (nearly all of the FLOPs) do no work on padding
//! and need no mask; only attention looks at sequence boundaries. Buffers are allocated once per
//! call and reused across layers, and bias adds are fused into GELU and residual + LayerNorm.
//!
//! Two product paths: batches (hundreds of rows per thread) use the `gemm` crate; one query uses
//! `packed`, over f16 weight panels packed at load, with the work of every step shared by a
//! `team` of spinning threads on separate cores (`placement`). A 30-token query went from
//! ~11 ms to 4-6 ms that way on two cores.

use gemm::Parallelism;
use safetensors::{Dtype, SafeTensors};

use matmul::{MatMut, MatRef, matmul};
use packed::{KernelIsa, PackedWeights};

/// The BERT hyper-parameters this forward pass needs (from the model's `config.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertDims {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_string()
}

/// A dense layer; `w` is stored transposed to `[in x out]` row-major so that one output row is
/// `input_row * w`, the layout `gemm` reads most cheaply for a row-major destination.
struct Linear {
    w: Vec<f32>,
    /// The same weights as column panels, for products over few rows (see `packed`); `None`
    /// where the CPU has no packed kernel.
    packed: Option<PackedWeights>,
    b: Vec<f32>,
    inp: usize,
    out: usize,
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections fused into one `[hidden x 3*hidden]` product.
    qkv: Linear,
    attn_out: Linear,
    attn_ln: LayerNorm,
    inter: Linear,
    out: Linear,
    out_ln: LayerNorm,
}

/// BERT encoder weights plus the fixed dimensions; immutable, shared across threads.
pub struct BertEncoder {
    dims: BertDims,
    eps: f32,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type table: every input here is a single segment.
    token_type0: Vec<f32>,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    /// The packed kernel this CPU runs, if any (see `packed`).
    isa: Option<KernelIsa>,
}

/// Reads one f32 tensor, accepting keys with or without the `bert.` prefix.
fn tensor(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let view = st
        .tensor(name)
        .or_else(|_| st.tensor(&format!("bert.{name}")))
        .map_err(|_| format!("tensor {name} is missing"))?;
    if view.dtype() != Dtype::F32 {
        return Err(format!("tensor {name} is {:?}, expected F32", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!(
            "tensor {name} has shape {:?}, expected {shape:?}",
            view.shape()
        ));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Transposes a row-major `[rows x cols]` matrix into `[cols x rows]`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; m.len()];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            t[c * rows + r] = x;
        }
    }
    t
}

fn linears(
    isa: Option<KernelIsa>,
    st: &SafeTensors<'_>,
    names: &[&str],
    inp: usize,
    outs: usize,
) -> Result<Linear, String> {
    // PyTorch stores `[out x in]`; concatenating several along `out` fuses their products.
    let mut w = Vec::with_capacity(names.len() * outs * inp);
    let mut b = Vec::with_capacity(names.len() * outs);
    for name in names {
        w.extend(tensor(st, &format!("{name}.weight"), &[outs, inp])?);
        b.extend(tensor(st, &format!("{name}.bias"), &[outs])?);
    }
    let out = names.len() * outs;
    let w = transpose(&w, out, inp);
    Ok(Linear {
        packed: isa.map(|_| PackedWeights::pack(&w, inp, out)),
        w,
        b,
        inp,
        out,
    })
}

fn layer_norm(st: &SafeTensors<'_>, name: &str, hidden: usize) -> Result<LayerNorm, String> {
    Ok(LayerNorm {
        gamma: tensor(st, &format!("{name}.weight"), &[hidden])?,
        beta: tensor(st, &format!("{name}.bias"), &[hidden])?,
    })
}

impl BertEncoder {
    /// Builds the encoder from the bytes of a `model.safetensors` file.
    pub fn from_safetensors(bytes: &[u8], dims: BertDims) -> Result<Self, String> {
        if dims.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act {:?} is not supported (only exact \"gelu\")",
                dims.hidden_act
            ));
        }
        if dims.num_attention_heads == 0
            || !dims.hidden_size.is_multiple_of(dims.num_attention_heads)
        {
            return Err("hidden_size is not a multiple of num_attention_heads".to_string());
        }
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let (h, i) = (dims.hidden_size, dims.intermediate_size);
        let isa = KernelIsa::detect();
        let token_types = tensor(
            &st,
            "embeddings.token_type_embeddings.weight",
            &[dims.type_vocab_size, h],
        )?;
        let mut layers = Vec::with_capacity(dims.num_hidden_layers);
        for l in 0..dims.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let s = format!("{p}.attention.self");
            layers.push(Layer {
                qkv: linears(
                    isa,
                    &st,
                    &[
                        &format!("{s}.query"),
                        &format!("{s}.key"),
                        &format!("{s}.value"),
                    ],
                    h,
                    h,
                )?,
                attn_out: linears(isa, &st, &[&format!("{p}.attention.output.dense")], h, h)?,
                attn_ln: layer_norm(&st, &format!("{p}.attention.output.LayerNorm"), h)?,
                inter: linears(isa, &st, &[&format!("{p}.intermediate.dense")], h, i)?,
                out: linears(isa, &st, &[&format!("{p}.output.dense")], i, h)?,
                out_ln: layer_norm(&st, &format!("{p}.output.LayerNorm"), h)?,
            });
        }
        Ok(Self {
            word: tensor(
                &st,
                "embeddings.word_embeddings.weight",
                &[dims.vocab_size, h],
            )?,
            position: tensor(
                &st,
                "embeddings.position_embeddings.weight",
                &[dims.max_position_embeddings, h],
            )?,
            token_type0: token_types[..h].to_vec(),
            emb_ln: layer_norm(&st, "embeddings.LayerNorm", h)?,
            layers,
            isa,
            eps: dims.layer_norm_eps as f32,
            dims,
        })
    }

    /// Mean-pooled, L2-normalised embeddings of `seqs` (token ids incl. special tokens, each
    /// non-empty and at most `max_position_embeddings` long), in input order. Uses up to
    /// `threads` threads of the current rayon pool.
    pub fn embed(&self, seqs: &[&[u32]], threads: usize) -> Result<Vec<Vec<f32>>, String> {
        for ids in seqs {
            if ids.is_empty() || ids.len() > self.dims.max_position_embeddings {
                return Err(format!("sequence of {} tokens is out of range", ids.len()));
            }
            if let Some(&bad) = ids.iter().find(|&&t| t as usize >= self.dims.vocab_size) {
                return Err(format!("token id {bad} is outside the vocabulary"));
            }
        }
        let groups = split_groups(seqs, threads);
        if groups.len() <= 1 {
            // One group (one sequence, or a few short ones): the threads share each product.
            return Ok(if threads <= 1 {
                self.forward_packed(seqs, PassThreads::One)
            } else if self.isa.is_some() {
                team::with_team(threads - 1, |team| {
                    self.forward_packed(seqs, PassThreads::Team(team))
                })
            } else {
                self.forward_packed(seqs, PassThreads::Gemm(threads))
            });
        }
        // Independent groups keep each thread busy for a whole forward pass, with no
        // synchronisation per layer.
        let parts: Vec<Vec<Vec<f32>>> = {
            use rayon::prelude::*;
            groups
                .par_iter()
                .map(|r| self.forward_packed(&seqs[r.clone()], PassThreads::One))
                .collect()
        };
        Ok(parts.into_iter().flatten().collect())
    }

    /// Runs the encoder over the packed sequences on the calling thread (the products may use
    /// more), then mean-pools each sequence.
    fn forward_packed(&self, seqs: &[&[u32]], threads: PassThreads<'_>) -> Vec<Vec<f32>> {
        let hd = self.dims.hidden_size;
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        let mut hidden = vec![0f32; total * hd];
        let mut qkv = vec![0f32; total * 3 * hd];
        let mut ctx = vec![0f32; total * hd];
        let mut tmp = vec![0f32; total * hd];
        let mut inter = vec![0f32; total * self.dims.intermediate_size];

        // Embeddings: word + token type + position, summed in that order (as BERT does).
        let mut rows = hidden.chunks_exact_mut(hd);
        for ids in seqs {
            for (pos, &id) in ids.iter().enumerate() {
                let row = rows.next().expect("hidden has one row per token");
                let word = &self.word[id as usize * hd..][..hd];
                let position = &self.position[pos * hd..][..hd];
                for (((o, w), t), p) in row
                    .iter_mut()
                    .zip(word)
                    .zip(&self.token_type0)
                    .zip(position)
                {
                    *o = w + t + p;
                }
            }
        }
        kernels::layer_norm_rows(&mut hidden, &self.emb_ln, self.eps);

        let (inter_width, eps) = (self.dims.intermediate_size, self.eps);
        for layer in &self.layers {
            self.linear(&mut qkv, &hidden, &layer.qkv, total, threads);
            threads.rows(&mut qkv, 3 * hd, &|_, rows| {
                kernels::add_bias(rows, &layer.qkv.b);
            });
            self.attention(&qkv, &mut ctx, seqs, threads);
            self.linear(&mut tmp, &ctx, &layer.attn_out, total, threads);
            threads.rows(&mut hidden, hd, &|first, rows| {
                let dense = &tmp[first * hd..][..rows.len()];
                kernels::bias_residual_layer_norm(
                    rows,
                    dense,
                    &layer.attn_out.b,
                    &layer.attn_ln,
                    eps,
                );
            });
            self.linear(&mut inter, &hidden, &layer.inter, total, threads);
            threads.rows(&mut inter, inter_width, &|_, rows| {
                kernels::bias_gelu(rows, &layer.inter.b);
            });
            self.linear(&mut tmp, &inter, &layer.out, total, threads);
            threads.rows(&mut hidden, hd, &|first, rows| {
                let dense = &tmp[first * hd..][..rows.len()];
                kernels::bias_residual_layer_norm(rows, dense, &layer.out.b, &layer.out_ln, eps);
            });
        }

        let mut vectors = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for ids in seqs {
            let rows = &hidden[start * hd..(start + ids.len()) * hd];
            vectors.push(kernels::mean_pool_normalised(rows, hd));
            start += ids.len();
        }
        vectors
    }
}

/// Splits sequences into at most `threads` contiguous groups of similar cost, or one group when
/// the batch is too small for the split to pay off.
fn split_groups(seqs: &[&[u32]], threads: usize) -> Vec<std::ops::Range<usize>> {
    // Dense layers cost ~len, attention ~len^2; 300 is roughly where they match for MiniLM.
    let cost = |s: &&[u32]| s.len() as f64 * (1.0 + s.len() as f64 / 300.0);
    let total: f64 = seqs.iter().map(cost).sum();
    let tokens: usize = seqs.iter().map(|s| s.len()).sum();
    let groups = threads.min(seqs.len());
    if groups <= 1 || tokens < 64 * groups {
        return std::iter::once(0..seqs.len()).collect();
    }
    let mut ranges = Vec::with_capacity(groups);
    let (mut start, mut acc) = (0, 0.0);
    for (i, s) in seqs.iter().enumerate() {
        acc += cost(s);
        let target = total * (ranges.len() + 1) as f64 / groups as f64;
        if acc >= target && ranges.len() + 1 < groups && i + 1 < seqs.len() {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    ranges.push(start..seqs.len());
    ranges
}

/// Up to this many token rows, a single-threaded dense layer uses the packed kernel instead of
/// `gemm` (see `packed`): below it, `gemm`'s per-call weight packing costs more than the
/// product. A team always uses the packed kernel: shared over two cores it beat `gemm` at every
/// length of one sequence (256 tokens: 38 ms against 45), while on the hundreds of rows of a
/// batch group `gemm`'s blocking is twice as fast.
const PACKED_MAX_ROWS: usize = 96;

/// How one forward pass uses threads.
#[derive(Clone, Copy)]
enum PassThreads<'a> {
    One,
    /// `gemm` splits each product over this many rayon threads.
    Gemm(usize),
    /// Few rows: the packed products split their panels over a spinning team.
    Team(&'a team::Team),
}

impl PassThreads<'_> {
    /// Runs `task(first_row, rows)` over `m` (rows of `width` values): in parts across the
    /// team, or over all rows at once.
    fn rows(self, m: &mut [f32], width: usize, task: &(dyn Fn(usize, &mut [f32]) + Sync)) {
        match self {
            PassThreads::Team(team) => team.for_each_rows(m, width, task),
            _ => task(0, m),
        }
    }
}

impl BertEncoder {
    /// `dst[rows x out] = src[rows x in] * w` (bias added by the caller's fused epilogue).
    fn linear(
        &self,
        dst: &mut [f32],
        src: &[f32],
        lin: &Linear,
        rows: usize,
        threads: PassThreads<'_>,
    ) {
        let team = match threads {
            PassThreads::Team(team) => Some(team),
            _ => None,
        };
        if (team.is_some() || rows <= PACKED_MAX_ROWS)
            && let (Some(packed), Some(isa)) = (&lin.packed, self.isa)
        {
            return packed::product(&mut dst[..rows * lin.out], src, packed, rows, isa, team);
        }
        let par = match threads {
            PassThreads::Gemm(n) => Parallelism::Rayon(n),
            _ => Parallelism::None,
        };
        gemm_linear(dst, src, lin, rows, par);
    }
}

/// [`BertEncoder::linear`] through `gemm`.
fn gemm_linear(dst: &mut [f32], src: &[f32], lin: &Linear, rows: usize, par: Parallelism) {
    let a = MatRef {
        data: src,
        rows,
        cols: lin.inp,
        rs: lin.inp,
        cs: 1,
    };
    let b = MatRef {
        data: &lin.w,
        rows: lin.inp,
        cols: lin.out,
        rs: lin.out,
        cs: 1,
    };
    matmul(
        MatMut {
            data: dst,
            rows,
            cols: lin.out,
            rs: lin.out,
        },
        a,
        b,
        1.0,
        par,
    );
}

mod attention;
mod kernels;
mod matmul;
mod packed;
mod placement;
mod team;
