// bench-lut: is an f16 LUT faster than the f32 LUT for the 16-bit PQ types? (x86-64, AVX2+F16C)
// The f32 path is the shipped kernel (ggml_pq_vec_dot); the f16 path is the same loop with the
// table stored as halves (half the cache footprint: 1 MiB instead of 2 MiB for pq_8x16) and
// converted with vcvtph2ps. One thread, 11008 rows of 4096, random indices.
//
//   cc -O2 -mavx2 -mfma -mf16c -Iggml-ext/include ggml-ext/bench/bench-lut.c ggml-ext/src/*.c -lm
#include "ggml-pq.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

static float dot_f16_v8(const uint8_t * x, const uint16_t * lut, const float * y) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int j = 0; j < K_IN / 8; j += 2) {
        const uint32_t i0 = x[2*j] | x[2*j + 1] << 8, i1 = x[2*j + 2] | x[2*j + 3] << 8;
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (lut + 8*i0))), _mm256_loadu_ps(y + 8*j), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (lut + 8*i1))), _mm256_loadu_ps(y + 8*j + 8), a1);
    }
    __m256 a = _mm256_add_ps(a0, a1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

static float dot_f16_v4(const uint8_t * x, const uint16_t * lut, const float * y) {
    __m256 a0 = _mm256_setzero_ps();
    for (int j = 0; j < K_IN / 4; j += 2) {
        const uint32_t i0 = x[2*j] | x[2*j + 1] << 8, i1 = x[2*j + 2] | x[2*j + 3] << 8;
        const __m128i h = _mm_set_epi64x(*(const int64_t *) (lut + 4*i1), *(const int64_t *) (lut + 4*i0));
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(y + 4*j), a0);
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

int main(void) {
    const int types[] = { GGML_PQ_4X16, GGML_PQ_8X16 };
    printf("| type | LUT | LUT size | TG 1 col (ms) |\n|---|---|---:|---:|\n");
    for (int t = 0; t < 2; t++) {
        const struct ggml_pq_type_info * ti = ggml_pq_get_type(types[t]);
        const size_t rowb = (size_t) K_IN / ti->blck_size * ti->type_size, lutn = (size_t) 65536 * ti->v;
        uint8_t * w = malloc(rowb * N_OUT);
        float * lut = malloc(lutn * sizeof(float)), * y = malloc(K_IN * sizeof(float)), * out = malloc(N_OUT * sizeof(float));
        uint16_t * lut16 = malloc(lutn * sizeof(uint16_t));
        srand(1);
        for (size_t i = 0; i < rowb * N_OUT; i++) w[i] = (uint8_t) rand();
        for (size_t i = 0; i < lutn; i++) { lut[i] = (float) rand() / RAND_MAX - 0.5f; lut16[i] = _cvtss_sh(lut[i], 0); }
        for (int i = 0; i < K_IN; i++) y[i] = (float) rand() / RAND_MAX;
        double best32 = INFINITY, best16 = INFINITY, diff = 0;
        for (int rep = 0; rep < 10; rep++) {
            double t0 = now_s();
            for (int r = 0; r < N_OUT; r++) out[r] = ggml_pq_vec_dot(types[t], K_IN, w + r*rowb, lut, y);
            best32 = fmin(best32, now_s() - t0);
            t0 = now_s();
            for (int r = 0; r < N_OUT; r++) {
                const float d = ti->v == 8 ? dot_f16_v8(w + r*rowb, lut16, y) : dot_f16_v4(w + r*rowb, lut16, y);
                diff = fmax(diff, fabs(d - out[r]));
            }
            best16 = fmin(best16, now_s() - t0);
        }
        printf("| %s | f32 | %zu KiB | %.2f |\n", ti->name, lutn * 4 / 1024, best32 * 1e3);
        printf("| %s | f16 | %zu KiB | %.2f |\n", ti->name, lutn * 2 / 1024, best16 * 1e3);
        fprintf(stderr, "%s: max |f16 - f32| = %.3g (rounding of the table)\n", ti->name, diff);
        free(w); free(lut); free(y); free(out); free(lut16);
    }
    return 0;
}
