// Holds the additive (PQA) kernels to their scalar reference bit for bit, to the layout rule of
// docs/FORMAT.md (packed here independently of ggml_pqa_code), and to the dense product within
// the error the 8- and 16-bit activation tables allow. Also: a column's result does not depend on the
// batch it is in or on how rows are split. Run by ctest natively and under qemu-aarch64.
#include "../include/ggml-pq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static long long checks = 0;

#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; if (failures < 20) { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } } while (0)

#define PQ_RNG_SEED 0x243F6A8885A308D3ull
#include "pq-rng.h"
static float gauss(void) {  // sum of uniforms: cheap, bell-shaped, deterministic
    float s = 0.0f;
    for (int i = 0; i < 4; i++) s += frand();
    return s * 0.866f;
}

// The FORMAT.md layout, written from the text: codes[r*P + p] -> bytes.
static void pack_pqa(const uint8_t * codes, int64_t nrows, int64_t P, uint8_t * w) {
    const int64_t full = nrows / 32 * 32;
    memset(w, 0, (size_t) (nrows * P / 2));
    for (int64_t g = 0; g < full / 32; g++) {
        uint8_t * wg = w + g * 32 * (P / 2);
        for (int64_t p = 0; p < P; p++) {
            for (int b = 0; b < 16; b++) {
                wg[p*16 + b] = (uint8_t) (codes[(32*g + b)*P + p] | codes[(32*g + 16 + b)*P + p] << 4);
            }
        }
    }
    for (int64_t r = full; r < nrows; r++) {
        uint8_t * wr = w + r * (P / 2);
        for (int64_t i = 0; i < P / 2; i++) wr[i] = (uint8_t) (codes[r*P + 2*i] | codes[r*P + 2*i + 1] << 4);
    }
}

static int same_bits(const float * a, const float * b, int64_t n) { return memcmp(a, b, sizeof(float) * (size_t) n) == 0; }

static void test_type(int type, int tbits, int64_t n, int64_t nrows, int kentries, int adversarial) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    const int v = ti->v, M = ti->codebooks;
    const int64_t P = n / v * M;
    const char * name = ti->name;
    if (nrows <= 0 || P <= 0) return;

    // a table with an identity decoder: LUT entry = codebook entry
    float * codebook = malloc(sizeof(float) * (size_t) (M * kentries * v));
    float * decoder = calloc((size_t) (v*v + v), sizeof(float));
    for (int i = 0; i < v; i++) decoder[i*v + i] = 1.0f;
    for (int i = 0; i < M * kentries * v; i++) codebook[i] = adversarial && i % 7 == 0 ? 0.0f : gauss() * 0.05f;
    struct ggml_pq_table tb = { .v = v, .k = kentries, .latent = v, .blocks = 0, .hidden = 0,
                                .codebook = codebook, .decoder = decoder, .codebooks = M };
    int64_t bad;
    CHECK(ggml_pq_table_check(&tb, ti->max_k, &bad) == NULL, "%s: valid table refused", name);
    float * lut = malloc(sizeof(float) * (size_t) ggml_pq_lut_len(type));
    ggml_pq_build_type_lut(type, &tb, lut);
    for (int m = 0; m < M; m++) for (int k = 0; k < 16; k++) for (int t = 0; t < v; t++) {
        const float want = k < kentries ? codebook[(m*kentries + k)*v + t] : 0.0f;
        CHECK(lut[(m*v + t)*16 + k] == want, "%s: lut[m=%d t=%d k=%d] = %g, want %g", name, m, t, k, lut[(m*v + t)*16 + k], want);
    }

    uint8_t * codes = malloc((size_t) (nrows * P));
    for (int64_t i = 0; i < nrows * P; i++) codes[i] = (uint8_t) (adversarial ? (i % 3 == 0 ? 15 : 0) : rng() & 15);
    uint8_t * w = malloc((size_t) (nrows * P / 2));
    pack_pqa(codes, nrows, P, w);
    for (int64_t r = 0; r < nrows; r += (nrows > 64 ? 7 : 1)) {
        for (int64_t p = 0; p < P; p += (P > 256 ? 13 : 1)) {
            CHECK(ggml_pqa_code(w, nrows, P, r, p) == codes[r*P + p], "%s: code(%lld, %lld)", name, (long long) r, (long long) p);
        }
    }

    float * scale = malloc(sizeof(float) * (size_t) nrows);
    for (int64_t r = 0; r < nrows; r++) scale[r] = 0.5f + (float) (rng() % 1000) / 1000.0f;

    // rows as floats against the rule written out here
    float * row = malloc(sizeof(float) * (size_t) n);
    double * dense = malloc(sizeof(double) * (size_t) (nrows * n));
    for (int64_t r = 0; r < nrows; r++) {
        ggml_pqa_dequant_row(type, n, w, nrows, r, lut, scale[r], row);
        for (int64_t j = 0; j < n / v; j++) {
            for (int t = 0; t < v; t++) {
                float s = lut[t*16 + codes[r*P + j*M]];
                for (int m = 1; m < M; m++) s += lut[(m*v + t)*16 + codes[r*P + j*M + m]];
                const float want = scale[r] * s;
                dense[r*n + j*v + t] = want;
                if (row[j*v + t] != want) {
                    CHECK(0, "%s n=%lld: dequant row %lld weight %lld = %g, want %g", name, (long long) n, (long long) r, (long long) (j*v + t), row[j*v + t], want);
                    goto dequant_done;
                }
            }
        }
    }
    checks++;
dequant_done:;

    // activation tables: SIMD build = reference build, byte for byte
    const int ncols = 9;
    const size_t as = ggml_pqa_act_size(type, n, tbits);
    CHECK(as % 64 == 0 && as >= (size_t) P * 16 * (tbits / 8), "%s: act size %zu", name, as);
    float * x = malloc(sizeof(float) * (size_t) (n * ncols));
    for (int64_t i = 0; i < n * ncols; i++) x[i] = adversarial ? (i % 5 == 0 ? 30.0f : 0.0f) : gauss();
    uint8_t * act = aligned_alloc(64, as * ncols), * act_ref = aligned_alloc(64, as * ncols);
    memset(act, 0, as * ncols); memset(act_ref, 0, as * ncols);
    for (int c = 0; c < ncols; c++) {
        ggml_pqa_act_build(type, n, tbits, lut, x + c*n, act + c*as);
        ggml_pqa_act_build_ref(type, n, tbits, lut, x + c*n, act_ref + c*as);
    }
    CHECK(memcmp(act, act_ref, as * ncols) == 0, "%s/t%d n=%lld: activation tables differ from the reference", name, tbits, (long long) n);
    {   // blocks built apart (as threads sharing a column do) give the same bytes
        const int64_t nb = ggml_pqa_act_blocks(type, n);
        uint8_t * split = aligned_alloc(64, as);
        memset(split, 0, as);
        for (int64_t b0 = 0; b0 < nb; b0 += 3) ggml_pqa_act_build_blocks(type, n, tbits, lut, x, split, b0, b0 + 3);
        CHECK(memcmp(split, act, as) == 0, "%s n=%lld: tables built block by block differ", name, (long long) n);
        free(split);
    }

    // products: SIMD = reference bit for bit; every split and batch size gives the same bits
    float * y = malloc(sizeof(float) * (size_t) (nrows * ncols)), * yr = malloc(sizeof(float) * (size_t) (nrows * ncols));
    ggml_pqa_mul_mat_ref(type, n, tbits, w, nrows, 0, nrows, scale, act_ref, as, ncols, yr, nrows);
    ggml_pqa_mul_mat(type, n, tbits, w, nrows, 0, nrows, scale, act, as, ncols, y, nrows);
    CHECK(same_bits(y, yr, nrows * ncols), "%s n=%lld rows=%lld: mul_mat differs from the reference", name, (long long) n, (long long) nrows);
    // every batch size (the kernel visits few columns and many in different orders) and row
    // splits at group boundaries, as threads take them, give the reference's bits
    for (int k = 1; k <= ncols; k++) {
        memset(y, 0, sizeof(float) * (size_t) (nrows * ncols));
        ggml_pqa_mul_mat(type, n, tbits, w, nrows, 0, nrows, scale, act, as, k, y, nrows);
        CHECK(same_bits(y, yr, nrows * k), "%s: the first %d columns alone differ from the batch of %d", name, k, ncols);
        for (int64_t split = 32; split < nrows; split += 64) {
            memset(y, 0, sizeof(float) * (size_t) (nrows * ncols));
            ggml_pqa_mul_mat(type, n, tbits, w, nrows, 0, split, scale, act, as, k, y, nrows);
            ggml_pqa_mul_mat(type, n, tbits, w, nrows, split, nrows, scale, act, as, k, y, nrows);
            CHECK(same_bits(y, yr, nrows * k), "%s: %d columns, rows split at %lld change the result", name, k, (long long) split);
        }
    }
    for (int c = 0; c < ncols; c++) {
        ggml_pqa_mul_mat(type, n, tbits, w, nrows, 0, nrows, scale, act + c*as, as, 1, y, nrows);
        CHECK(same_bits(y, yr + c*nrows, nrows), "%s: column %d alone differs from the batch of %d", name, c, ncols);
    }

    // against the dense product: the tables round each lookup by at most s_b/2, with s_b 1/255
    // (8-bit) or 1/65535 (16-bit) of the block's range
    if (!adversarial) {
        double err2 = 0.0, ref2 = 0.0;
        for (int c = 0; c < ncols; c++) {
            for (int64_t r = 0; r < nrows; r++) {
                double d = 0.0;
                for (int64_t i = 0; i < n; i++) d += dense[r*n + i] * x[c*n + i];
                err2 += (yr[c*nrows + r] - d) * (yr[c*nrows + r] - d);
                ref2 += d * d;
            }
        }
        const double rel = sqrt(err2 / ref2);
        const double tol = tbits == 16 ? 1e-4 : 0.015;
        CHECK(rel < tol, "%s/t%d n=%lld: relative RMS error %.2g against the dense product (want < %g)", name, tbits, (long long) n, rel, tol);
        if (n >= 4096) printf("  %-9s %2d-bit tables n=%-6lld rows=%-4lld rel. RMS vs dense f64: %.2e\n", name, tbits, (long long) n, (long long) nrows, rel);
    }

    // get_rows: the dequantized rows, scaled
    const int32_t pick[3] = { 0, (int32_t) (nrows - 1), (int32_t) (nrows / 2) };
    float * got = malloc(sizeof(float) * (size_t) (3 * n));
    ggml_pqa_get_rows(type, n, w, nrows, pick, 3, lut, scale, got, n);
    for (int i = 0; i < 3; i++) {
        ggml_pqa_dequant_row(type, n, w, nrows, pick[i], lut, scale[pick[i]], row);
        CHECK(same_bits(got + i*n, row, n), "%s: get_rows row %d", name, pick[i]);
    }

    free(codebook); free(decoder); free(lut); free(codes); free(w); free(scale); free(row); free(dense);
    free(x); free(act); free(act_ref); free(y); free(yr); free(got);
}

int main(int argc, char ** argv) {
    const int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    printf("ggml-pq additive kernels: simd=%s%s\n", ggml_pq_simd(), quick ? " (quick)" : "");
    static const int64_t lengths[] = { 64, 128, 1024, 4096 };
    static const int64_t rows[] = { 32, 172, 64, 96 };
    for (int tbits = 8; tbits <= 16; tbits += 8) {
        for (int type = GGML_PQA_4X8; type < GGML_PQ_TYPE_END; type++) {
            for (int i = 0; i < 4; i++) {
                if (quick && lengths[i] > 1024) continue;
                test_type(type, tbits, lengths[i], rows[i], 16, 0);
            }
            test_type(type, tbits, 64, 40, 5, 0);    // K < 16: entries 5..15 read zero
            test_type(type, tbits, 128, 33, 16, 1);  // zeros, saturated codes, one-hot activations
        }
    }
    // the environment's spelling of the table bits
    CHECK(ggml_pqa_parse_table_bits(NULL) == GGML_PQA_TABLE_BITS_DEFAULT && ggml_pqa_parse_table_bits("") == GGML_PQA_TABLE_BITS_DEFAULT,
          "unset GGML_PQA_TABLE_BITS is not the default");
    CHECK(ggml_pqa_parse_table_bits("8") == 8 && ggml_pqa_parse_table_bits("16") == 16, "8 and 16 not accepted");
    CHECK(ggml_pqa_parse_table_bits("4") == 0 && ggml_pqa_parse_table_bits("16 ") == 0 && ggml_pqa_parse_table_bits("x") == 0,
          "a bad GGML_PQA_TABLE_BITS accepted");
    if (failures) {
        fprintf(stderr, "%d of %lld checks failed\n", failures, checks);
        return 1;
    }
    printf("ok: %lld checks\n", checks);
    return 0;
}
