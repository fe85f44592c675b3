// Fine-tuning's index step in C: the same distances and the same choice as the Go
// loop it replaces (finetune's reassign), bit for bit, but eight candidates per
// AVX2 instruction. Go has no SIMD, and on a pqa_*x12 table every sub-vector is
// compared with 4096 candidate sums: most of a moving-index epoch's time.
//
// Each distance is Σ_i (x_i - e_i)² summed in i order with a separately rounded
// multiply and add, as Go computes it on amd64 (it does not fuse them there), so
// contraction into fma must stay off here.
#pragma GCC optimize("fp-contract=off")
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
#include "nearest.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The candidates transposed (component i of candidate k at i*kpad + k) and padded
// to a multiple of 8 with +Inf entries, whose distance is never the smallest.
struct cands {
    float * soa;
    int64_t kpad;
};

// The chosen id of one sub-vector x: the first candidate with the smallest
// distance; 0 when none is below +Inf (all NaN or infinite), as the Go loop's
// initial best.
static uint32_t nearest_scalar(const struct cands * c, int v, const uint32_t * ids, int64_t nids, const float * x) {
    uint32_t best = 0;
    float bestD = INFINITY;
    for (int64_t k = 0; k < nids; k++) {
        float d = 0.0f;
        for (int i = 0; i < v; i++) {
            const float dd = x[i] - c->soa[i * c->kpad + k];
            d = d + dd * dd;
        }
        if (d < bestD) {
            best = ids ? ids[k] : (uint32_t) k;
            bestD = d;
        }
    }
    return best;
}

#if defined(__x86_64__)
// Eight candidates at a time: each lane keeps its first smallest distance and
// its position; the lanes' results then give the first smallest overall. The
// first term is dd*dd alone: 0 + dd*dd is the same float (a square is never -0).
__attribute__((target("avx2"))) static uint32_t nearest_avx2(const struct cands * c, int v, const uint32_t * ids,
                                                               const float * x) {
    __m256 xv[16];
    for (int i = 0; i < v; i++) xv[i] = _mm256_set1_ps(x[i]);
    __m256 bestD = _mm256_set1_ps(INFINITY);
    __m256i bestK = _mm256_set1_epi32(-1);
    __m256i kk = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i eight = _mm256_set1_epi32(8);
    for (int64_t k = 0; k < c->kpad; k += 8) {
        __m256 dd = _mm256_sub_ps(xv[0], _mm256_loadu_ps(c->soa + k));
        __m256 d = _mm256_mul_ps(dd, dd);
        for (int i = 1; i < v; i++) {
            dd = _mm256_sub_ps(xv[i], _mm256_loadu_ps(c->soa + i * c->kpad + k));
            d = _mm256_add_ps(d, _mm256_mul_ps(dd, dd));
        }
        const __m256 lt = _mm256_cmp_ps(d, bestD, _CMP_LT_OQ);  // false for NaN, as Go's <
        bestD = _mm256_blendv_ps(bestD, d, lt);
        bestK = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bestK), _mm256_castsi256_ps(kk), lt));
        kk = _mm256_add_epi32(kk, eight);
    }
    float ds[8];
    int32_t ks[8];
    _mm256_storeu_ps(ds, bestD);
    _mm256_storeu_si256((__m256i *) ks, bestK);
    float bd = INFINITY;
    int32_t bk = -1;
    for (int j = 0; j < 8; j++) {
        if (ks[j] >= 0 && (ds[j] < bd || (ds[j] == bd && ks[j] < bk))) {
            bd = ds[j];
            bk = ks[j];
        }
    }
    if (bk < 0) return 0;
    return ids ? ids[bk] : (uint32_t) bk;
}
#endif

static int use_simd = 1;

void pocket_nearest_simd(int on) { use_simd = on; }

int pocket_nearest(const float * lut, int v, const uint32_t * ids, int64_t nids, const float * shadow, int64_t rows,
                   int64_t cols, const float * scales, uint32_t * idx) {
    if (v < 1 || v > 16) return -1;
    struct cands c;
    c.kpad = (nids + 7) / 8 * 8;
    c.soa = malloc(sizeof(float) * (size_t) (v * c.kpad + 1));
    if (!c.soa) return -1;
    for (int i = 0; i < v; i++) {
        for (int64_t k = 0; k < c.kpad; k++) {
            const int64_t id = k < nids ? (ids ? (int64_t) ids[k] : k) : -1;
            c.soa[i * c.kpad + k] = id < 0 ? INFINITY : lut[id * v + i];
        }
    }
#if defined(__x86_64__)
    const int avx2 = use_simd && __builtin_cpu_supports("avx2");
#endif
    const int64_t per = cols / v;
    float x[16];
    for (int64_t r = 0; r < rows; r++) {
        const float s = scales ? scales[r] : 1.0f;
        if (s == 0.0f) continue;
        for (int64_t j = 0; j < per; j++) {
            const float * src = shadow + r * cols + j * v;
            for (int i = 0; i < v; i++) x[i] = src[i] / s;
#if defined(__x86_64__)
            if (avx2) {
                idx[r * per + j] = nearest_avx2(&c, v, ids, x);
                continue;
            }
#endif
            idx[r * per + j] = nearest_scalar(&c, v, ids, nids, x);
        }
    }
    free(c.soa);
    return 0;
}
