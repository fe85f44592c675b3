// Dequantize one PQ row to floats: used by get_rows, the unpack tests and GPU fall-backs.
#include "pq-impl.h"

void ggml_pq_dequant_row_ref(int type, const void * vx, float * y, int64_t n, const float * lut, float scale) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    const uint8_t * x = (const uint8_t *) vx;
    const int v = ti->v;
    for (int64_t j = 0; j < n / v; j++) {
        const float * e = lut + (size_t) pq_index(ti->bits, x, j) * v;
        for (int t = 0; t < v; t++) y[j*v + t] = scale * e[t];
    }
}

#if defined(GGML_PQ_AVX2) || defined(GGML_PQ_NEON)
static inline __attribute__((always_inline))
void pq_dequant_simd(const int v, const int bits, const uint8_t * x, float * y, int64_t n, const float * lut, float scale) {
    const int64_t ng = n / 16;
#if defined(GGML_PQ_AVX2)
    const __m256 s = _mm256_set1_ps(scale);
    for (int64_t g = 0; g < ng; g++) {
        __m256 lo, hi;
        pq_load16(v, bits, x, lut, g, &lo, &hi);
        _mm256_storeu_ps(y + 16*g,     _mm256_mul_ps(lo, s));
        _mm256_storeu_ps(y + 16*g + 8, _mm256_mul_ps(hi, s));
    }
#else
    for (int64_t g = 0; g < ng; g++) {
        float32x4_t w[4];
        pq_load16(v, bits, x, lut, g, w);
        for (int k = 0; k < 4; k++) vst1q_f32(y + 16*g + 4*k, vmulq_n_f32(w[k], scale));
    }
#endif
    // tail: fewer than 16 weights, starting at an even sub-vector
    for (int64_t j = ng*16/v; j < n / v; j++) {
        const float * e = lut + (size_t) pq_index(bits, x, j) * v;
        for (int t = 0; t < v; t++) y[j*v + t] = scale * e[t];
    }
}
#define PQ_DEQUANT(v, bits, ...) pq_dequant_simd(v, bits, __VA_ARGS__)
#endif

void ggml_pq_dequant_row(int type, const void * x, float * y, int64_t n, const float * lut, float scale) {
#if defined(GGML_PQ_AVX2) || defined(GGML_PQ_NEON)
    PQ_DISPATCH(type, PQ_DEQUANT, (const uint8_t *) x, y, n, lut, scale)
#else
    ggml_pq_dequant_row_ref(type, x, y, n, lut, scale);
#endif
}
