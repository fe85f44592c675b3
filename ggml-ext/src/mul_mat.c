// Batched PQ x f32 product for prompt processing. A tile of PQ rows is decoded to floats once
// per chunk of the inner dimension and reused across a block of activation columns, so the
// table lookups are paid once per (weight, column block) and the rest is a dense f32 kernel.
#include "pq-impl.h"

// Tile sizes: RT rows x KC weights of decoded f32 (64 KiB, half of L2's share per core is
// not needed: it stays in L1/L2 while NC activation columns of KC floats (256 KiB) stream from L2.
#define PQ_RT 16
#define PQ_NC 64
// Up to this many columns, per-row dot products (vec_dot) beat decoding a tile.
#define PQ_VEC_DOT_MAX_COLS 2

void ggml_pq_mul_mat_ref(int type, int64_t n, const void * w, size_t wstride, int64_t r0, int64_t r1,
                         const float * lut, const float * scale,
                         const float * x, int64_t ldx, int64_t ncols, float * y, int64_t ldy) {
    for (int64_t r = r0; r < r1; r++) {
        const float s = scale ? scale[r] : 1.0f;
        for (int64_t c = 0; c < ncols; c++) {
            y[c*ldy + r] = s * ggml_pq_vec_dot_ref(type, n, (const uint8_t *) w + r*wstride, lut, x + c*ldx);
        }
    }
}

// out[c*4 + i] = dot(a row i, b column c) over one chunk of kc floats, 4 rows x 3 columns, in the
// order of pq-impl.h (the order vec_dot uses): one accumulator per output.
static void pq_kernel_4x3(const float * a, int64_t lda, const float * b, int64_t ldb, int64_t kc, float out[12]) {
    const int64_t ks = kc / PQ_GROUP * PQ_GROUP;  // lanes cover [0, ks), the tail the rest
    int64_t k = 0;
    for (int i = 0; i < 12; i++) out[i] = 0.0f;
#if defined(GGML_PQ_AVX2)
    __m256 acc[4][3];
    for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) acc[i][c] = _mm256_setzero_ps();
    for (; k < ks; k += 8) {
        const __m256 b0 = _mm256_loadu_ps(b + k), b1 = _mm256_loadu_ps(b + ldb + k), b2 = _mm256_loadu_ps(b + 2*ldb + k);
        for (int i = 0; i < 4; i++) {
            const __m256 ai = _mm256_loadu_ps(a + i*lda + k);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            acc[i][2] = _mm256_fmadd_ps(ai, b2, acc[i][2]);
        }
    }
    for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) out[c*4 + i] = pq_hsum(acc[i][c]);
#elif defined(GGML_PQ_NEON)
    float32x4_t acc[4][3];
    for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) acc[i][c] = vdupq_n_f32(0);
    for (; k < ks; k += 4) {
        const float32x4_t b0 = vld1q_f32(b + k), b1 = vld1q_f32(b + ldb + k), b2 = vld1q_f32(b + 2*ldb + k);
        for (int i = 0; i < 4; i++) {
            const float32x4_t ai = vld1q_f32(a + i*lda + k);
            acc[i][0] = vfmaq_f32(acc[i][0], ai, b0);
            acc[i][1] = vfmaq_f32(acc[i][1], ai, b1);
            acc[i][2] = vfmaq_f32(acc[i][2], ai, b2);
        }
    }
    for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) out[c*4 + i] = vaddvq_f32(acc[i][c]);
#else
    (void) ks;  // no lanes: the whole chunk is tail
#endif
    for (; k < kc; k++) {
        for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) out[c*4 + i] = PQ_MADD(a[i*lda + k], b[c*ldb + k], out[c*4 + i]);
    }
}

// One row by one column over a chunk, in the same order.
static float pq_dot_f32(const float * a, const float * b, int64_t kc) {
    const int64_t ks = kc / PQ_GROUP * PQ_GROUP;
    int64_t k = 0;
    float s = 0.0f;
#if defined(GGML_PQ_AVX2)
    __m256 acc = _mm256_setzero_ps();
    for (; k < ks; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    s = pq_hsum(acc);
#elif defined(GGML_PQ_NEON)
    float32x4_t acc = vdupq_n_f32(0);
    for (; k < ks; k += 4) acc = vfmaq_f32(acc, vld1q_f32(a + k), vld1q_f32(b + k));
    s = vaddvq_f32(acc);
#else
    (void) ks;  // no lanes: the whole chunk is tail
#endif
    for (; k < kc; k++) s = PQ_MADD(a[k], b[k], s);
    return s;
}

// Y holds the unscaled sum of the chunks done so far; the last chunk applies the row scale, so
// each element is scale * (((p0 + p1) + p2) ...) as in the vec_dot path.
static inline void pq_store(float * d, float part, int first, int last, float scale) {
    const float sum = first ? part : *d + part;
    *d = last ? scale * sum : sum;
}

void ggml_pq_mul_mat(int type, int64_t n, const void * w, size_t wstride, int64_t r0, int64_t r1,
                     const float * lut, const float * scale,
                     const float * x, int64_t ldx, int64_t ncols, float * y, int64_t ldy) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    if (ncols <= PQ_VEC_DOT_MAX_COLS) {
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            float o[8];
            ggml_pq_vec_dot_4rows(type, n, (const uint8_t *) w + r*wstride, wstride, lut, x, ldx, (int) ncols, o);
            for (int64_t c = 0; c < ncols; c++) {
                for (int i = 0; i < 4; i++) y[c*ldy + r + i] = (scale ? scale[r + i] : 1.0f) * o[c*4 + i];
            }
        }
        for (; r < r1; r++) {
            const float s = scale ? scale[r] : 1.0f;
            const uint8_t * wr = (const uint8_t *) w + r*wstride;
            for (int64_t c = 0; c < ncols; c++) y[c*ldy + r] = s * ggml_pq_vec_dot(type, n, wr, lut, x + c*ldx);
        }
        return;
    }
    float tile[PQ_RT * PQ_KC];
    for (int64_t k0 = 0; k0 < n; k0 += PQ_KC) {
        const int64_t kc = n - k0 < PQ_KC ? n - k0 : PQ_KC;
        const int     last = k0 + kc >= n;
        const size_t  wofs = (size_t) (k0 / ti->blck_size) * ti->type_size;  // k0 is a multiple of every block size
        for (int64_t c0 = 0; c0 < ncols; c0 += PQ_NC) {
            const int64_t nc = ncols - c0 < PQ_NC ? ncols - c0 : PQ_NC;
            for (int64_t t0 = r0; t0 < r1; t0 += PQ_RT) {
                const int64_t nr = r1 - t0 < PQ_RT ? r1 - t0 : PQ_RT;
                for (int64_t i = 0; i < nr; i++) {
                    ggml_pq_dequant_row(type, (const uint8_t *) w + (t0 + i)*wstride + wofs, tile + i*PQ_KC, kc, lut, 1.0f);
                }
                for (int64_t c = 0; c < nc; ) {
                    const float * xb = x + (c0 + c)*ldx + k0;
                    int64_t i = 0;
                    if (c + 3 <= nc) {
                        for (; i + 4 <= nr; i += 4) {
                            float o[12];
                            pq_kernel_4x3(tile + i*PQ_KC, PQ_KC, xb, ldx, kc, o);
                            for (int cc = 0; cc < 3; cc++) {
                                for (int ii = 0; ii < 4; ii++) {
                                    const int64_t r = t0 + i + ii;
                                    pq_store(y + (c0 + c + cc)*ldy + r, o[cc*4 + ii], k0 == 0, last, scale ? scale[r] : 1.0f);
                                }
                            }
                        }
                    }
                    const int64_t cw = c + 3 <= nc ? 3 : 1;  // columns this step covers
                    for (; i < nr; i++) {
                        const int64_t r = t0 + i;
                        for (int64_t cc = 0; cc < cw; cc++) {
                            pq_store(y + (c0 + c + cc)*ldy + r, pq_dot_f32(tile + i*PQ_KC, xb + cc*ldx, kc), k0 == 0,
                                     last, scale ? scale[r] : 1.0f);
                        }
                    }
                    c += cw;
                }
            }
        }
    }
}
