// ggml-pq: kernels for PocketGGUF's PQ tensor types (docs/FORMAT.md).
//
// A PQ row is a run of codebook indices; weight j*v+t of row r is
// scale[r] * lut[index(r, j)*v + t]. The LUT (2^bits rows of v floats, rows >= K zero)
// is built once per table at load time by running the stored decoder over the codebook.
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
    GGML_PQ_TYPE_END   = 107,
};

// One row per type, as format/types.go.
struct ggml_pq_type_info {
    const char * name;   // ggml type name, e.g. "pq_4x8"
    int v;               // sub-vector length
    int bits;            // index bits: 8, 12 or 16
    int blck_size;       // weights per block: v, or 2v for 12-bit
    int type_size;       // bytes per block
};

// NULL when type is not a PQ type.
const struct ggml_pq_type_info * ggml_pq_get_type(int type);

static inline int ggml_pq_is_pq(int type) { return type >= GGML_PQ_TYPE_FIRST && type < GGML_PQ_TYPE_END; }

// ---- table construction (lut.c) ----

// A table as stored in pocket.table.<G>.* (FORMAT.md "Keys").
struct ggml_pq_table {
    int v, k, latent;        // sub-vector length, entries K, latent dimension d
    int blocks, hidden;      // residual MLP blocks B and their width h
    const float * codebook;  // k*latent
    const float * decoder;   // ggml_pq_decoder_len() values
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

// ---- per-tensor state ----

#define GGML_PQ_EXTRA_MAGIC 0x31455150u  // "PQE1"

// What a PQ tensor carries in tensor->extra once its model is loaded. Owned by whoever loaded
// the model (llama_model); the kernels only read it.
struct ggml_pq_extra {
    uint32_t      magic;   // GGML_PQ_EXTRA_MAGIC
    int32_t       type;    // ggml type of the tensor it belongs to
    const float * lut;     // (1 << bits) * v floats
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

// Which SIMD the unsuffixed kernels use: "avx2", "neon" or "scalar".
const char * ggml_pq_simd(void);

#ifdef __cplusplus
}
#endif
