// Every index value through every kernel, under AddressSanitizer: for each
// PQ type a row holds all 2^bits indices (shuffled), the LUT is a heap block
// of exactly 2^bits*v floats and the row exactly its bytes, so a read
// outside either is reported. Results are checked against lut[index]*scale
// (rows >= K of a real LUT are zero; here every row is distinct so a wrong
// index shows). Runs the SIMD and the scalar (_ref) entry points.
#include "ggml-pq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t) rng; }

// FORMAT.md packing (8: b0; 16: b0|b1<<8; 12: two indices in three bytes).
static void pack(int bits, const uint32_t * idx, int64_t n, uint8_t * dst) {
    for (int64_t i = 0; i < n; i++) {
        if (bits == 8) dst[i] = (uint8_t) idx[i];
        else if (bits == 16) { dst[2*i] = (uint8_t) idx[i]; dst[2*i+1] = (uint8_t) (idx[i] >> 8); }
    }
    if (bits == 12) {
        for (int64_t i = 0; i + 1 < n; i += 2) {
            uint8_t * o = dst + i / 2 * 3;
            o[0] = (uint8_t) idx[i];
            o[1] = (uint8_t) ((idx[i] >> 8 & 0x0F) | (idx[i+1] << 4));
            o[2] = (uint8_t) (idx[i+1] >> 4);
        }
    }
}

static int close_to(float a, float b) { return fabsf(a - b) <= 1e-4f * (1.0f + fabsf(b)); }

static void test_type(int type) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    const int v = ti->v, rows = 1 << ti->bits;
    const int64_t nidx = rows, n = (int64_t) rows * v;  // one row holding every index once
    float * lut = malloc(sizeof(float) * (size_t) rows * v);
    for (int64_t i = 0; i < (int64_t) rows * v; i++) lut[i] = (float) (i % 1021) / 1021.0f - 0.5f;
    uint32_t * idx = malloc(sizeof(uint32_t) * nidx);
    for (int64_t i = 0; i < nidx; i++) idx[i] = (uint32_t) i;
    idx[0] = (uint32_t) rows - 1; idx[rows - 1] = 0;  // the largest index first, at the row start
    for (int64_t i = nidx - 1; i > 1; i--) { int64_t j = 1 + next_u32() % i; uint32_t t = idx[i]; idx[i] = idx[j]; idx[j] = t; }
    const size_t row_bytes = (size_t) (n / ti->blck_size) * ti->type_size;
    uint8_t * w = malloc(row_bytes * 2);  // two rows, for get_rows and mul_mat
    pack(ti->bits, idx, nidx, w);
    memcpy(w + row_bytes, w, row_bytes);
    float * y = malloc(sizeof(float) * n);
    float * ones = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    double want_sum = 0;
    for (int64_t j = 0; j < nidx; j++) for (int t = 0; t < v; t++) want_sum += lut[(size_t) idx[j] * v + t];

    for (int ref = 0; ref < 2; ref++) {
        const char * which = ref ? "ref" : ggml_pq_simd();
        (ref ? ggml_pq_dequant_row_ref : ggml_pq_dequant_row)(type, w, y, n, lut, 2.0f);
        int bad = 0;
        for (int64_t j = 0; j < nidx && !bad; j++)
            for (int t = 0; t < v; t++)
                if (!close_to(y[j*v + t], 2.0f * lut[(size_t) idx[j] * v + t])) { bad = 1; break; }
        CHECK(!bad, "%s %s: dequant_row differs from lut[index]*scale", ti->name, which);
        const float dot = (ref ? ggml_pq_vec_dot_ref : ggml_pq_vec_dot)(type, n, w, lut, ones);
        CHECK(fabs(dot - want_sum) <= 1e-3 * (1 + fabs(want_sum)), "%s %s: vec_dot %g, want %g", ti->name, which, dot, want_sum);
        float yy[2 * 3];
        const float scale[2] = {1.0f, -1.0f};
        (ref ? ggml_pq_mul_mat_ref : ggml_pq_mul_mat)(type, n, w, row_bytes, 0, 2, lut, scale, ones, 0, 3, yy, 2);
        for (int c = 0; c < 3; c++) {
            CHECK(fabs(yy[c*2] - want_sum) <= 1e-3 * (1 + fabs(want_sum)) && fabs(yy[c*2+1] + want_sum) <= 1e-3 * (1 + fabs(want_sum)),
                  "%s %s: mul_mat column %d: %g %g, want %g", ti->name, which, c, yy[c*2], yy[c*2+1], want_sum);
        }
    }
    const int32_t which_rows[2] = {1, 0};
    float * got = malloc(sizeof(float) * 2 * n);
    const float scale[2] = {0.5f, 3.0f};
    ggml_pq_get_rows(type, n, w, row_bytes, which_rows, 2, lut, scale, got, n);
    CHECK(close_to(got[0], 3.0f * lut[(size_t) idx[0] * v]) && close_to(got[n], 0.5f * lut[(size_t) idx[0] * v]),
          "%s: get_rows", ti->name);
    printf("%-8s %6d indices (0..%d) through dequant, vec_dot, mul_mat (%s and ref), get_rows: %s\n",
           ti->name, rows, rows - 1, ggml_pq_simd(), failures ? "FAIL" : "ok");
    free(got); free(ones); free(y); free(w); free(idx); free(lut);
}

int main(void) {
    // the plain types; the additive ones (4-bit codes, every value in every test) under ASan: test-pqa
    for (int type = GGML_PQ_TYPE_FIRST; type < GGML_PQA_4X8; type++) test_type(type);
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
