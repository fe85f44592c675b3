// Table construction: runs the stored decoder over every codebook entry once
// (FORMAT.md "Rebuilding a weight"); mirrors format/table.go BuildLUT and Validate.
#include "pq-impl.h"

#include <math.h>

int64_t ggml_pq_decoder_len(const struct ggml_pq_table * t) {
    const int64_t d = t->latent, h = t->hidden;
    return (int64_t) t->blocks*(2*h*d + h + d) + (int64_t) t->v*d + t->v;
}

static int64_t pq_first_non_finite(const float * x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return i;
    }
    return -1;
}

const char * ggml_pq_table_check(const struct ggml_pq_table * t, int max_k, int64_t * bad_index) {
    *bad_index = -1;
    if (t->v != 2 && t->v != 4 && t->v != 8)           return "vector length v is not 2, 4 or 8";
    if (t->k < 1 || t->k > max_k)                       return "codebook size k is outside 1..2^bits";
    if (t->latent < 1 || t->latent > 64)                return "latent dimension is outside 1..64";
    if (t->blocks < 0 || t->blocks > 16 || t->hidden < 0 || t->hidden > 1024 || (t->blocks > 0 && t->hidden < 1))
                                                        return "decoder blocks/hidden outside 0..16 / 1..1024";
    if (t->codebooks < 0 || t->codebooks > 4)          return "codebooks is outside 1..4";
    if (!t->codebook || !t->decoder)                    return "codebook or decoder missing";
    const int64_t m = t->codebooks > 0 ? t->codebooks : 1;
    if ((*bad_index = pq_first_non_finite(t->codebook, m*t->k*t->latent)) >= 0) return "codebook value is not finite";
    if ((*bad_index = pq_first_non_finite(t->decoder, ggml_pq_decoder_len(t))) >= 0)   return "decoder value is not finite";
    return NULL;
}

float ggml_pq_gelu(float x) {
    // erf in double then rounded, as Go's float32(math.Erf(float64(x)/math.Sqrt2)).
    return 0.5f * x * (1.0f + (float) erf((double) x / 1.4142135623730951));
}

// Same summation order as format/table.go dot (sequential float).
static float pq_dot(const float * a, const float * b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// Decoder output of entry k of the codebook array (entries of all codebooks counted in order).
static void pq_decode_entry(const struct ggml_pq_table * t, int64_t k, float * out) {
    const int d = t->latent, h = t->hidden, v = t->v;
    float y[64];
    float hid[1024];
    memcpy(y, t->codebook + (size_t) k*d, (size_t) d*sizeof(float));
    const float * p = t->decoder;
    for (int b = 0; b < t->blocks; b++) {
        const float * w1 = p;          p += (size_t) h*d;
        const float * c1 = p;          p += h;
        const float * w2 = p;          p += (size_t) d*h;
        const float * c2 = p;          p += d;
        for (int i = 0; i < h; i++) hid[i] = ggml_pq_gelu(pq_dot(w1 + (size_t) i*d, y, d) + c1[i]);
        for (int i = 0; i < d; i++) y[i] += pq_dot(w2 + (size_t) i*h, hid, h) + c2[i];
    }
    const float * wo = p, * co = p + (size_t) v*d;
    for (int i = 0; i < v; i++) out[i] = pq_dot(wo + (size_t) i*d, y, d) + co[i];
}

void ggml_pq_build_lut(const struct ggml_pq_table * t, int rows, float * lut) {
    memset(lut, 0, (size_t) rows * t->v * sizeof(float));
    for (int k = 0; k < t->k; k++) pq_decode_entry(t, k, lut + (size_t) k*t->v);
}

int64_t ggml_pq_lut_len(int type) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    if (!ti) return 0;
    return ggml_pq_is_additive(type) ? (int64_t) ti->codebooks * ti->v * 16 : ((int64_t) 1 << ti->bits) * ti->v;
}

void ggml_pq_build_type_lut(int type, const struct ggml_pq_table * t, float * lut) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    if (!ggml_pq_is_additive(type)) {
        ggml_pq_build_lut(t, 1 << ti->bits, lut);
        return;
    }
    const int v = ti->v;
    memset(lut, 0, (size_t) ggml_pq_lut_len(type) * sizeof(float));
    for (int m = 0; m < ti->codebooks; m++) {
        for (int k = 0; k < t->k; k++) {
            float e[8];
            pq_decode_entry(t, (int64_t) m*t->k + k, e);
            for (int i = 0; i < v; i++) lut[((size_t) m*v + i)*16 + k] = e[i];
        }
    }
}

