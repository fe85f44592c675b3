// ggml-pq: kernels for PocketGGUF's PQ tensor types (docs/FORMAT.md).
//
// A PQ row is a run of codebook indices; weight j*v+t of row r is
// scale[r] * lut[index(r, j)*v + t]. The LUT (2^bits rows of v floats, rows >= K zero)
// is built once per table at load time by running the stored decoder over the codebook.
//
// The additive types (PQA, docs/FORMAT.md "Additive types") store M = bits/4 codes of 4 bits
// per sub-vector, one into each of M codebooks of 16 entries, and the weight is the sum of
// the M entries. Their rows are interleaved by 32 so that one 16-byte load holds one code of
// 32 rows; the mat-mul turns each activation column into int8 tables of <entry, x_j> once
// and sums table lookups done inside vector registers (pshufb / tbl).
//
// This header has no ggml dependency: the kernels are plain C over bytes and floats so
// they can be tested and benchmarked alone. The ggml glue (ggml-cpu-pq.c) and the
// llama.cpp load hook (patches/llama.cpp) sit on top.
//
// Every kernel has a scalar reference (suffix _ref), always compiled; the unsuffixed
// entry point uses AVX2 or NEON when the compiler targets them (__AVX2__/__ARM_NEON).
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ggml type ids of the PQ types (docs/FORMAT.md "Tensor types").
enum ggml_pq_type_id {
    GGML_PQ_TYPE_FIRST = 100,
    GGML_PQ_2X8        = 100,
    GGML_PQ_4X8        = 101,
    GGML_PQ_4X12       = 102,
    GGML_PQ_4X16       = 103,
    GGML_PQ_8X8        = 104,
    GGML_PQ_8X12       = 105,
    GGML_PQ_8X16       = 106,
    GGML_PQA_4X8       = 107,  // additive: v = 4, two 4-bit codes  (2 bits/weight)
    GGML_PQA_4X12      = 108,  // v = 4, three codes (3 bits/weight)
    GGML_PQA_8X8       = 109,  // v = 8, two codes   (1 bit/weight)
    GGML_PQA_8X12      = 110,  // v = 8, three codes (1.5 bits/weight)
    GGML_PQA_8X16      = 111,  // v = 8, four codes  (2 bits/weight)
    GGML_PQ_TYPE_END   = 112,
};

// One row per type, as format/types.go.
struct ggml_pq_type_info {
    const char * name;   // ggml type name, e.g. "pq_4x8"
    int v;               // sub-vector length
    int bits;            // index bits per sub-vector: 8, 12 or 16
    int blck_size;       // weights per block: v, or 2v for 12-bit
    int type_size;       // bytes per block
    int codebooks;       // M: 1 for the PQ types; bits/4 for the additive (PQA) types
    int max_k;           // entries a codebook may have: 2^bits, or 16 for PQA
};

// NULL when type is not a PQ type.
const struct ggml_pq_type_info * ggml_pq_get_type(int type);

static inline int ggml_pq_is_pq(int type) { return type >= GGML_PQ_TYPE_FIRST && type < GGML_PQ_TYPE_END; }
static inline int ggml_pq_is_additive(int type) { return type >= GGML_PQA_4X8 && type < GGML_PQ_TYPE_END; }

// ---- table construction (lut.c) ----

// A table as stored in pocket.table.<G>.* (FORMAT.md "Keys").
struct ggml_pq_table {
    int v, k, latent;        // sub-vector length, entries K (per codebook), latent dimension d
    int blocks, hidden;      // residual MLP blocks B and their width h
    const float * codebook;  // codebooks*k*latent (codebook-major, then entry-major)
    const float * decoder;   // ggml_pq_decoder_len() values
    int codebooks;           // M (pocket.table.<G>.codebooks); 0 is read as 1
};

int64_t ggml_pq_decoder_len(const struct ggml_pq_table * t);

// Checks shape and values as format/table.go Validate (max_k = 2^bits of the type).
// Returns NULL when valid, else a static message; writes the offending value index to *bad_index
// (or -1) when it is about a value.
const char * ggml_pq_table_check(const struct ggml_pq_table * t, int max_k, int64_t * bad_index);

// Fills lut[rows*v]: decoder output for entries < k, zero for the rest. rows >= k.
// Scratch is on the stack (latent <= 64, hidden <= 1024 as validated).
void ggml_pq_build_lut(const struct ggml_pq_table * t, int rows, float * lut);

// Exact GELU 0.5*x*(1+erf(x/sqrt2)) in float, as format.Gelu.
float ggml_pq_gelu(float x);

// Floats of the runtime table a tensor of this type reads (ggml_pq_extra.lut):
// PQ types 2^bits*v; PQA types M*v*16.
int64_t ggml_pq_lut_len(int type);

// Builds the runtime table of a tensor of this type from its stored table (t->v == the type's v;
// PQA: t->codebooks == the type's M). PQ types: ggml_pq_build_lut with 2^bits rows. PQA types:
// each codebook's 16 decoded entries (rows >= K zero), stored transposed per codebook,
// lut[(m*v + t)*16 + k] = component t of entry k of codebook m, so one column of 16 entries is
// one aligned vector for the activation-table build.
void ggml_pq_build_type_lut(int type, const struct ggml_pq_table * t, float * lut);

// ---- per-tensor state ----

#define GGML_PQ_EXTRA_MAGIC 0x31455150u  // "PQE1"

// What a PQ tensor carries in tensor->extra once its model is loaded. Owned by whoever loaded
// the model (llama_model); the kernels only read it.
struct ggml_pq_extra {
    uint32_t      magic;   // GGML_PQ_EXTRA_MAGIC
    int32_t       type;    // ggml type of the tensor it belongs to
    const float * lut;     // ggml_pq_lut_len(type) floats, from ggml_pq_build_type_lut
    const float * scale;   // one per row (ne1*ne2*ne3), or NULL for all 1
    int64_t       nrows;   // rows the scale array covers
};

// ---- row kernels (dequant.c, vec_dot.c, get_rows.c) ----

// y[0..n) = scale * weights of one row of n weights (n divisible by the block size).
void ggml_pq_dequant_row    (int type, const void * x, float * y, int64_t n, const float * lut, float scale);
void ggml_pq_dequant_row_ref(int type, const void * x, float * y, int64_t n, const float * lut, float scale);

// Returns sum_i w_i * y_i over one row (no row scale applied).
float ggml_pq_vec_dot    (int type, int64_t n, const void * x, const float * lut, const float * y);
float ggml_pq_vec_dot_ref(int type, int64_t n, const void * x, const float * lut, const float * y);

// dst[i*ldd .. +n) = row rows[i] of W, dequantized and scaled (rows must be in range).
void ggml_pq_get_rows(int type, int64_t n, const void * w, size_t wstride, const int32_t * rows, int64_t nrows,
                      const float * lut, const float * scale, float * dst, int64_t ldd);

// ---- batched product (mul_mat.c) ----

// Y[c*ldy + r] = scale[r] * dot(W row r, X column c) for r in [r0, r1), c in [0, ncols).
// W rows are wstride bytes apart, X columns ldx floats apart, each of n floats.
// scale may be NULL (all 1); it is indexed by r.
void ggml_pq_mul_mat    (int type, int64_t n, const void * w, size_t wstride, int64_t r0, int64_t r1,
                         const float * lut, const float * scale,
                         const float * x, int64_t ldx, int64_t ncols, float * y, int64_t ldy);
void ggml_pq_mul_mat_ref(int type, int64_t n, const void * w, size_t wstride, int64_t r0, int64_t r1,
                         const float * lut, const float * scale,
                         const float * x, int64_t ldx, int64_t ncols, float * y, int64_t ldy);

// ---- additive types (pqa.c, pqa_mul_mat.c): activation tables, then in-register lookups ----
//
// Layout of one matrix of nrows rows (docs/FORMAT.md "Additive types"): a row has P = (n/v)*M
// codes, position p = j*M + m (sub-vector j, codebook m). Rows 0 .. 32*floor(nrows/32)-1 are in
// groups of 32; group g starts at byte g*32*rowbytes and holds, for each position p, 16 bytes
// at p*16: byte b's low nibble is the code of row 32g+b, its high nibble that of row 32g+16+b.
// The nrows%32 rows after the last group are row-major, rowbytes = P/2 each: byte i holds
// positions 2i (low nibble) and 2i+1 (high nibble).
//
// Activation tables of one column x (ggml_pqa_act_size bytes, 64-byte aligned), with T = 255 for
// 8-bit tables (tbits = 8) and T = 65535 for 16-bit ones (tbits = 16):
//   e[p][k] = sum_t lut[(m*v + t)*16 + k] * x[j*v + t]   (t ascending: a multiply, then fmas)
//   positions are cut into blocks of GGML_PQA_QB; block b has scale s_b = R_b/T where
//   R_b = max over its positions of (max_k e - min_k e), and q[p][k] = round((e - min_k e) * (T/R_b))
//   clamped to 0..T (nearest even; R_b = 0 gives s_b = 0, q = 0); each block's minima summed in p
//   order give B_b, and bias = sum_b B_b in block order.
//   Bytes: 8-bit: q[p*16 + k]; 16-bit: the high bytes q>>8 at [p*16 + k], then the low bytes
//   q&255 at [P*16 + p*16 + k]; then the nblk scales s_b, then the nblk B_b (floats).
// Row result: Q_b(r) = sum_{p in b} q[p][code(r, p)] (exact integers, < 2^24),
//   acc = fma(s_b, Q_b, acc) over b ascending from acc = 0, y = scale[r] * (acc + bias).
// Integer sums are exact in any order, so the SIMD kernels, the scalar reference, the one-column
// and the batched paths and every thread split give the same bits.
// 8-bit tables are the fast default (a product's relative error about 0.7 %, the order of
// llama.cpp's 8-bit activations); 16-bit ones cost a second lookup pass and give the unpacked
// F32 twin's results to about 1e-5 (docs/bench/kernels.md).
#define GGML_PQA_QB 64
#define GGML_PQA_TABLE_BITS_DEFAULT 8

// Table bits the ggml op uses: the environment variable GGML_PQA_TABLE_BITS (8 or 16; unset or
// empty: GGML_PQA_TABLE_BITS_DEFAULT), read on the first call; any other value is reported on
// stderr and aborts. ggml_pqa_parse_table_bits gives 8 or 16 for a value, 0 for a bad one.
int ggml_pqa_table_bits(void);
int ggml_pqa_parse_table_bits(const char * s);

// Bytes of one column's activation tables for rows of n weights.
size_t ggml_pqa_act_size(int type, int64_t n, int tbits);

// Builds one column's activation tables into act (ggml_pqa_act_size bytes, 64-byte aligned).
void ggml_pqa_act_build    (int type, int64_t n, int tbits, const float * lut, const float * x, void * act);
void ggml_pqa_act_build_ref(int type, int64_t n, int tbits, const float * lut, const float * x, void * act);

// The same for table blocks [b0, b1) only, of ggml_pqa_act_blocks: threads may share one column
// by splitting its blocks (a column of a 4096-wide row has 32); any split writes the same bytes.
int64_t ggml_pqa_act_blocks(int type, int64_t n);
void ggml_pqa_act_build_blocks(int type, int64_t n, int tbits, const float * lut, const float * x, void * act,
                               int64_t b0, int64_t b1);

// Y[c*ldy + r] = scale[r] * row r . column c for r in [r0, r1), c in [0, ncols), from the columns'
// activation tables (act + c*act_stride). w is the whole matrix (nrows rows, rowbytes = P/2);
// r0 must be a multiple of 32, r1 a multiple of 32 or nrows. scale may be NULL (all 1).
void ggml_pqa_mul_mat    (int type, int64_t n, int tbits, const void * w, int64_t nrows, int64_t r0, int64_t r1,
                          const float * scale, const void * act, size_t act_stride, int64_t ncols,
                          float * y, int64_t ldy);
void ggml_pqa_mul_mat_ref(int type, int64_t n, int tbits, const void * w, int64_t nrows, int64_t r0, int64_t r1,
                          const float * scale, const void * act, size_t act_stride, int64_t ncols,
                          float * y, int64_t ldy);

// Row r of the matrix w (nrows rows) as floats: scale * sum_m entry (m ascending, from entry 0).
void ggml_pqa_dequant_row(int type, int64_t n, const void * w, int64_t nrows, int64_t r,
                          const float * lut, float scale, float * y);

// dst[i*ldd .. +n) = row rows[i] of the matrix w (nrows rows), dequantized and scaled.
void ggml_pqa_get_rows(int type, int64_t n, const void * w, int64_t nrows, const int32_t * rows, int64_t nget,
                       const float * lut, const float * scale, float * dst, int64_t ldd);

// Code of (row r, position p) in the layout above.
static inline int ggml_pqa_code(const uint8_t * w, int64_t nrows, int64_t P, int64_t r, int64_t p) {
    const int64_t full = nrows / 32 * 32;
    if (r < full) {
        const uint8_t b = w[(r / 32) * 16 * P + p * 16 + (r % 16)];
        return (r % 32) < 16 ? (b & 0x0F) : (b >> 4);
    }
    const uint8_t b = w[full * (P / 2) + (r - full) * (P / 2) + p / 2];
    return (p & 1) ? (b >> 4) : (b & 0x0F);
}

// Which SIMD the unsuffixed kernels use: "avx2", "neon" or "scalar".
const char * ggml_pq_simd(void);

#ifdef __cplusplus
}
#endif
