// bench-mulmat: ggml_mul_mat of a 4096x11008 weight (the FFN shape of a 7B Llama) times N
// f32 columns, one thread, through the patched ggml CPU backend: PQ types against ggml's own
// quantizations. Prints a Markdown table (docs/bench/kernels.md).
//
//   bench-mulmat [threads] [--quick] [--only TYPE,TYPE...]
//
// Also times the table build (ggml_pq_build_lut) for the largest tables the format allows.
#include "ggml.h"
#include "ggml-cpu.h"
#include "ggml-pq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define PQ_RNG_SEED 42
#include "../tests/pq-rng.h"

// Fills w (type) with random weights: indices for PQ (with a random LUT in *extra),
// ggml's quantizer over random floats for the rest.
static void fill_weight(struct ggml_tensor * w, struct ggml_pq_extra * extra, float ** lut_out) {
    const enum ggml_type type = w->type;
    const struct ggml_pq_type_info * ti = ggml_pq_get_type((int) type);
    if (ti) {
        uint8_t * p = (uint8_t *) w->data;
        for (size_t i = 0; i < ggml_nbytes(w); i++) p[i] = (uint8_t) rng();
        const size_t lutn = (size_t) ggml_pq_lut_len((int) type);
        float * lut = malloc(lutn * sizeof(float));
        for (size_t i = 0; i < lutn; i++) lut[i] = frand() * 0.05f;
        float * scale = malloc(sizeof(float) * N_OUT);
        for (int i = 0; i < N_OUT; i++) scale[i] = 1.0f + 0.1f * frand();
        *extra = (struct ggml_pq_extra) { GGML_PQ_EXTRA_MAGIC, (int32_t) type, lut, scale, N_OUT };
        w->extra = extra;
        *lut_out = lut;
        return;
    }
    float * src = malloc(sizeof(float) * K_IN * N_OUT);
    for (size_t i = 0; i < (size_t) K_IN * N_OUT; i++) src[i] = frand() * 0.05f;
    if (type == GGML_TYPE_F32) {
        memcpy(w->data, src, ggml_nbytes(w));
    } else {
        float * imatrix = malloc(sizeof(float) * K_IN);  // IQ types need importance weights
        for (int i = 0; i < K_IN; i++) imatrix[i] = 1.0f;
        ggml_quantize_init(type);
        ggml_quantize_chunk(type, src, w->data, 0, N_OUT, K_IN, ggml_quantize_requires_imatrix(type) ? imatrix : NULL);
        free(imatrix);
    }
    free(src);
}

// Seconds per mul_mat (best of reps) of weight w by N random columns.
static double time_mul_mat(struct ggml_tensor * w, int ncols, int threads, int reps) {
    struct ggml_init_params ip = { (size_t) (K_IN + N_OUT) * ncols * 4 * 2 + (64u << 20), NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K_IN, ncols);
    for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = frand();
    struct ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);
    ggml_graph_compute_with_ctx(ctx, gf, threads);  // warm-up
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
        ggml_graph_compute_with_ctx(ctx, gf, threads);
        const double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    ggml_free(ctx);
    return best;
}

// Seconds per one-column mul_mat (mean over reps) when the weight comes from memory, not from the
// last-level cache, as in a real model whose weights are far larger than it: copies of w, more
// than 64 MiB in all, multiplied in turn. The wall clock of the call (memory stalls count).
static double time_tg_from_memory(struct ggml_tensor * w, int threads, int reps) {
    const size_t nb = ggml_nbytes(w);
    const int copies = (int) ((64u << 20) / nb) + 2;
    struct ggml_init_params ip = { (nb + 4096) * copies + (size_t) (K_IN + N_OUT) * 4 * copies * 2 + (64u << 20), NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, K_IN);
    for (int64_t i = 0; i < K_IN; i++) ((float *) x->data)[i] = frand();
    struct ggml_cgraph * gf[16];
    const int ng = copies < 16 ? copies : 16;
    for (int c = 0; c < ng; c++) {
        struct ggml_tensor * wc = ggml_new_tensor_2d(ctx, w->type, K_IN, N_OUT);
        memcpy(wc->data, w->data, nb);
        wc->extra = w->extra;
        gf[c] = ggml_new_graph(ctx);
        ggml_build_forward_expand(gf[c], ggml_mul_mat(ctx, wc, x));
    }
    for (int c = 0; c < ng; c++) ggml_graph_compute_with_ctx(ctx, gf[c], threads);  // warm-up (work buffers)
    const double t0 = now_s();
    for (int r = 0; r < reps; r++) ggml_graph_compute_with_ctx(ctx, gf[r % ng], threads);
    const double dt = now_s() - t0;
    ggml_free(ctx);
    return dt / reps;
}

// Time to build the LUT of the largest table a file may hold, per table.
static void time_lut_builds(void) {
    static const struct { int v, bits, k, d, blocks, hidden; } cases[] = {
        { 4,  8,   256,  4, 0,   0 },   // k-means pq_4x8
        { 8, 16, 65536,  8, 0,   0 },   // k-means pq_8x16
        { 8, 16, 65536, 16, 2,  64 },   // PocketLLM-style decoder, pq_8x16
        { 8, 16, 65536, 32, 4, 256 },   // a wide decoder
    };
    printf("\n| table | K | latent | decoder | LUT build |\n|---|---:|---:|---|---:|\n");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct ggml_pq_table t = { cases[c].v, cases[c].k, cases[c].d, cases[c].blocks, cases[c].hidden, NULL, NULL, 1 };
        float * cb = malloc(sizeof(float) * t.k * t.latent);
        const int64_t nd = ggml_pq_decoder_len(&t);
        float * dec = malloc(sizeof(float) * nd);
        for (int64_t i = 0; i < (int64_t) t.k * t.latent; i++) cb[i] = frand();
        for (int64_t i = 0; i < nd; i++) dec[i] = frand() * 0.2f;
        t.codebook = cb; t.decoder = dec;
        float * lut = malloc(sizeof(float) * ((size_t) 1 << cases[c].bits) * t.v);
        const double t0 = now_s();
        ggml_pq_build_lut(&t, 1 << cases[c].bits, lut);
        const double dt = now_s() - t0;
        printf("| v=%d, %d-bit | %d | %d | B=%d, h=%d | %.2f ms |\n", t.v, cases[c].bits, t.k, t.latent, t.blocks, t.hidden, dt * 1e3);
        free(cb); free(dec); free(lut);
    }
}

int main(int argc, char ** argv) {
    int threads = 1, quick = 0;
    const char * only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else threads = atoi(argv[i]);
    }
    static const enum ggml_type types[] = {
        GGML_TYPE_PQA_4X8, GGML_TYPE_PQA_8X16, GGML_TYPE_PQA_8X8, GGML_TYPE_PQA_4X12, GGML_TYPE_PQA_8X12,
        GGML_TYPE_PQ_4X8, GGML_TYPE_PQ_8X16, GGML_TYPE_PQ_8X8, GGML_TYPE_PQ_4X16,
        GGML_TYPE_Q4_0, GGML_TYPE_Q2_K, GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ1_S, GGML_TYPE_F16,
    };
    static const int cols[] = { 1, 32, 512 };
    printf("ggml mul_mat, weight %dx%d, %d thread(s), PQ kernels: %s\n\n", K_IN, N_OUT, threads, ggml_pq_simd());
    printf("| type | bits/weight | TG 1 col (ms) | TG from memory (ms) | PP 32 cols (ms) | PP 512 cols (ms) | PP512 GFLOP/s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const enum ggml_type type = types[t];
        if (only && !strstr(only, ggml_type_name(type))) continue;
        const double bpw = 8.0 * ggml_row_size(type, K_IN) / K_IN;
        struct ggml_init_params wp = { ggml_row_size(type, K_IN) * N_OUT + (1u << 20), NULL, false };
        struct ggml_context * wctx = ggml_init(wp);
        struct ggml_tensor * w = ggml_new_tensor_2d(wctx, type, K_IN, N_OUT);
        struct ggml_pq_extra extra;
        float * lut = NULL;
        fill_weight(w, &extra, &lut);
        double ms[3];
        for (int c = 0; c < 3; c++) {
            const int reps = cols[c] == 1 ? 20 : cols[c] == 32 ? 5 : 2;
            if (quick && cols[c] == 512) { ms[c] = NAN; continue; }
            ms[c] = 1e3 * time_mul_mat(w, cols[c], threads, quick ? 2 : reps);
        }
        const double tg_mem = 1e3 * time_tg_from_memory(w, threads, quick ? 10 : 60);
        if (lut) { free(lut); free((void *) extra.scale); }
        ggml_free(wctx);
        printf("| %s | %.3g | %.2f | %.2f | %.2f | %.1f | %.1f |\n", ggml_type_name(type), bpw, ms[0], tg_mem, ms[1], ms[2],
               2.0 * K_IN * N_OUT * 512 / (ms[2] * 1e-3) / 1e9);
        fflush(stdout);
    }
    time_lut_builds();
    return 0;
}
