// Internal helpers shared by the kernel files: index unpacking (FORMAT.md packing rules).
#pragma once

#include "ggml-pq.h"  // ggml-ext/include, or ggml/include in the patched ggml tree

#include <math.h>
#include <string.h>

// Kernels are written once with v and bits as parameters; forced inlining specialises them per type.
#if defined(_MSC_VER)
#define PQ_INLINE static __forceinline
#else
#define PQ_INLINE static inline __attribute__((always_inline))
#endif

#if defined(GGML_PQ_FORCE_SCALAR)
// the reference build: no SIMD even where the compiler targets it
#elif defined(__AVX2__)
#include <immintrin.h>
#define GGML_PQ_AVX2 1
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define GGML_PQ_NEON 1
#endif

// ---- One summation order for every product path ----
// Y(r, c) must not depend on how many columns the batch has, nor on how rows are split across
// threads: a greedy sampler flips on near-ties otherwise. So vec_dot (<= 2 columns) and the
// tiled mat-mul (decoded tile x micro-kernel) add the products in exactly this order:
//   - the row is cut into chunks of PQ_KC weights; each chunk gives a float partial sum and the
//     partials are added in chunk order (the first one assigned, not added to 0);
//   - in a chunk, the first PQ_GROUP*floor(kc/PQ_GROUP) weights go to ONE vector accumulator
//     (AVX2: 8 lanes, NEON: 4), one FMA per block of lanes in ascending order, then the fixed
//     horizontal sum (pq_hsum / vaddvq_f32); the scalar build has no lanes (partial starts at 0);
//   - the remaining weights of the chunk (the row's tail) are added one by one with PQ_MADD;
//   - the row scale multiplies the finished sum.
// One accumulator per (row, column) is what the 4x3 micro-kernel of the tiled path can keep in
// registers; the one-row path hides the FMA latency by doing four rows at once instead of
// splitting a row over several accumulators. AVX2, NEON and scalar builds differ from each
// other; each is consistent with itself.
#define PQ_KC    1024  // weights per chunk: also the decoded tile width of mul_mat.c
#define PQ_GROUP 16    // weights per SIMD step of vec_dot (pq_load16)

// a*b + s, rounded the same wherever it is written: an explicit fma where the hardware has one,
// else a separate multiply and add (which the compiler cannot contract without an FMA unit).
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
#define PQ_MADD(a, b, s) fmaf((a), (b), (s))
#else
#define PQ_MADD(a, b, s) ((s) + (a) * (b))
#endif

// Index j of a row (j counts sub-vectors) for 8-, 12- and 16-bit packing.
static inline uint32_t pq_index(int bits, const uint8_t * x, int64_t j) {
    switch (bits) {
        case 8:  return x[j];
        case 16: return (uint32_t) x[2*j] | (uint32_t) x[2*j + 1] << 8;
        default: {
            const uint8_t * b = x + (j >> 1) * 3;
            return (j & 1) ? (uint32_t) (b[1] >> 4) | (uint32_t) b[2] << 4
                           : (uint32_t) b[0] | (uint32_t) (b[1] & 0x0F) << 8;
        }
    }
}

// Unpacks nidx indices starting at sub-vector j0 (j0 even for 12-bit) into idx.
static inline void pq_unpack(int bits, const uint8_t * x, int64_t j0, int nidx, uint32_t * idx) {
    if (bits == 8) {
        const uint8_t * p = x + j0;
        for (int i = 0; i < nidx; i++) idx[i] = p[i];
    } else if (bits == 16) {
        const uint8_t * p = x + 2*j0;
        for (int i = 0; i < nidx; i++) idx[i] = (uint32_t) p[2*i] | (uint32_t) p[2*i + 1] << 8;
    } else {
        const uint8_t * p = x + j0/2*3;
        for (int i = 0; i + 1 < nidx; i += 2, p += 3) {
            idx[i]     = (uint32_t) p[0] | (uint32_t) (p[1] & 0x0F) << 8;
            idx[i + 1] = (uint32_t) (p[1] >> 4) | (uint32_t) p[2] << 4;
        }
    }
}

// Indices of the cnt (even) sub-vectors starting at j0 (even), for bits known at compile time.
PQ_INLINE
void pq_indices(const int bits, const uint8_t * x, int64_t j0, const int cnt, uint32_t * idx) {
    // one wide load per group, then shifts: the table lookups already keep the load ports busy
    if (bits == 8 && cnt % 4 == 0) {
        for (int i = 0; i < cnt; i += 4) {
            uint32_t w; memcpy(&w, x + j0 + i, 4);
            idx[i] = w & 0xFF; idx[i + 1] = w >> 8 & 0xFF; idx[i + 2] = w >> 16 & 0xFF; idx[i + 3] = w >> 24;
        }
    } else if (bits == 8) {
        for (int i = 0; i < cnt; i++) idx[i] = x[j0 + i];
    } else if (bits == 16 && cnt % 2 == 0) {
        for (int i = 0; i < cnt; i += 2) {
            uint32_t w; memcpy(&w, x + 2*(j0 + i), 4);
            idx[i] = w & 0xFFFF; idx[i + 1] = w >> 16;
        }
    } else if (bits == 16) {
        for (int i = 0; i < cnt; i++) idx[i] = (uint32_t) x[2*(j0 + i)] | (uint32_t) x[2*(j0 + i) + 1] << 8;
    } else {
        const uint8_t * p = x + j0/2*3;
        for (int i = 0; i < cnt; i += 2, p += 3) {
            idx[i]     = (uint32_t) p[0] | (uint32_t) (p[1] & 0x0F) << 8;
            idx[i + 1] = (uint32_t) (p[1] >> 4) | (uint32_t) p[2] << 4;
        }
    }
}

#if defined(GGML_PQ_AVX2)
// Weights 16g .. 16g+15 of a row in two registers; v and bits are compile-time constants
// at every call site (the callers switch on the type once per row).
PQ_INLINE
void pq_load16(const int v, const int bits, const uint8_t * x, const float * lut, int64_t g, __m256 * lo, __m256 * hi) {
    uint32_t i[8];
    const int cnt = 16 / v;
    pq_indices(bits, x, g*cnt, cnt, i);
    if (v == 8) {
        *lo = _mm256_loadu_ps(lut + 8*i[0]);
        *hi = _mm256_loadu_ps(lut + 8*i[1]);
    } else if (v == 4) {
        *lo = _mm256_set_m128(_mm_loadu_ps(lut + 4*i[1]), _mm_loadu_ps(lut + 4*i[0]));
        *hi = _mm256_set_m128(_mm_loadu_ps(lut + 4*i[3]), _mm_loadu_ps(lut + 4*i[2]));
    } else {
        const double * l = (const double *) lut;  // a v=2 row is 8 bytes: move it as one double
        *lo = _mm256_castpd_ps(_mm256_set_pd(l[i[3]], l[i[2]], l[i[1]], l[i[0]]));
        *hi = _mm256_castpd_ps(_mm256_set_pd(l[i[7]], l[i[6]], l[i[5]], l[i[4]]));
    }
}
#elif defined(GGML_PQ_NEON)
PQ_INLINE
void pq_load16(const int v, const int bits, const uint8_t * x, const float * lut, int64_t g, float32x4_t w[4]) {
    uint32_t i[8];
    const int cnt = 16 / v;
    pq_indices(bits, x, g*cnt, cnt, i);
    if (v == 8) {
        w[0] = vld1q_f32(lut + 8*i[0]); w[1] = vld1q_f32(lut + 8*i[0] + 4);
        w[2] = vld1q_f32(lut + 8*i[1]); w[3] = vld1q_f32(lut + 8*i[1] + 4);
    } else if (v == 4) {
        for (int k = 0; k < 4; k++) w[k] = vld1q_f32(lut + 4*i[k]);
    } else {
        for (int k = 0; k < 4; k++) w[k] = vcombine_f32(vld1_f32(lut + 2*i[2*k]), vld1_f32(lut + 2*i[2*k + 1]));
    }
}
#endif

#if defined(GGML_PQ_AVX2)
// The horizontal sum of the canonical order: halves, then pairs, then the last two.
static inline float pq_hsum(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

// out[c*4 + i] = dot(row i, column c) for rows x, x + stride, .. x + 3 stride and ncols (1 or 2)
// columns y, y + ldy: the few-column path of mul_mat.c (vec_dot.c).
void ggml_pq_vec_dot_4rows(int type, int64_t n, const uint8_t * x, size_t stride, const float * lut,
                           const float * y, int64_t ldy, int ncols, float out[8]);

// Expands to a switch over the seven PQ types calling FN(v, bits, args...) with constants,
// so each type gets its own specialised copy of an always_inline kernel.
#define PQ_DISPATCH(type, FN, ...) \
    switch (type) { \
        case GGML_PQ_2X8:  FN(2,  8, __VA_ARGS__); break; \
        case GGML_PQ_4X8:  FN(4,  8, __VA_ARGS__); break; \
        case GGML_PQ_4X12: FN(4, 12, __VA_ARGS__); break; \
        case GGML_PQ_4X16: FN(4, 16, __VA_ARGS__); break; \
        case GGML_PQ_8X8:  FN(8,  8, __VA_ARGS__); break; \
        case GGML_PQ_8X12: FN(8, 12, __VA_ARGS__); break; \
        case GGML_PQ_8X16: FN(8, 16, __VA_ARGS__); break; \
        default: break; \
    }
