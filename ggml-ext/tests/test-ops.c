// The patched ggml ops on PQ weights against the same ops on their dequantized F32 copy:
// mul_mat (1, 5 and 40 columns: vec_dot and tiled paths), mul_mat_id on a 3-D expert tensor
// (row scales indexed across experts) and get_rows, with 1 and 3 threads, every PQ type; and
// mul_mat results that do not depend on the batch size or the thread count.
// The additive (PQA) types: the same ops against the scalar reference kernels, bit for bit
// (their int8 activation tables make them approximate against an F32 copy, so that is only a
// loose check), including 3-D weights, broadcast over src1's third dimension, and batch
// invariance.
#include "ggml.h"
#include "ggml-cpu.h"
#include "ggml-pq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PQ_RNG_SEED 7
#include "pq-rng.h"

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

// ---- additive types ----

// Number of values where a and b differ in their bits (a and b of n floats).
static int64_t bit_diffs(const float * a, const float * b, int64_t n) {
    int64_t d = 0;
    for (int64_t i = 0; i < n; i++) d += memcmp(a + i, b + i, sizeof(float)) != 0;
    return d;
}

static void check_bits(const char * what, const char * type, int threads, int64_t ncols, int64_t diffs, int64_t total) {
    if (getenv("PQ_TEST_VERBOSE")) fprintf(stderr, "%s %s threads=%d cols=%lld: %lld/%lld differ\n", what, type, threads,
                                           (long long) ncols, (long long) diffs, (long long) total);
    if (diffs) {
        fprintf(stderr, "FAIL %s %s threads=%d cols=%lld: %lld of %lld values differ from the reference kernels\n",
                what, type, threads, (long long) ncols, (long long) diffs, (long long) total);
        failures++;
    }
}

// A PQA weight of shape [n, rows, slices]: random codes (every nibble value is valid), a random
// runtime table (rows K..15 of a real one are zero; the kernels must not care), row scales.
struct pqa_weight {
    struct ggml_tensor * w;
    struct ggml_pq_extra extra;
    float * lut, * scale;
    size_t stride;  // bytes of one column's activation tables, 64-byte multiple
};

// Fills *qp (the tensor's extra points into it: it must stay put).
static void pqa_weight_init(struct pqa_weight * qp, struct ggml_context * ctx, enum ggml_type type, int64_t n, int64_t rows, int64_t slices) {
    struct pqa_weight q;
    q.w = ggml_new_tensor_3d(ctx, type, n, rows, slices);
    const int64_t lutn = ggml_pq_lut_len((int) type);
    q.lut = malloc(sizeof(float) * lutn);
    q.scale = malloc(sizeof(float) * rows * slices);
    for (int64_t i = 0; i < lutn; i++) q.lut[i] = frand();
    for (int64_t i = 0; i < rows * slices; i++) q.scale[i] = 0.5f + frand() * 0.25f;
    for (size_t i = 0; i < ggml_nbytes(q.w); i++) ((uint8_t *) q.w->data)[i] = (uint8_t) rng();
    q.extra = (struct ggml_pq_extra) { GGML_PQ_EXTRA_MAGIC, (int32_t) type, q.lut, q.scale, rows * slices };
    q.stride = (ggml_pqa_act_size((int) type, n, ggml_pqa_table_bits()) + 63) & ~(size_t) 63;
    *qp = q;
    qp->w->extra = &qp->extra;
}

static void pqa_weight_free(struct pqa_weight * q) { free(q->lut); free(q->scale); }

// y[c*rows + r] for ncols columns x (n floats each, ldx apart) against slice s of q, by the
// scalar reference kernels: activation tables per column, then every row.
static void pqa_ref(const struct pqa_weight * q, int64_t s, const float * x, int64_t ldx, int64_t ncols, float * y) {
    const int type = (int) q->w->type;
    const int64_t n = q->w->ne[0], rows = q->w->ne[1];
    void * act = aligned_alloc(64, q->stride * ncols);
    for (int64_t c = 0; c < ncols; c++) ggml_pqa_act_build_ref(type, n, ggml_pqa_table_bits(), q->lut, x + c*ldx, (char *) act + c*q->stride);
    ggml_pqa_mul_mat_ref(type, n, ggml_pqa_table_bits(), (const char *) q->w->data + s*q->w->nb[2], rows, 0, rows, q->scale + s*rows,
                         act, q->stride, ncols, y, rows);
    free(act);
}

// The F32 copy of q (ggml_pqa_dequant_row), for the loose check against stock ggml.
static struct ggml_tensor * pqa_dense(struct ggml_context * ctx, const struct pqa_weight * q) {
    const int64_t n = q->w->ne[0], rows = q->w->ne[1], slices = q->w->ne[2];
    struct ggml_tensor * wf = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n, rows, slices);
    for (int64_t s = 0; s < slices; s++) {
        for (int64_t r = 0; r < rows; r++) {
            ggml_pqa_dequant_row((int) q->w->type, n, (const char *) q->w->data + s*q->w->nb[2], rows, r, q->lut,
                                 q->scale[s*rows + r], (float *) wf->data + (s*rows + r)*n);
        }
    }
    return wf;
}

static void loose(const char * what, const char * type, int threads, double err) {
    if (getenv("PQ_TEST_VERBOSE")) fprintf(stderr, "%s %s %d: %.3g against F32\n", what, type, threads, err);
    // 8-bit tables: ~1/255 of each block's range per lookup; 16-bit tables: 256 times less
    const double tol = ggml_pqa_table_bits() == 16 ? 2e-4 : 2e-2;
    if (!(err < tol)) {
        fprintf(stderr, "FAIL %s %s threads=%d: relative error %.3g against the F32 copy\n", what, type, threads, err);
        failures++;
    }
}

static void test_pqa_type(enum ggml_type type) {
    const char * name = ggml_type_name(type);
    // 70 rows: two groups of 32 and a row-major tail of 6, so a 3-thread split gives one thread
    // only the tail; n = 256 is 4 table blocks for v = 4, M = 3 (P = 192) and 2 or fewer elsewhere
    const int64_t n = 256, rows = 70, slices = 3;
    struct ggml_init_params ip = { 96u << 20, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct pqa_weight q;
    pqa_weight_init(&q, ctx, type, n, rows, slices);
    struct ggml_tensor * wf = pqa_dense(ctx, &q);
    float * ref = malloc(sizeof(float) * rows * 64 * 6);

    for (int threads = 1; threads <= 3; threads += 2) {
        static const int64_t cols[] = { 1, 2, 7, 64 };
        for (int k = 0; k < 4; k++) {
            // 3-D product, src1's third dimension twice the weight's (broadcast: slice i12/2)
            const int64_t nc = cols[k], ne12 = 2 * slices;
            struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n, nc, ne12);
            for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = frand();
            struct ggml_tensor * yq = ggml_mul_mat(ctx, q.w, x), * yf = ggml_mul_mat(ctx, wf, x);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            for (int64_t i12 = 0; i12 < ne12; i12++) {
                pqa_ref(&q, i12 / 2, (const float *) x->data + i12*nc*n, n, nc, ref + i12*nc*rows);
            }
            check_bits("mul_mat", name, threads, nc, bit_diffs((const float *) yq->data, ref, rows*nc*ne12), rows*nc*ne12);
            loose("mul_mat", name, threads, rel_err(yq, yf));
        }
        {   // mul_mat_id: 4 tokens, 2 experts each, input per token broadcast over the slots
            const int n_tok = 4, n_used = 2;
            struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n, 1, n_tok);
            struct ggml_tensor * ids = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, n_used, n_tok);
            for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = frand();
            for (int i = 0; i < n_used * n_tok; i++) ((int32_t *) ids->data)[i] = (int32_t) ((i * 7 + 1) % slices);
            struct ggml_tensor * yq = ggml_mul_mat_id(ctx, q.w, x, ids), * yf = ggml_mul_mat_id(ctx, wf, x, ids);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            for (int i = 0; i < n_used * n_tok; i++) {
                pqa_ref(&q, ((int32_t *) ids->data)[i], (const float *) x->data + (i / n_used)*n, n, 1, ref + i*rows);
            }
            check_bits("mul_mat_id", name, threads, n_used * n_tok, bit_diffs((const float *) yq->data, ref, rows*n_used*n_tok), rows*n_used*n_tok);
            loose("mul_mat_id", name, threads, rel_err(yq, yf));
        }
        {   // get_rows from every slice: interleaved rows, tail rows, repeats, out of order
            const int64_t nget = 6;
            struct ggml_tensor * idx = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, nget, slices);
            const int32_t r[6] = { 69, 0, 33, 33, 64, 17 };
            for (int64_t s = 0; s < slices; s++) memcpy((int32_t *) idx->data + s*nget, r, sizeof r);
            struct ggml_tensor * yq = ggml_get_rows(ctx, q.w, idx), * yf = ggml_get_rows(ctx, wf, idx);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, yq);
            ggml_build_forward_expand(gf, yf);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            // dequantizing is exact: the F32 copy holds the same floats
            check_bits("get_rows", name, threads, nget, bit_diffs((const float *) yq->data, (const float *) yf->data, n*nget*slices), n*nget*slices);
        }
    }
    free(ref);
    pqa_weight_free(&q);
    ggml_free(ctx);
}

// Batch invariance of the PQA ops: batches of 1, 2, 3, 7, 65 and 200 columns, column c the
// same vector in all, 1 and 3 threads; every column equals, bit for bit, the same column of the
// 200-column batch on 1 thread, which equals the reference kernels.
static void test_pqa_batch_invariance(enum ggml_type type) {
    const char * name = ggml_type_name(type);
    const int64_t n = 2096 + 48, rows = 101;  // n: 2144 = 134*16; 101 = 3 groups + a tail of 5
    static const int64_t cols[] = { 200, 1, 2, 3, 7, 65 };
    struct ggml_init_params ip = { 192u << 20, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct pqa_weight q;
    pqa_weight_init(&q, ctx, type, n, rows, 1);
    float * xs = malloc(sizeof(float) * n * 200), * ref = malloc(sizeof(float) * rows * 200);
    for (int64_t i = 0; i < n * 200; i++) xs[i] = frand();
    pqa_ref(&q, 0, xs, n, 200, ref);
    for (int threads = 1; threads <= 3; threads += 2) {
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n, cols[k]);
            memcpy(x->data, xs, ggml_nbytes(x));
            struct ggml_tensor * y = ggml_mul_mat(ctx, q.w, x);
            struct ggml_cgraph * gf = ggml_new_graph(ctx);
            ggml_build_forward_expand(gf, y);
            ggml_graph_compute_with_ctx(ctx, gf, threads);
            check_bits("mul_mat batch invariance", name, threads, cols[k], bit_diffs((const float *) y->data, ref, rows*cols[k]), rows*cols[k]);
        }
    }
    free(xs); free(ref);
    pqa_weight_free(&q);
    ggml_free(ctx);
}

int main(void) {
    for (int t = GGML_TYPE_PQ_2X8; t <= GGML_TYPE_PQ_8X16; t++) {
        test_type((enum ggml_type) t);
        test_batch_invariance((enum ggml_type) t);
        printf("%s: mul_mat, mul_mat_id, get_rows, batch invariance ok\n", ggml_type_name((enum ggml_type) t));
    }
    printf("additive types with %d-bit activation tables (GGML_PQA_TABLE_BITS)\n", ggml_pqa_table_bits());
    for (int t = GGML_TYPE_PQA_4X8; t <= GGML_TYPE_PQA_8X16; t++) {
        const int before = failures;
        test_pqa_type((enum ggml_type) t);
        test_pqa_batch_invariance((enum ggml_type) t);
        printf("%s: mul_mat, mul_mat_id, get_rows, batch invariance %s\n", ggml_type_name((enum ggml_type) t),
               failures == before ? "ok" : "FAILED");
    }
    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
