// Holds every PQ kernel equal to its scalar reference on random and adversarial data.
// Run by ctest (ggml-ext/CMakeLists.txt) natively and, cross-built, under qemu-aarch64.
#include "../include/ggml-pq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define PQ_RNG_SEED 0x9E3779B97F4A7C15ull
#include "pq-rng.h"

enum lut_kind { LUT_RANDOM, LUT_EXTREME, LUT_ZERO };
static const char * lut_kind_name[] = { "random", "extreme", "zero" };
enum idx_kind { IDX_RANDOM, IDX_ZERO_BYTES, IDX_EVERY_VALUE, IDX_ONES_BYTES };
static const char * idx_kind_name[] = { "random", "zero-bytes", "every-value", "0xFF-bytes" };

// LUT of 2^bits rows; extreme mixes +-65504, tiny (1e-30, subnormal 1e-40) and zero.
static void fill_lut(float * lut, size_t n, enum lut_kind kind) {
    static const float extremes[] = { 65504.0f, -65504.0f, 1e-30f, -1e-40f, 0.0f, 1.0f, -3.5f };
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
            case LUT_RANDOM:  lut[i] = frand(); break;
            case LUT_EXTREME: lut[i] = extremes[rng() % 7]; break;
            case LUT_ZERO:    lut[i] = 0.0f; break;
        }
    }
}

// Packs indices per FORMAT.md (mirror of format/pack.go) so every index value can be chosen.
static void pack(int bits, const uint32_t * idx, int64_t cnt, uint8_t * dst) {
    for (int64_t i = 0; i < cnt; i++) {
        if (bits == 8) dst[i] = (uint8_t) idx[i];
        else if (bits == 16) { dst[2*i] = (uint8_t) idx[i]; dst[2*i + 1] = (uint8_t) (idx[i] >> 8); }
    }
    if (bits == 12) {
        for (int64_t i = 0; i + 1 < cnt; i += 2) {
            uint32_t a = idx[i], b = idx[i + 1];
            uint8_t * o = dst + i/2*3;
            o[0] = (uint8_t) a; o[1] = (uint8_t) ((a >> 8 & 0x0F) | (b << 4)); o[2] = (uint8_t) (b >> 4);
        }
    }
}

static void fill_rows(const struct ggml_pq_type_info * ti, int64_t n, int64_t nrows, uint8_t * w, enum idx_kind kind, uint32_t * counter) {
    const int64_t nv = n / ti->v;
    const size_t rowb = (size_t) (n / ti->blck_size) * ti->type_size;
    uint32_t * idx = malloc(sizeof(uint32_t) * nv);
    for (int64_t r = 0; r < nrows; r++) {
        if (kind == IDX_ZERO_BYTES || kind == IDX_ONES_BYTES) {
            memset(w + r*rowb, kind == IDX_ZERO_BYTES ? 0 : 0xFF, rowb);
            continue;
        }
        for (int64_t j = 0; j < nv; j++) {
            idx[j] = kind == IDX_RANDOM ? (uint32_t) (rng() & ((1u << ti->bits) - 1))
                                        : (*counter)++ & ((1u << ti->bits) - 1);
        }
        pack(ti->bits, idx, nv, w + r*rowb);
    }
    free(idx);
}

// |got - want| within rel * sum|terms| (+ a floor for all-zero sums): float sums in any order
// stay inside this bound, a wrong index or lane does not.
static int close_enough(double got, double want, double mag, double rel) {
    return fabs(got - want) <= rel * mag + 1e-30 && isfinite(got) == isfinite(want);
}

static void check(int ok, const char * what, const char * type, int64_t n, const char * lk, const char * ik, int scaled, double got, double want) {
    if (!ok) {
        if (failures < 20) {
            fprintf(stderr, "FAIL %s %s n=%lld lut=%s idx=%s scale=%d: got %.9g want %.9g\n",
                    what, type, (long long) n, lk, ik, scaled, got, want);
        }
        failures++;
    }
}

// Magnitude sum for the tolerance of row r x column y.
static double magnitude(const struct ggml_pq_type_info * ti, const float * row_w, const float * y, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += fabs((double) row_w[i] * y[i]);
    (void) ti;
    return m;
}

static int64_t checks = 0;

static void test_type(int type, int64_t n) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    if (n % ti->blck_size != 0) return;  // FORMAT.md: such a row length is invalid for this type
    const int64_t nrows = 9, ncols = 7;  // odd sizes hit every tile edge of mul_mat
    const size_t rowb = (size_t) (n / ti->blck_size) * ti->type_size;
    const size_t lutn = ((size_t) 1 << ti->bits) * ti->v;
    float * lut = malloc(lutn * sizeof(float));
    uint8_t * w = malloc(rowb * nrows);
    float * x = malloc(sizeof(float) * n * ncols);
    float * deq = malloc(sizeof(float) * n), * deq_ref = malloc(sizeof(float) * n);
    float * y = malloc(sizeof(float) * nrows * ncols), * y_ref = malloc(sizeof(float) * nrows * ncols);
    float * gr = malloc(sizeof(float) * n * 3);
    float * dall = malloc(sizeof(float) * n * nrows);  // reference rows, unscaled
    float scale[9];
    uint32_t counter = 0;

    for (int lk = 0; lk < 3; lk++) {
        fill_lut(lut, lutn, (enum lut_kind) lk);
        for (int ik = 0; ik < 4; ik++) {
            fill_rows(ti, n, nrows, w, (enum idx_kind) ik, &counter);
            for (int i = 0; i < n * ncols; i++) x[i] = lk == LUT_EXTREME ? frand() * 4 : frand();
            for (int r = 0; r < nrows; r++) ggml_pq_dequant_row_ref(type, w + r*rowb, dall + r*n, n, lut, 1.0f);
            for (int scaled = 0; scaled < 2; scaled++) {
                for (int r = 0; r < nrows; r++) scale[r] = scaled ? (r == 3 ? 0.0f : frand() * 2) : 1.0f;
                const float * sc = scaled ? scale : NULL;
                const char * tn = ti->name, * lkn = lut_kind_name[lk], * ikn = idx_kind_name[ik];

                // dequant: exact (a copy times the scale)
                for (int r = 0; r < nrows; r++) {
                    ggml_pq_dequant_row(type, w + r*rowb, deq, n, lut, scale[r]);
                    ggml_pq_dequant_row_ref(type, w + r*rowb, deq_ref, n, lut, scale[r]);
                    int same = memcmp(deq, deq_ref, sizeof(float) * n) == 0;
                    check(same, "dequant", tn, n, lkn, ikn, scaled, same ? 0 : 1, 0);
                    checks++;
                }
                // vec_dot vs the double-precision reference
                for (int r = 0; r < nrows; r++) {
                    const float * d = dall + r*n;
                    const double mag = magnitude(ti, d, x, n);
                    const float got = ggml_pq_vec_dot(type, n, w + r*rowb, lut, x);
                    const float want = ggml_pq_vec_dot_ref(type, n, w + r*rowb, lut, x);
                    double direct = 0;  // independent check of the reference itself
                    for (int64_t i = 0; i < n; i++) direct += (double) d[i] * x[i];
                    check(close_enough(want, direct, mag, 1e-6), "vec_dot_ref", tn, n, lkn, ikn, scaled, want, direct);
                    check(close_enough(got, want, mag, 1e-5), "vec_dot", tn, n, lkn, ikn, scaled, got, want);
                    checks += 2;
                }
                // mul_mat over a row range that starts at 1 (thread partitions start anywhere),
                // with every column count up to ncols (the vec_dot and tiled paths both run)
                for (int64_t nc = 1; nc <= ncols; nc += 3) {
                    for (int i = 0; i < nrows * ncols; i++) y[i] = y_ref[i] = -7.0f;
                    ggml_pq_mul_mat(type, n, w, rowb, 1, nrows, lut, sc, x, n, nc, y, nrows);
                    ggml_pq_mul_mat_ref(type, n, w, rowb, 1, nrows, lut, sc, x, n, nc, y_ref, nrows);
                    for (int64_t c = 0; c < ncols; c++) {
                        for (int64_t r = 0; r < nrows; r++) {
                            const int64_t k = c*nrows + r;
                            if (r < 1 || c >= nc) {  // outside the range: untouched
                                check(y[k] == -7.0f, "mul_mat(untouched)", tn, n, lkn, ikn, scaled, y[k], -7.0);
                                continue;
                            }
                            const double mag = magnitude(ti, dall + r*n, x + c*n, n) * fabs(sc ? sc[r] : 1.0f);
                            check(close_enough(y[k], y_ref[k], mag, 1e-5), "mul_mat", tn, n, lkn, ikn, scaled, y[k], y_ref[k]);
                            checks++;
                        }
                    }
                }
                // get_rows: rows in any order, with repeats
                const int32_t rows[3] = { 8, 0, 8 };
                ggml_pq_get_rows(type, n, w, rowb, rows, 3, lut, sc, gr, n);
                for (int i = 0; i < 3; i++) {
                    ggml_pq_dequant_row_ref(type, w + rows[i]*rowb, deq_ref, n, lut, scale[rows[i]]);
                    int same = memcmp(gr + i*n, deq_ref, sizeof(float) * n) == 0;
                    check(same, "get_rows", tn, n, lkn, ikn, scaled, same ? 0 : 1, 0);
                    checks++;
                }
            }
        }
    }
    free(lut); free(w); free(x); free(deq); free(deq_ref); free(y); free(y_ref); free(gr); free(dall);
}

// Rows K..2^bits-1 of a LUT are zero; an identity decoder reproduces the codebook.
static void test_lut(void) {
    float codebook[3*4] = { 1, 2, 3, 4, -1, 0, .5f, 9, 7, 7, 7, 7 };
    float decoder[4*4 + 4] = { 0 };
    for (int i = 0; i < 4; i++) decoder[i*4 + i] = 1;
    struct ggml_pq_table t = { 4, 3, 4, 0, 0, codebook, decoder };
    int64_t bad;
    const char * err = ggml_pq_table_check(&t, 256, &bad);
    check(err == NULL, "table_check(identity)", "pq_4x8", 0, "", "", 0, err != NULL, 0);
    float lut[256*4];
    ggml_pq_build_lut(&t, 256, lut);
    for (int i = 0; i < 256*4; i++) {
        const float want = i < 12 ? codebook[i] : 0.0f;
        check(lut[i] == want, "build_lut(identity)", "pq_4x8", i, "", "", 0, lut[i], want);
    }
    // refusals
    decoder[5] = NAN;
    err = ggml_pq_table_check(&t, 256, &bad);
    check(err != NULL && bad == 5, "table_check(NaN decoder)", "", 0, "", "", 0, (double) bad, 5);
    decoder[5] = 0;
    t.k = 257;
    check(ggml_pq_table_check(&t, 256, &bad) != NULL, "table_check(k > 2^bits)", "", 0, "", "", 0, 0, 1);
    t.k = 3; t.v = 3;
    check(ggml_pq_table_check(&t, 256, &bad) != NULL, "table_check(v = 3)", "", 0, "", "", 0, 0, 1);
    checks += 4;
}

// "quick" (used under qemu, where float is emulated) drops the 11008-long rows.
int main(int argc, char ** argv) {
    static const int64_t lengths[] = { 64, 172, 4096, 11008 };
    const int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    printf("ggml-pq kernels: simd=%s%s\n", ggml_pq_simd(), quick ? " (quick: rows up to 4096)" : "");
    test_lut();
    for (int type = GGML_PQ_TYPE_FIRST; type < GGML_PQA_4X8; type++) {  // the PQA types: test-pqa.c
        for (int i = 0; i < (quick ? 3 : 4); i++) test_type(type, lengths[i]);
    }
    if (failures) {
        fprintf(stderr, "%d of %lld checks failed\n", failures, (long long) checks);
        return 1;
    }
    printf("ok: %lld checks\n", (long long) checks);
    return 0;
}
