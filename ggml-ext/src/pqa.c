// Additive (PQA) types: activation tables once per column, then table lookups inside vector
// registers (pshufb on AVX2, tbl on NEON) over codes interleaved by 32 rows. The arithmetic
// is written down in ggml-pq.h; every function here follows it to the bit.
#include "pq-impl.h"

#include <stdio.h>
#include <stdlib.h>

struct pqa_shape {
    int     v, m;        // sub-vector length, codebooks
    int64_t p;           // codes per row: (n/v)*m
    int64_t nblk;        // table blocks of GGML_PQA_QB positions
    int     wide;        // 16-bit tables: a high-byte and a low-byte table per position
};

static struct pqa_shape pqa_shape_of(int type, int64_t n, int tbits) {
    const struct ggml_pq_type_info * ti = ggml_pq_get_type(type);
    struct pqa_shape s;
    s.v = ti->v;
    s.m = ti->codebooks;
    s.p = n / ti->v * ti->codebooks;
    s.nblk = (s.p + GGML_PQA_QB - 1) / GGML_PQA_QB;
    s.wide = tbits == 16;
    return s;
}

int ggml_pqa_parse_table_bits(const char * s) {
    if (s == NULL || s[0] == '\0') return GGML_PQA_TABLE_BITS_DEFAULT;
    if (strcmp(s, "8") == 0) return 8;
    if (strcmp(s, "16") == 0) return 16;
    return 0;
}

int ggml_pqa_table_bits(void) {
    // Read once: ggml sizes the work buffer (graph plan, one thread) before any thread computes,
    // so every later reader sees the value the plan used.
    static int bits = 0;
    if (bits == 0) {
        const char * env = getenv("GGML_PQA_TABLE_BITS");
        const int b = ggml_pqa_parse_table_bits(env);
        if (b == 0) {
            fprintf(stderr, "GGML_PQA_TABLE_BITS=%s: want 8 (int8 activation tables, the fast default) or 16 "
                            "(16-bit tables: a product within about 3e-5 of the unpacked F32 twin)\n", env);
            abort();
        }
        bits = b;
    }
    return bits;
}

// Bytes of one column's byte tables: 16 per position, twice for 16-bit tables (ggml-pq.h).
static int64_t pqa_table_bytes(const struct pqa_shape * s) { return s->p * 16 * (s->wide ? 2 : 1); }

size_t ggml_pqa_act_size(int type, int64_t n, int tbits) {
    const struct pqa_shape s = pqa_shape_of(type, n, tbits);
    const size_t bytes = (size_t) pqa_table_bytes(&s) + (size_t) (2 * s.nblk) * sizeof(float);
    return (bytes + 63) & ~(size_t) 63;
}

// The parts of one column's tables: q[p*16 + k] (the high bytes of 16-bit tables), q2 the low
// bytes of 16-bit tables (NULL for 8-bit ones), the block scales, and the bias (the sum of the
// blocks' partial sums of minima, in block order).
struct pqa_act {
    const uint8_t * q;
    const uint8_t * q2;
    const float   * sb;   // nblk scales, then nblk partial sums of minima
};

static struct pqa_act pqa_act_of(const struct pqa_shape * s, const void * act) {
    struct pqa_act a;
    a.q = (const uint8_t *) act;
    a.q2 = s->wide ? a.q + s->p * 16 : NULL;
    a.sb = (const float *) (a.q + pqa_table_bytes(s));
    return a;
}

static float pqa_bias(const struct pqa_shape * s, const struct pqa_act * a) {
    float bias = 0.0f;
    for (int64_t b = 0; b < s->nblk; b++) bias += a->sb[s->nblk + b];
    return bias;
}

// ---- activation tables ----

// e[k] = <entry k of codebook m, x_j>: a multiply then fmas in t order (fmaf is exact in every
// build, so the SIMD versions below reproduce it), then + 0 so that no entry is -0 and min/max
// give the same bits in any order; *lo, *hi = their minimum and maximum.
static void pqa_entries_ref(int v, const float * lutm, const float * xj, float e[16], float * lo, float * hi) {
    for (int k = 0; k < 16; k++) {
        float s = lutm[k] * xj[0];
        for (int t = 1; t < v; t++) s = fmaf(lutm[t*16 + k], xj[t], s);
        e[k] = s + 0.0f;
    }
    *lo = *hi = e[0];
    for (int k = 1; k < 16; k++) {
        *lo = e[k] < *lo ? e[k] : *lo;
        *hi = e[k] > *hi ? e[k] : *hi;
    }
}

// Quantizes one block's entries (np positions, e[i*16 + k], minima mn[i]) given its range: to
// 0..255 in q, or (q2 not NULL) to 0..65535 with the high bytes in q and the low bytes in q2.
static void pqa_quantize_ref(const float * e, const float * mn, int np, float range, uint8_t * q, uint8_t * q2) {
    const long top = q2 ? 65535 : 255;
    const float inv = range > 0.0f ? (float) top / range : 0.0f;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 16; k++) {
            long r = lrintf((e[i*16 + k] - mn[i]) * inv);
            r = r < 0 ? 0 : r > top ? top : r;
            if (q2) {
                q[i*16 + k] = (uint8_t) (r >> 8);
                q2[i*16 + k] = (uint8_t) (r & 255);
            } else {
                q[i*16 + k] = (uint8_t) r;
            }
        }
    }
}

typedef void (*pqa_entries_fn)(int v, const float * lutm, const float * xj, float e[16], float * lo, float * hi);
typedef void (*pqa_quantize_fn)(const float * e, const float * mn, int np, float range, uint8_t * q, uint8_t * q2);

// Blocks [b0, b1) of one column's tables: each block is built from its own positions alone,
// so any split of the blocks over threads writes the same bytes.
static void pqa_act_build_with(int type, int64_t n, int tbits, const float * lut, const float * x, void * act,
                               int64_t b0, int64_t b1, pqa_entries_fn entries, pqa_quantize_fn quantize) {
    const struct pqa_shape s = pqa_shape_of(type, n, tbits);
    uint8_t * q = (uint8_t *) act;
    uint8_t * q2 = s.wide ? q + s.p * 16 : NULL;
    float * sb = (float *) (q + pqa_table_bytes(&s));
    float e[GGML_PQA_QB * 16], mn[GGML_PQA_QB];
    if (b1 > s.nblk) b1 = s.nblk;
    for (int64_t b = b0; b < b1; b++) {
        float bias = 0.0f;  // the block's minima in position order
        const int64_t p0 = b * GGML_PQA_QB;
        const int np = (int) (s.p - p0 < GGML_PQA_QB ? s.p - p0 : GGML_PQA_QB);
        float range = 0.0f;
        for (int i = 0; i < np; i++) {
            const int64_t p = p0 + i, j = p / s.m;
            const int m = (int) (p % s.m);
            float lo, hi;
            entries(s.v, lut + (size_t) m * s.v * 16, x + j * s.v, e + i*16, &lo, &hi);
            mn[i] = lo;
            bias += lo;
            range = hi - lo > range ? hi - lo : range;
        }
        sb[b] = range / (s.wide ? 65535.0f : 255.0f);
        sb[s.nblk + b] = bias;
        quantize(e, mn, np, range, q + p0 * 16, q2 ? q2 + p0 * 16 : NULL);
    }
}

int64_t ggml_pqa_act_blocks(int type, int64_t n) { return pqa_shape_of(type, n, 8).nblk; }

void ggml_pqa_act_build_ref(int type, int64_t n, int tbits, const float * lut, const float * x, void * act) {
    pqa_act_build_with(type, n, tbits, lut, x, act, 0, INT64_MAX, pqa_entries_ref, pqa_quantize_ref);
}

#if defined(GGML_PQ_AVX2)
static void pqa_entries_avx2(int v, const float * lutm, const float * xj, float e[16], float * lo, float * hi) {
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(lutm), _mm256_set1_ps(xj[0]));
    __m256 b = _mm256_mul_ps(_mm256_loadu_ps(lutm + 8), _mm256_set1_ps(xj[0]));
    for (int t = 1; t < v; t++) {
        const __m256 xt = _mm256_set1_ps(xj[t]);
        a = _mm256_fmadd_ps(_mm256_loadu_ps(lutm + t*16), xt, a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(lutm + t*16 + 8), xt, b);
    }
    a = _mm256_add_ps(a, _mm256_setzero_ps());
    b = _mm256_add_ps(b, _mm256_setzero_ps());
    _mm256_storeu_ps(e, a);
    _mm256_storeu_ps(e + 8, b);
    __m256 mn = _mm256_min_ps(a, b), mx = _mm256_max_ps(a, b);
    __m128 m4 = _mm_min_ps(_mm256_castps256_ps128(mn), _mm256_extractf128_ps(mn, 1));
    __m128 x4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_min_ps(m4, _mm_movehl_ps(m4, m4));
    x4 = _mm_max_ps(x4, _mm_movehl_ps(x4, x4));
    *lo = _mm_cvtss_f32(_mm_min_ss(m4, _mm_movehdup_ps(m4)));
    *hi = _mm_cvtss_f32(_mm_max_ss(x4, _mm_movehdup_ps(x4)));
}

static void pqa_quantize_avx2(const float * e, const float * mn, int np, float range, uint8_t * q, uint8_t * q2) {
    const __m256 inv = _mm256_set1_ps(range > 0.0f ? (q2 ? 65535.0f : 255.0f) / range : 0.0f);
    const __m256i low = _mm256_set1_epi16(0xFF);
    for (int i = 0; i < np; i++) {
        const __m256 m = _mm256_set1_ps(mn[i]);
        // cvtps rounds to nearest even, as lrintf in the default rounding mode
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(e + i*16), m), inv));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(e + i*16 + 8), m), inv));
        // saturating packs clamp to 0..255 (0..65535) like the reference; fix the lane order of the packs
        if (q2) {
            __m256i w = _mm256_packus_epi32(a, b);            // a0-3 b0-3 | a4-7 b4-7, u16
            w = _mm256_permute4x64_epi64(w, 0xD8);            // a0-3 a4-7 | b0-3 b4-7
            const __m256i h = _mm256_srli_epi16(w, 8), l = _mm256_and_si256(w, low);
            _mm_storeu_si128((__m128i *) (q + i*16), _mm_packus_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
            _mm_storeu_si128((__m128i *) (q2 + i*16), _mm_packus_epi16(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1)));
            continue;
        }
        __m256i w = _mm256_packs_epi32(a, b);                 // a0-3 b0-3 | a4-7 b4-7
        w = _mm256_permute4x64_epi64(w, 0xD8);                // a0-3 a4-7 | b0-3 b4-7
        __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storeu_si128((__m128i *) (q + i*16), u);
    }
}
#define PQA_ENTRIES  pqa_entries_avx2
#define PQA_QUANTIZE pqa_quantize_avx2
#elif defined(GGML_PQ_NEON)
static void pqa_entries_neon(int v, const float * lutm, const float * xj, float e[16], float * lo, float * hi) {
    float32x4_t a[4];
    for (int i = 0; i < 4; i++) a[i] = vmulq_n_f32(vld1q_f32(lutm + 4*i), xj[0]);
    for (int t = 1; t < v; t++) {
        const float32x4_t xt = vdupq_n_f32(xj[t]);
        for (int i = 0; i < 4; i++) a[i] = vfmaq_f32(a[i], vld1q_f32(lutm + t*16 + 4*i), xt);
    }
    for (int i = 0; i < 4; i++) {
        a[i] = vaddq_f32(a[i], vdupq_n_f32(0.0f));
        vst1q_f32(e + 4*i, a[i]);
    }
    *lo = vminvq_f32(vminq_f32(vminq_f32(a[0], a[1]), vminq_f32(a[2], a[3])));
    *hi = vmaxvq_f32(vmaxq_f32(vmaxq_f32(a[0], a[1]), vmaxq_f32(a[2], a[3])));
}

static void pqa_quantize_neon(const float * e, const float * mn, int np, float range, uint8_t * q, uint8_t * q2) {
    const float32x4_t inv = vdupq_n_f32(range > 0.0f ? (q2 ? 65535.0f : 255.0f) / range : 0.0f);
    for (int i = 0; i < np; i++) {
        const float32x4_t m = vdupq_n_f32(mn[i]);
        int32x4_t r[4];
        for (int k = 0; k < 4; k++) r[k] = vcvtnq_s32_f32(vmulq_f32(vsubq_f32(vld1q_f32(e + i*16 + 4*k), m), inv));
        if (q2) {  // saturate to 0..65535, then high and low bytes
            const uint16x8_t a = vcombine_u16(vqmovun_s32(r[0]), vqmovun_s32(r[1]));
            const uint16x8_t b = vcombine_u16(vqmovun_s32(r[2]), vqmovun_s32(r[3]));
            vst1q_u8(q + i*16, vcombine_u8(vshrn_n_u16(a, 8), vshrn_n_u16(b, 8)));
            vst1q_u8(q2 + i*16, vcombine_u8(vmovn_u16(a), vmovn_u16(b)));
            continue;
        }
        const int16x8_t lo = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
        const int16x8_t hi = vcombine_s16(vqmovn_s32(r[2]), vqmovn_s32(r[3]));
        vst1q_u8(q + i*16, vcombine_u8(vqmovun_s16(lo), vqmovun_s16(hi)));
    }
}
#define PQA_ENTRIES  pqa_entries_neon
#define PQA_QUANTIZE pqa_quantize_neon
#else
#define PQA_ENTRIES  pqa_entries_ref
#define PQA_QUANTIZE pqa_quantize_ref
#endif

void ggml_pqa_act_build(int type, int64_t n, int tbits, const float * lut, const float * x, void * act) {
    pqa_act_build_with(type, n, tbits, lut, x, act, 0, INT64_MAX, PQA_ENTRIES, PQA_QUANTIZE);
}

void ggml_pqa_act_build_blocks(int type, int64_t n, int tbits, const float * lut, const float * x, void * act,
                               int64_t b0, int64_t b1) {
    pqa_act_build_with(type, n, tbits, lut, x, act, b0, b1, PQA_ENTRIES, PQA_QUANTIZE);
}

// ---- row sums ----

// One row of the reference (any row: interleaved or tail).
static float pqa_row_ref(const struct pqa_shape * s, const uint8_t * w, int64_t nrows, int64_t r,
                         const struct pqa_act * a) {
    float acc = 0.0f;
    for (int64_t b = 0; b < s->nblk; b++) {
        const int64_t p0 = b * GGML_PQA_QB, p1 = p0 + GGML_PQA_QB < s->p ? p0 + GGML_PQA_QB : s->p;
        int32_t sum = 0;  // at most 64*65535: exact in a float too
        for (int64_t p = p0; p < p1; p++) {
            const int k = ggml_pqa_code(w, nrows, s->p, r, p);
            sum += a->q2 ? a->q[p*16 + k] * 256 + a->q2[p*16 + k] : a->q[p*16 + k];
        }
        acc = fmaf(a->sb[b], (float) sum, acc);
    }
    return acc + pqa_bias(s, a);
}

void ggml_pqa_mul_mat_ref(int type, int64_t n, int tbits, const void * w, int64_t nrows, int64_t r0, int64_t r1,
                          const float * scale, const void * act, size_t act_stride, int64_t ncols,
                          float * y, int64_t ldy) {
    const struct pqa_shape s = pqa_shape_of(type, n, tbits);
    for (int64_t c = 0; c < ncols; c++) {
        const struct pqa_act a = pqa_act_of(&s, (const uint8_t *) act + c * act_stride);
        for (int64_t r = r0; r < r1; r++) {
            y[c*ldy + r] = (scale ? scale[r] : 1.0f) * pqa_row_ref(&s, (const uint8_t *) w, nrows, r, &a);
        }
    }
}

#if defined(GGML_PQ_AVX2)
// Sums over positions [p0, p1) of one table's lookups for 32 interleaved rows, as u16 lanes:
// q[0..1] rows 0..15, q[2..3] rows 16..31 (each 8 rows, in row order). Every sum is exact: at
// most GGML_PQA_QB * 255.
PQ_INLINE void pqa_sums32(const uint8_t * wg, const uint8_t * tq, const uint8_t * pf, const int prefetch,
                          int64_t p0, int64_t p1, __m128i q[4]) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    // u16 lanes: a0 gets lo + 256 hi bytes (wrapping), a1 the hi bytes alone, so that the
    // lo-byte sum is a0 - (a1 << 8): three operations per lookup register (FAISS fast-scan)
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t p = p0; p < p1; p += 2) {
        const __m256i c = _mm256_loadu_si256((const __m256i *) (wg + p*16));  // positions p | p+1
        const __m256i t = _mm256_loadu_si256((const __m256i *) (tq + p*16));
        if (prefetch) _mm_prefetch((const char *) (pf + p*16), _MM_HINT_T0);
        const __m256i lo = _mm256_shuffle_epi8(t, _mm256_and_si256(c, nib));                       // rows 0..15
        const __m256i hi = _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib)); // rows 16..31
        a0 = _mm256_add_epi16(a0, lo);
        a1 = _mm256_add_epi16(a1, _mm256_srli_epi16(lo, 8));
        a2 = _mm256_add_epi16(a2, hi);
        a3 = _mm256_add_epi16(a3, _mm256_srli_epi16(hi, 8));
    }
    a0 = _mm256_sub_epi16(a0, _mm256_slli_epi16(a1, 8));  // even rows
    a2 = _mm256_sub_epi16(a2, _mm256_slli_epi16(a3, 8));
    // the two 128-bit lanes hold even and odd positions of the same rows: add them
    const __m128i e0 = _mm_add_epi16(_mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1));
    const __m128i o0 = _mm_add_epi16(_mm256_castsi256_si128(a1), _mm256_extracti128_si256(a1, 1));
    const __m128i e1 = _mm_add_epi16(_mm256_castsi256_si128(a2), _mm256_extracti128_si256(a2, 1));
    const __m128i o1 = _mm_add_epi16(_mm256_castsi256_si128(a3), _mm256_extracti128_si256(a3, 1));
    q[0] = _mm_unpacklo_epi16(e0, o0);
    q[1] = _mm_unpackhi_epi16(e0, o0);
    q[2] = _mm_unpacklo_epi16(e1, o1);
    q[3] = _mm_unpackhi_epi16(e1, o1);
}

// 32 interleaved rows (group codes wg) against one column over table blocks [b0, b1):
// acc[i] (row i's float sum so far) += the blocks' terms, in block order. 16-bit tables take a
// second pass over the same codes for the low bytes (from L1), and each sum is 256*high + low.
PQ_INLINE void pqa_group32_impl(const struct pqa_shape * s, const uint8_t * wg, const uint8_t * pf, const struct pqa_act * a,
                                int64_t b0, int64_t b1, float acc[32], const int wide) {
    __m256 f[4];
    for (int i = 0; i < 4; i++) f[i] = _mm256_loadu_ps(acc + 8*i);
    for (int64_t b = b0; b < b1; b++) {
        const int64_t p0 = b * GGML_PQA_QB, p1 = p0 + GGML_PQA_QB < s->p ? p0 + GGML_PQA_QB : s->p;
        __m128i q[4], l[4];
        pqa_sums32(wg, a->q, pf, 1, p0, p1, q);
        if (wide) pqa_sums32(wg, a->q2, pf, 0, p0, p1, l);  // the codes are in L1 now
        const __m256 sb = _mm256_set1_ps(a->sb[b]);
        for (int i = 0; i < 4; i++) {
            __m256i n = _mm256_cvtepu16_epi32(q[i]);
            if (wide) n = _mm256_add_epi32(_mm256_slli_epi32(n, 8), _mm256_cvtepu16_epi32(l[i]));
            f[i] = _mm256_fmadd_ps(sb, _mm256_cvtepi32_ps(n), f[i]);
        }
    }
    for (int i = 0; i < 4; i++) _mm256_storeu_ps(acc + 8*i, f[i]);
}
#elif defined(GGML_PQ_NEON)
// As the AVX2 version: u16 sums per row (acc[0..1] rows 0..15, acc[2..3] rows 16..31).
PQ_INLINE void pqa_sums32(const uint8_t * wg, const uint8_t * tq, const uint8_t * pf, const int prefetch,
                          int64_t p0, int64_t p1, uint16x8_t acc[4]) {
    const uint8x16_t nib = vdupq_n_u8(0x0F);
    for (int i = 0; i < 4; i++) acc[i] = vdupq_n_u16(0);
    for (int64_t p = p0; p < p1; p++) {
        const uint8x16_t c = vld1q_u8(wg + p*16);
        const uint8x16_t t = vld1q_u8(tq + p*16);
        if (prefetch) __builtin_prefetch(pf + p*16);
        const uint8x16_t lo = vqtbl1q_u8(t, vandq_u8(c, nib));  // rows 0..15
        const uint8x16_t hi = vqtbl1q_u8(t, vshrq_n_u8(c, 4));  // rows 16..31
        acc[0] = vaddw_u8(acc[0], vget_low_u8(lo));
        acc[1] = vaddw_high_u8(acc[1], lo);
        acc[2] = vaddw_u8(acc[2], vget_low_u8(hi));
        acc[3] = vaddw_high_u8(acc[3], hi);
    }
}

PQ_INLINE void pqa_group32_impl(const struct pqa_shape * s, const uint8_t * wg, const uint8_t * pf, const struct pqa_act * a,
                                int64_t b0, int64_t b1, float acc[32], const int wide) {
    float32x4_t f[8];
    for (int i = 0; i < 8; i++) f[i] = vld1q_f32(acc + 4*i);
    for (int64_t b = b0; b < b1; b++) {
        const int64_t p0 = b * GGML_PQA_QB, p1 = p0 + GGML_PQA_QB < s->p ? p0 + GGML_PQA_QB : s->p;
        uint16x8_t q[4], l[4];
        pqa_sums32(wg, a->q, pf, 1, p0, p1, q);
        if (wide) pqa_sums32(wg, a->q2, pf, 0, p0, p1, l);  // the codes are in L1 now
        const float32x4_t sb = vdupq_n_f32(a->sb[b]);
        for (int i = 0; i < 4; i++) {
            uint32x4_t n0 = vmovl_u16(vget_low_u16(q[i])), n1 = vmovl_high_u16(q[i]);
            if (wide) {
                n0 = vaddq_u32(vshlq_n_u32(n0, 8), vmovl_u16(vget_low_u16(l[i])));
                n1 = vaddq_u32(vshlq_n_u32(n1, 8), vmovl_high_u16(l[i]));
            }
            f[2*i]     = vfmaq_f32(f[2*i],     vcvtq_f32_u32(n0), sb);
            f[2*i + 1] = vfmaq_f32(f[2*i + 1], vcvtq_f32_u32(n1), sb);
        }
    }
    for (int i = 0; i < 8; i++) vst1q_f32(acc + 4*i, f[i]);
}
#endif

#if defined(GGML_PQ_AVX2) || defined(GGML_PQ_NEON)
static void pqa_group32_8(const struct pqa_shape * s, const uint8_t * wg, const uint8_t * pf, const struct pqa_act * a,
                          int64_t b0, int64_t b1, float acc[32]) {
    pqa_group32_impl(s, wg, pf, a, b0, b1, acc, 0);
}
static void pqa_group32_16(const struct pqa_shape * s, const uint8_t * wg, const uint8_t * pf, const struct pqa_act * a,
                           int64_t b0, int64_t b1, float acc[32]) {
    pqa_group32_impl(s, wg, pf, a, b0, b1, acc, 1);
}
static inline void pqa_group32(const struct pqa_shape * s, const uint8_t * wg, const uint8_t * pf, const struct pqa_act * a,
                               int64_t b0, int64_t b1, float acc[32]) {
    if (s->wide) {
        pqa_group32_16(s, wg, pf, a, b0, b1, acc);
    } else {
        pqa_group32_8(s, wg, pf, a, b0, b1, acc);
    }
}
#define PQA_GROUP32 pqa_group32
#endif

// Two visiting orders for the same arithmetic (each row's blocks in block order, from y = 0), so
// that every batch size and thread split gives the same bits:
//
// Few columns (token generation) are bound by reading the codes from memory. A 32-row group's
// codes are 16*P contiguous bytes and the groups follow each other, so finishing one group's
// blocks before the next makes a thread's share one sequential stream, which DRAM serves best;
// the software prefetch runs PQA_AHEAD bytes in front of it, across the page boundaries where
// the hardware prefetchers stop. (Visiting four blocks of every group in turn, as the batched
// order does, read 4 KiB runs 16*P bytes apart: 1.4x the time from memory, the same from cache.)
//
// Many columns (prompts) are bound by the lookups: PQA_KB table blocks at a time (4 KiB of a
// column's tables) so that they stay in L1 while the codes pass, and PQA_NC columns per pass so
// that a group's codes are reused from L1.
#define PQA_STREAM_COLS 4
#define PQA_AHEAD       8192
#define PQA_KB          4
#define PQA_NC          8

#if defined(PQA_GROUP32)
static void pqa_mul_mat_stream(const struct pqa_shape * s, const uint8_t * w, int64_t nrows, int64_t r0, int64_t g1,
                               const float * scale, const uint8_t * act, size_t act_stride, int64_t ncols,
                               float * y, int64_t ldy) {
    // the last group a prefetch may touch: the tensor's own, not the thread's, so that the
    // stream runs on into the next thread's rows, which are in memory anyway
    const uint8_t * last = w + (nrows / 32 > 0 ? nrows / 32 - 1 : 0) * 16 * s->p;
    // each column's tables and bias once, not once per group
    struct pqa_act a[PQA_STREAM_COLS];
    float bias[PQA_STREAM_COLS];
    for (int64_t c = 0; c < ncols; c++) {
        a[c] = pqa_act_of(s, act + c * act_stride);
        bias[c] = pqa_bias(s, &a[c]);
    }
    for (int64_t r = r0; r < g1; r += 32) {
        const uint8_t * wg = w + (r / 32) * 16 * s->p;
        const uint8_t * pf = wg + PQA_AHEAD < last ? wg + PQA_AHEAD : last;
        for (int64_t c = 0; c < ncols; c++) {
            float * yc = y + c*ldy + r;
            for (int i = 0; i < 32; i++) yc[i] = 0.0f;
            PQA_GROUP32(s, wg, pf, &a[c], 0, s->nblk, yc);
            for (int i = 0; i < 32; i++) yc[i] = (scale ? scale[r + i] : 1.0f) * (yc[i] + bias[c]);
        }
    }
}

static void pqa_mul_mat_tiled(const struct pqa_shape * s, const uint8_t * w, int64_t r0, int64_t g1,
                              const float * scale, const uint8_t * act, size_t act_stride, int64_t ncols,
                              float * y, int64_t ldy) {
    for (int64_t c0 = 0; c0 < ncols; c0 += PQA_NC) {
        const int64_t c1 = c0 + PQA_NC < ncols ? c0 + PQA_NC : ncols;
        for (int64_t c = c0; c < c1; c++) {
            for (int64_t r = r0; r < g1; r++) y[c*ldy + r] = 0.0f;
        }
        for (int64_t b0 = 0; b0 < s->nblk; b0 += PQA_KB) {
            const int64_t b1 = b0 + PQA_KB < s->nblk ? b0 + PQA_KB : s->nblk;
            for (int64_t r = r0; r < g1; r += 32) {
                const uint8_t * wg = w + (r / 32) * 16 * s->p;
                // the next group's codes for the same positions, one group ahead
                const uint8_t * pf = r + 32 < g1 ? wg + 16 * s->p : wg;
                for (int64_t c = c0; c < c1; c++) {
                    const struct pqa_act a = pqa_act_of(s, act + c * act_stride);
                    PQA_GROUP32(s, wg, pf, &a, b0, b1, y + c*ldy + r);
                }
            }
        }
        for (int64_t c = c0; c < c1; c++) {
            const struct pqa_act a = pqa_act_of(s, act + c * act_stride);
            const float bias = pqa_bias(s, &a);
            for (int64_t r = r0; r < g1; r++) y[c*ldy + r] = (scale ? scale[r] : 1.0f) * (y[c*ldy + r] + bias);
        }
    }
}
#endif

void ggml_pqa_mul_mat(int type, int64_t n, int tbits, const void * w, int64_t nrows, int64_t r0, int64_t r1,
                      const float * scale, const void * act, size_t act_stride, int64_t ncols,
                      float * y, int64_t ldy) {
#if defined(PQA_GROUP32)
    const struct pqa_shape s = pqa_shape_of(type, n, tbits);
    const int64_t full = nrows / 32 * 32;
    const int64_t g1 = (r1 < full ? r1 : full);
    if (ncols <= PQA_STREAM_COLS) {
        pqa_mul_mat_stream(&s, (const uint8_t *) w, nrows, r0, g1, scale, (const uint8_t *) act, act_stride, ncols, y, ldy);
    } else {
        pqa_mul_mat_tiled(&s, (const uint8_t *) w, r0, g1, scale, (const uint8_t *) act, act_stride, ncols, y, ldy);
    }
    // rows after the last group of 32: the reference, whose sums are the same integers
    const int64_t t0 = r0 > g1 ? r0 : g1;
    if (t0 < r1) ggml_pqa_mul_mat_ref(type, n, tbits, w, nrows, t0, r1, scale, act, act_stride, ncols, y, ldy);
#else
    ggml_pqa_mul_mat_ref(type, n, tbits, w, nrows, r0, r1, scale, act, act_stride, ncols, y, ldy);
#endif
}

// ---- rows as floats ----

void ggml_pqa_dequant_row(int type, int64_t n, const void * w, int64_t nrows, int64_t r,
                          const float * lut, float scale, float * y) {
    const struct pqa_shape s = pqa_shape_of(type, n, 8);
    const uint8_t * x = (const uint8_t *) w;
    for (int64_t j = 0; j < n / s.v; j++) {
        for (int t = 0; t < s.v; t++) {
            float sum = lut[t*16 + ggml_pqa_code(x, nrows, s.p, r, j*s.m)];
            for (int m = 1; m < s.m; m++) sum += lut[((size_t) m*s.v + t)*16 + ggml_pqa_code(x, nrows, s.p, r, j*s.m + m)];
            y[j*s.v + t] = scale * sum;
        }
    }
}

void ggml_pqa_get_rows(int type, int64_t n, const void * w, int64_t nrows, const int32_t * rows, int64_t nget,
                       const float * lut, const float * scale, float * dst, int64_t ldd) {
    for (int64_t i = 0; i < nget; i++) {
        const int64_t r = rows[i];
        ggml_pqa_dequant_row(type, n, w, nrows, r, lut, scale ? scale[r] : 1.0f, dst + i*ldd);
    }
}
