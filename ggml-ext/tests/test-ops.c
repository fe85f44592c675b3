// The patched ggml ops on PQ weights against the same ops on their dequantized F32 copy:
// mul_mat (1, 5 and 40 columns: vec_dot and tiled paths), mul_mat_id on a 3-D expert tensor
// (row scales indexed across experts) and get_rows, with 1 and 3 threads, every PQ type; and
// mul_mat results that do not depend on the batch size or the thread count.
#include "ggml.h"
#include "ggml-cpu.h"
#include "ggml-pq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 7;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float frand(void) { return (float) ((rng() >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }

static int failures = 0;

// max |a-b| / max |b| over two f32 tensors of the same shape
static double rel_err(const struct ggml_tensor * a, const struct ggml_tensor * b) {
    double d = 0, m = 0;
    for (int64_t i = 0; i < ggml_nelements(b); i++) {
        d = fmax(d, fabs((double) ((float *) a->data)[i] - ((float *) b->data)[i]));
        m = fmax(m, fabs((double) ((float *) b->data)[i]));
    }
    return m > 0 ? d / m : d;
}

static void check(const char * what, const char * type, int threads, double err) {
    if (getenv("PQ_TEST_VERBOSE")) fprintf(stderr, "%s %s %d: %.3g\n", what, type, threads, err);
    if (!(err < 1e-5)) {
        fprintf(stderr, "FAIL %s %s threads=%d: relative error %.3g\n", what, type, threads, err);
        failures++;
    }
}

static void test_type(enum ggml_type type) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type((int) type);
    const int64_t n = 256, rows = 37, experts = 3;  // 37: thread ranges and tiles end mid-way
    struct ggml_init_params ip = { 64u << 20, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);

    // a 3-D PQ tensor [n, rows, experts] with its table and row scales, and its F32 copy
    struct ggml_tensor * wq = ggml_new_tensor_3d(ctx, type, n, rows, experts);
    struct ggml_tensor * wf = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n, rows, experts);
    const size_t lutn = ((size_t) 1 << ti->bits) * ti->v;
    float * lut = malloc(lutn * sizeof(float));
    float * scale = malloc(sizeof(float) * rows * experts);
    for (size_t i = 0; i < lutn; i++) lut[i] = frand();
    for (int64_t i = 0; i < rows * experts; i++) scale[i] = 0.5f + frand() * 0.25f;
    for (size_t i = 0; i < ggml_nbytes(wq); i++) ((uint8_t *) wq->data)[i] = (uint8_t) rng();
    struct ggml_pq_extra extra = { GGML_PQ_EXTRA_MAGIC, (int32_t) type, lut, scale, rows * experts };
    wq->extra = &extra;
    for (int64_t r = 0; r < rows * experts; r++) {
        ggml_pq_dequant_row_ref((int) type, (const uint8_t *) wq->data + r * wq->nb[1], (float *) wf->data + r * n, n, lut, scale[r]);
    }
    // 2-D views for mul_mat / get_rows: the first expert, which owns rows 0..rows-1 of the scales
    struct ggml_tensor * wq2 = ggml_new_tensor_2d(ctx, type, n, rows);
    struct ggml_tensor * wf2 = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, rows);
    memcpy(wq2->data, wq->data, ggml_nbytes(wq2));
    memcpy(wf2->data, wf->data, ggml_nbytes(wf2));
    struct ggml_pq_extra extra2 = { GGML_PQ_EXTRA_MAGIC, (int32_t) type, lut, scale, rows };
    wq2->extra = &extra2;

    for (int threads = 1; threads <= 3; threads += 2) {
        static const int cols[] = { 1, 5, 40 };
        for (int c = 0; c < 3; c++) {
            struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, cols[c]);
            for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = frand();
            struct ggml_tensor * yq = ggml_mul_mat(ctx, wq2, x), * yf = ggml_mul_mat(ctx, wf2, x);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            check(cols[c] == 1 ? "mul_mat(1 col)" : cols[c] == 5 ? "mul_mat(5 cols)" : "mul_mat(40 cols)", ti->name, threads, rel_err(yq, yf));
        }
        {   // mul_mat_id: 4 tokens, 2 experts each, input per token broadcast over the slots
            const int n_tok = 4, n_used = 2;
            struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n, 1, n_tok);
            struct ggml_tensor * ids = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, n_used, n_tok);
            for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = frand();
            for (int i = 0; i < n_used * n_tok; i++) ((int32_t *) ids->data)[i] = (int32_t) ((i * 7 + 1) % experts);
            struct ggml_tensor * yq = ggml_mul_mat_id(ctx, wq, x, ids), * yf = ggml_mul_mat_id(ctx, wf, x, ids);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            check("mul_mat_id", ti->name, threads, rel_err(yq, yf));
        }
        {   // get_rows, repeated and out-of-order rows
            struct ggml_tensor * idx = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, 6);
            const int32_t r[6] = { 36, 0, 5, 5, 17, 1 };
            memcpy(idx->data, r, sizeof r);
            struct ggml_tensor * yq = ggml_get_rows(ctx, wq2, idx), * yf = ggml_get_rows(ctx, wf2, idx);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            check("get_rows", ti->name, threads, rel_err(yq, yf));
        }
    }
    free(lut); free(scale);
    ggml_free(ctx);
}

// Batch invariance through the ggml op and its thread pool (issue #6 item 5): batches of 1, 2,
// 3, 7, 64, 65 and 512 columns, column c the same vector in all, with 1 and 3 threads; every
// column must equal, bit for bit, the same column of the 512-column batch on 1 thread.
static void test_batch_invariance(enum ggml_type type) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type((int) type);
    const int64_t n = 2096 + (16 - ti->blck_size) % 16, rows = 37;  // 3 chunks with a tail; tiles end mid-way
    static const int64_t cols[] = { 512, 1, 2, 3, 7, 64, 65 };      // the reference first
    struct ggml_init_params ip = { 96u << 20, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * wq = ggml_new_tensor_2d(ctx, type, n, rows);
    const size_t lutn = ((size_t) 1 << ti->bits) * ti->v;
    float * lut = malloc(lutn * sizeof(float));
    float * scale = malloc(sizeof(float) * rows);
    for (size_t i = 0; i < lutn; i++) lut[i] = frand();
    for (int64_t i = 0; i < rows; i++) scale[i] = 0.5f + frand() * 0.25f;
    for (size_t i = 0; i < ggml_nbytes(wq); i++) ((uint8_t *) wq->data)[i] = (uint8_t) rng();
    struct ggml_pq_extra extra = { GGML_PQ_EXTRA_MAGIC, (int32_t) type, lut, scale, rows };
    wq->extra = &extra;
    float * xs = malloc(sizeof(float) * n * 512), * ref = malloc(sizeof(float) * rows * 512);
    for (int64_t i = 0; i < n * 512; i++) xs[i] = frand();
    int bad = 0;
    for (int threads = 1; threads <= 3; threads += 2) {
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, cols[k]);
            memcpy(x->data, xs, ggml_nbytes(x));
            struct ggml_tensor * y = ggml_mul_mat(ctx, wq, x);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, y);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            if (threads == 1 && k == 0) { memcpy(ref, y->data, ggml_nbytes(y)); continue; }
            int64_t diff = 0;
            for (int64_t i = 0; i < rows * cols[k]; i++) diff += memcmp((float *) y->data + i, ref + i, sizeof(float)) != 0;
            if (diff) {
                fprintf(stderr, "FAIL mul_mat batch invariance %s: %lld columns, %d thread(s): %lld of %lld values "
                        "differ from the 512-column batch\n", ti->name, (long long) cols[k], threads, (long long) diff,
                        (long long) (rows * cols[k]));
                bad++;
            }
        }
    }
    failures += bad;
    free(xs); free(ref); free(lut); free(scale);
    ggml_free(ctx);
}

int main(void) {
    for (int t = GGML_TYPE_PQ_2X8; t <= GGML_TYPE_PQ_8X16; t++) {
        test_type((enum ggml_type) t);
        test_batch_invariance((enum ggml_type) t);
        printf("%s: mul_mat, mul_mat_id, get_rows, batch invariance ok\n", ggml_type_name((enum ggml_type) t));
    }
    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
