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

// One chunk's partial sum over weights [k0, k0 + kc) in the order of pq-impl.h: lanes over the
// whole groups, then the tail one weight at a time.
PQ_INLINE
float pq_vec_dot_chunk(const int v, const int bits, const uint8_t * x, const float * lut, const float * y,
                       int64_t k0, int64_t kc) {
    const int64_t g0 = k0 / PQ_GROUP, g1 = g0 + kc / PQ_GROUP;  // k0 is a multiple of PQ_KC
    int64_t g = g0;
    float sum = 0.0f;
#if defined(GGML_PQ_AVX2)
    // 8-float block b of the chunk into a[b % 4]: group g is blocks 2g, 2g+1, so an even group
    // feeds a0/a1 and an odd one a2/a3 (g0 is even: PQ_KC / PQ_GROUP is)
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (; g + 1 < g1; g += 2) {
        __m256 l0, h0, l1, h1;
        pq_load16(v, bits, x, lut, g,     &l0, &h0);
        pq_load16(v, bits, x, lut, g + 1, &l1, &h1);
        a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(y + 16*g),      a0);
        a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(y + 16*g + 8),  a1);
        a2 = _mm256_fmadd_ps(l1, _mm256_loadu_ps(y + 16*g + 16), a2);
        a3 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(y + 16*g + 24), a3);
    }
    if (g < g1) {
        __m256 l0, h0;
        pq_load16(v, bits, x, lut, g, &l0, &h0);
        a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(y + 16*g),     a0);
        a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(y + 16*g + 8), a1);
        g++;
    }
    sum = pq_hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
#elif defined(GGML_PQ_NEON)
    // 4-float block k of group g is block 4g + k: accumulator k
    float32x4_t a[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
    for (; g < g1; g++) {
        float32x4_t w[4];
        pq_load16(v, bits, x, lut, g, w);
        for (int k = 0; k < 4; k++) a[k] = vfmaq_f32(a[k], w[k], vld1q_f32(y + 16*g + 4*k));
    }
    sum = vaddvq_f32(vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3])));
#endif
    // the tail (scalar build: the whole chunk), from a sub-vector boundary (16 g is one)
    for (int64_t j = 16*g / v; j < (k0 + kc) / v; j++) {
        const float * e = lut + (size_t) pq_index(bits, x, j) * v;
        for (int t = 0; t < v; t++) sum = PQ_MADD(e[t], y[j*v + t], sum);
    }
    return sum;
}

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
