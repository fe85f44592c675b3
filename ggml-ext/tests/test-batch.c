// Batch invariance: Y(r, c) of ggml_pq_mul_mat must be bitwise the same
// whatever the number of columns in the batch (<= 2 columns take the vec_dot path, more the
// tiled path) and however the rows are split across threads (the ggml op hands each thread a
// row range [r0, r1), in multiples of 4). A difference here is what made greedy texts change
// under concurrent Ollama requests.
//
// For every PQ type: one weight (rows ending mid-tile, a row length with several PQ_KC chunks
// and a tail of fewer than 16 weights), batches of 1, 2, 3, 7, 64, 65 and 512 columns whose
// first columns are the same vectors; every shared column must match the 1-column result bit for
// bit, with the rows done in one range and in split ranges. Built for the SIMD and the scalar
// kernels; run natively and under qemu-aarch64 (NEON).
#include "../include/ggml-pq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PQ_RNG_SEED 0x2545F4914F6CDD1Dull
#include "pq-rng.h"

#define ROWS 21  // one 16-row tile, then 5 rows: 4 through the micro-kernel, 1 through the row dot

static int failures = 0;

// Y = W x over all rows, as `splits` threads of the ggml op would compute it.
static void mul_mat_split(int type, int64_t n, const uint8_t * w, size_t wstride, const float * lut,
                          const float * scale, const float * x, int64_t ncols, float * y, int splits) {
    int64_t dr = (ROWS + splits - 1) / splits;
    dr = (dr + 3) & ~(int64_t) 3;  // as pq_thread_rows in the ggml op
    for (int64_t r0 = 0; r0 < ROWS; r0 += dr) {
        const int64_t r1 = r0 + dr < ROWS ? r0 + dr : ROWS;
        ggml_pq_mul_mat(type, n, w, wstride, r0, r1, lut, scale, x, n, ncols, y, ROWS);
    }
}

static void test_type(int type) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    // 2 full chunks of 1024, then 48 + a tail of 16 - blck (none for 16-weight blocks)
    const int64_t n = 2096 + (16 - ti->blck_size) % 16;
    const size_t wstride = (size_t) (n / ti->blck_size) * ti->type_size;
    uint8_t * w = malloc(wstride * ROWS);
    const size_t lutn = ((size_t) 1 << ti->bits) * ti->v;
    float * lut = malloc(lutn * sizeof(float));
    float scale[ROWS];
    for (size_t i = 0; i < wstride * ROWS; i++) w[i] = (uint8_t) rng();
    for (size_t i = 0; i < lutn; i++) lut[i] = frand();
    for (int i = 0; i < ROWS; i++) scale[i] = 0.5f + 0.25f * frand();

    static const int64_t cols[] = { 1, 2, 3, 7, 64, 65, 512 };
    const int ncases = (int) (sizeof cols / sizeof cols[0]);
    const int64_t maxc = cols[ncases - 1];
    float * x = malloc(sizeof(float) * n * maxc);  // column c is the same vector in every batch
    for (int64_t i = 0; i < n * maxc; i++) x[i] = frand();
    float * first = malloc(sizeof(float) * ROWS * maxc);  // each column as computed alone
    float * y = malloc(sizeof(float) * ROWS * maxc);
    for (int64_t c = 0; c < maxc; c++) {
        ggml_pq_mul_mat(type, n, w, wstride, 0, ROWS, lut, scale, x + c*n, n, 1, first + c*ROWS, ROWS);
    }
    static const int splits[] = { 1, 2, 3 };  // row ranges of 21, of 12 + 9, of 8 + 8 + 5
    int bad = 0;
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < ncases; k++) {
            mul_mat_split(type, n, w, wstride, lut, scale, x, cols[k], y, splits[s]);
            int64_t diff = 0, at = -1;
            for (int64_t i = 0; i < ROWS * cols[k]; i++) {
                if (memcmp(&y[i], &first[i], sizeof(float)) != 0) { if (at < 0) at = i; diff++; }
            }
            if (diff) {
                fprintf(stderr, "FAIL %s n=%lld: %lld columns, %d thread range(s): %lld of %lld values differ "
                        "from the column alone; first at row %lld col %lld: %.9g vs %.9g\n",
                        ti->name, (long long) n, (long long) cols[k], splits[s], (long long) diff,
                        (long long) (ROWS * cols[k]), (long long) (at % ROWS), (long long) (at / ROWS),
                        y[at], first[at]);
                bad++;
            }
        }
    }
    if (!bad) printf("%s: columns of 1..512-column batches, 1-3 row ranges: bitwise equal\n", ti->name);
    failures += bad;
    free(w); free(lut); free(x); free(first); free(y);
}

int main(void) {
    printf("ggml-pq batch invariance: simd=%s\n", ggml_pq_simd());
    for (int t = GGML_PQ_TYPE_FIRST; t < GGML_PQA_4X8; t++) test_type(t);  // the PQA types: test-pqa.c
    if (failures) { fprintf(stderr, "%d cases failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
