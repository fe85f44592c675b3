// Dot product of one PQ row with f32 activations: the token-generation path (one column).
#include "pq-impl.h"

float ggml_pq_vec_dot_ref(int type, int64_t n, const void * vx, const float * lut, const float * y) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    const uint8_t * x = (const uint8_t *) vx;
    const int v = ti->v;
    // double accumulator: the reference should be the most accurate sum, not the fastest
    double s = 0.0;
    for (int64_t j = 0; j < n / v; j++) {
        const float * e = lut + (size_t) pq_index(ti->bits, x, j) * v;
        for (int t = 0; t < v; t++) s += (double) e[t] * y[j*v + t];
    }
    return (float) s;
}

// One chunk's partial sum over weights [k0, k0 + kc) in the order of pq-impl.h: one vector
// accumulator over the whole groups, then the tail one weight at a time.
PQ_INLINE
float pq_vec_dot_chunk(const int v, const int bits, const uint8_t * x, const float * lut, const float * y,
                       int64_t k0, int64_t kc) {
    const int64_t g1 = k0 / PQ_GROUP + kc / PQ_GROUP;  // k0 is a multiple of PQ_KC
    int64_t g = k0 / PQ_GROUP;
    float sum = 0.0f;
#if defined(GGML_PQ_AVX2)
    __m256 a = _mm256_setzero_ps();
    for (; g < g1; g++) {
        __m256 lo, hi;
        pq_load16(v, bits, x, lut, g, &lo, &hi);
        a = _mm256_fmadd_ps(lo, _mm256_loadu_ps(y + 16*g),     a);
        a = _mm256_fmadd_ps(hi, _mm256_loadu_ps(y + 16*g + 8), a);
    }
    sum = pq_hsum(a);
#elif defined(GGML_PQ_NEON)
    float32x4_t a = vdupq_n_f32(0);
    for (; g < g1; g++) {
        float32x4_t w[4];
        pq_load16(v, bits, x, lut, g, w);
        for (int k = 0; k < 4; k++) a = vfmaq_f32(a, w[k], vld1q_f32(y + 16*g + 4*k));
    }
    sum = vaddvq_f32(a);
#else
    (void) g1;  // no lanes: the whole chunk is tail
#endif
    // the tail (scalar build: the whole chunk), from a sub-vector boundary (16 g is one)
    for (int64_t j = 16*g / v; j < (k0 + kc) / v; j++) {
        const float * e = lut + (size_t) pq_index(bits, x, j) * v;
        for (int t = 0; t < v; t++) sum = PQ_MADD(e[t], y[j*v + t], sum);
    }
    return sum;
}

// A single row is one dependent FMA chain (latency-bound): the mat-mul uses the 4-row kernel
// below; this is for the rows left over and for callers outside the mat-mul.
PQ_INLINE
float pq_vec_dot_kernel(const int v, const int bits, int64_t n, const uint8_t * x, const float * lut, const float * y) {
    float total = 0.0f;
    for (int64_t k0 = 0; k0 < n; k0 += PQ_KC) {
        const float part = pq_vec_dot_chunk(v, bits, x, lut, y, k0, n - k0 < PQ_KC ? n - k0 : PQ_KC);
        total = k0 == 0 ? part : total + part;
    }
    return total;
}
#define PQ_VEC_DOT(v, bits, ...) r = pq_vec_dot_kernel(v, bits, __VA_ARGS__)

float ggml_pq_vec_dot(int type, int64_t n, const void * x, const float * lut, const float * y) {
    float r = 0.0f;
    PQ_DISPATCH(type, PQ_VEC_DOT, n, (const uint8_t *) x, lut, y)
    return r;
}

// Four rows by nc (1 or 2) columns: eight independent chains, each in the order of one row's
// pq_vec_dot_chunk, and each group of activations loaded once for the four rows.
PQ_INLINE
void pq_vec_dot_4rows(const int v, const int bits, int64_t n, const uint8_t * x, size_t stride, const float * lut,
                      const float * y, int64_t ldy, const int nc, float out[8]) {
    for (int64_t k0 = 0; k0 < n; k0 += PQ_KC) {
        const int64_t kc = n - k0 < PQ_KC ? n - k0 : PQ_KC;
        const int64_t g1 = k0 / PQ_GROUP + kc / PQ_GROUP;
        int64_t g = k0 / PQ_GROUP;
        float part[8] = { 0 };
#if defined(GGML_PQ_AVX2)
        __m256 a[2][4];
        for (int c = 0; c < 2; c++) for (int i = 0; i < 4; i++) a[c][i] = _mm256_setzero_ps();
        for (; g < g1; g++) {
            __m256 ylo[2], yhi[2];
            for (int c = 0; c < nc; c++) {
                ylo[c] = _mm256_loadu_ps(y + c*ldy + 16*g);
                yhi[c] = _mm256_loadu_ps(y + c*ldy + 16*g + 8);
            }
            for (int i = 0; i < 4; i++) {
                __m256 lo, hi;
                pq_load16(v, bits, x + i*stride, lut, g, &lo, &hi);
                for (int c = 0; c < nc; c++) {
                    a[c][i] = _mm256_fmadd_ps(lo, ylo[c], a[c][i]);
                    a[c][i] = _mm256_fmadd_ps(hi, yhi[c], a[c][i]);
                }
            }
        }
        for (int c = 0; c < nc; c++) for (int i = 0; i < 4; i++) part[c*4 + i] = pq_hsum(a[c][i]);
#elif defined(GGML_PQ_NEON)
        float32x4_t a[2][4];
        for (int c = 0; c < 2; c++) for (int i = 0; i < 4; i++) a[c][i] = vdupq_n_f32(0);
        for (; g < g1; g++) {
            for (int i = 0; i < 4; i++) {
                float32x4_t w[4];
                pq_load16(v, bits, x + i*stride, lut, g, w);
                for (int c = 0; c < nc; c++) {
                    for (int k = 0; k < 4; k++) a[c][i] = vfmaq_f32(a[c][i], w[k], vld1q_f32(y + c*ldy + 16*g + 4*k));
                }
            }
        }
        for (int c = 0; c < nc; c++) for (int i = 0; i < 4; i++) part[c*4 + i] = vaddvq_f32(a[c][i]);
#else
        (void) g1;
#endif
        for (int64_t j = 16*g / v; j < (k0 + kc) / v; j++) {
            for (int i = 0; i < 4; i++) {
                const float * e = lut + (size_t) pq_index(bits, x + i*stride, j) * v;
                for (int t = 0; t < v; t++) {
                    for (int c = 0; c < nc; c++) part[c*4 + i] = PQ_MADD(e[t], y[c*ldy + j*v + t], part[c*4 + i]);
                }
            }
        }
        for (int o = 0; o < 4*nc; o++) out[o] = k0 == 0 ? part[o] : out[o] + part[o];
    }
}
#define PQ_VEC_DOT_4ROWS(v, bits, ...) \
    do { if (ncols == 2) pq_vec_dot_4rows(v, bits, __VA_ARGS__, 2, out); else pq_vec_dot_4rows(v, bits, __VA_ARGS__, 1, out); } while (0)

void ggml_pq_vec_dot_4rows(int type, int64_t n, const uint8_t * x, size_t stride, const float * lut,
                           const float * y, int64_t ldy, int ncols, float out[8]) {
    PQ_DISPATCH(type, PQ_VEC_DOT_4ROWS, n, x, stride, lut, y, ldy)
}

// Here, not in types.c: this file is compiled with the kernels' SIMD flags (the CPU backend),
// types.c with ggml-base's baseline flags.
const char * ggml_pq_simd(void) {
#if defined(GGML_PQ_AVX2)
    return "avx2";
#elif defined(GGML_PQ_NEON)
    return "neon";
#else
    return "scalar";
#endif
}
