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

#if defined(GGML_PQ_AVX2)
static inline float pq_hsum256(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

#if defined(GGML_PQ_AVX2) || defined(GGML_PQ_NEON)
static inline __attribute__((always_inline))
float pq_vec_dot_simd(const int v, const int bits, int64_t n, const uint8_t * x, const float * lut, const float * y) {
    const int64_t ng = n / 16;
    int64_t g = 0;
    float sum;
#if defined(GGML_PQ_AVX2)
    // four accumulators: two groups in flight hide the FMA latency behind the table loads
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (; g + 1 < ng; g += 2) {
        __m256 l0, h0, l1, h1;
        pq_load16(v, bits, x, lut, g,     &l0, &h0);
        pq_load16(v, bits, x, lut, g + 1, &l1, &h1);
        a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(y + 16*g),      a0);
        a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(y + 16*g + 8),  a1);
        a2 = _mm256_fmadd_ps(l1, _mm256_loadu_ps(y + 16*g + 16), a2);
        a3 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(y + 16*g + 24), a3);
    }
    for (; g < ng; g++) {
        __m256 l0, h0;
        pq_load16(v, bits, x, lut, g, &l0, &h0);
        a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(y + 16*g),     a0);
        a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(y + 16*g + 8), a1);
    }
    sum = pq_hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
#else
    float32x4_t a[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
    for (; g < ng; g++) {
        float32x4_t w[4];
        pq_load16(v, bits, x, lut, g, w);
        for (int k = 0; k < 4; k++) a[k] = vfmaq_f32(a[k], w[k], vld1q_f32(y + 16*g + 4*k));
    }
    sum = vaddvq_f32(vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3])));
#endif
    for (int64_t j = ng*16/v; j < n / v; j++) {
        const float * e = lut + (size_t) pq_index(bits, x, j) * v;
        for (int t = 0; t < v; t++) sum += e[t] * y[j*v + t];
    }
    return sum;
}
#define PQ_VEC_DOT(v, bits, ...) r = pq_vec_dot_simd(v, bits, __VA_ARGS__)
#endif

float ggml_pq_vec_dot(int type, int64_t n, const void * x, const float * lut, const float * y) {
#if defined(GGML_PQ_AVX2) || defined(GGML_PQ_NEON)
    float r = 0.0f;
    PQ_DISPATCH(type, PQ_VEC_DOT, n, (const uint8_t *) x, lut, y)
    return r;
#else
    return ggml_pq_vec_dot_ref(type, n, x, lut, y);
#endif
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
