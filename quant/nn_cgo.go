//go:build cgo

package quant

/*
#cgo CFLAGS: -O2 -std=c11
#pragma STDC FP_CONTRACT OFF
#include <math.h>
#include <stdint.h>
#include <string.h>

// Batched exact kd-tree search (see nn.go): the same tree, bound, tie rule
// and float32 distance arithmetic as the Go code, so it returns identical
// answers; the leaves are scanned eight entries at a time with AVX2 where
// the CPU has it. Written in C because Go has no SIMD: on these leaves the
// Go loop is several times slower. ISO C mode (-std=c11, where gcc does not
// contract) and the FP_CONTRACT pragma (clang) keep (w*e)*e and the
// sum as separate roundings, as in Go.

typedef struct {
	const int32_t *dim, *left, *right, *ids;
	const float *split, *blk;
	int v;
	const float *q, *w;
	double off[64];
	float best;
	int32_t bestID;
} pq_ctx;

#define PQ_SLACK (1 + 1e-5)

static void pq_take(pq_ctx *c, const float *d8, const int32_t *ids) {
	for (int l = 0; l < 8; l++) {
		float d = d8[l];
		int32_t id = ids[l];
		if (id < 0) continue;
		if (d < c->best || (d == c->best && id < c->bestID)) {
			c->best = d;
			c->bestID = id;
		}
	}
}

static void pq_leaf_scalar(pq_ctx *c, int b0, int b1) {
	int v = c->v;
	for (int b = b0; b < b1; b++) {
		const float *p = c->blk + (size_t)b * v * 8;
		float d8[8] = {0};
		for (int t = 0; t < v; t++) {
			for (int l = 0; l < 8; l++) {
				float e = c->q[t] - p[t * 8 + l];
				d8[l] = d8[l] + (c->w[t] * e) * e;
			}
		}
		pq_take(c, d8, c->ids + (size_t)b * 8);
	}
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2")))
static void pq_leaf_avx2(pq_ctx *c, int b0, int b1) {
	int v = c->v;
	for (int b = b0; b < b1; b++) {
		const float *p = c->blk + (size_t)b * v * 8;
		__m256 acc = _mm256_setzero_ps();
		for (int t = 0; t < v; t++) {
			__m256 e = _mm256_sub_ps(_mm256_set1_ps(c->q[t]), _mm256_loadu_ps(p + t * 8));
			acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(c->w[t]), e), e));
		}
		__m256 le = _mm256_cmp_ps(acc, _mm256_set1_ps(c->best), _CMP_LE_OQ);
		if (_mm256_movemask_ps(le) == 0) continue;
		float d8[8];
		_mm256_storeu_ps(d8, acc);
		pq_take(c, d8, c->ids + (size_t)b * 8);
	}
}
#endif

typedef void (*pq_leaf_fn)(pq_ctx *, int, int);

static void pq_search(pq_ctx *c, pq_leaf_fn leaf, int32_t n, double rd) {
	int32_t d = c->dim[n];
	if (d < 0) {
		leaf(c, c->left[n], c->right[n]);
		return;
	}
	double diff = (double)c->q[d] - (double)c->split[n];
	int32_t near = c->left[n], far = c->right[n];
	if (diff > 0) { int32_t x = near; near = far; far = x; }
	pq_search(c, leaf, near, rd);
	double old = c->off[d];
	double rd2 = rd + (double)c->w[d] * (diff * diff - old * old);
	if (rd2 <= (double)c->best * PQ_SLACK) {
		c->off[d] = diff;
		pq_search(c, leaf, far, rd2);
		c->off[d] = old;
	}
}

static float pq_wdist(const float *q, const float *p, const float *w, int v) {
	float d = 0;
	for (int t = 0; t < v; t++) {
		float e = q[t] - p[t];
		d = d + (w[t] * e) * e;
	}
	return d;
}

// n queries q[i*v..], weights w[i*v..] (wstride 0: one weight vector for all);
// guess may be NULL, else entry indices into lut (k*v floats) to start from.
static void pq_nearest_batch(const int32_t *dim, const float *split, const int32_t *left, const int32_t *right,
		const float *blk, const int32_t *ids, int v,
		const float *q, const float *w, int wstride, int n,
		const int32_t *guess, const float *lut, int32_t *outIdx, float *outDist) {
	pq_ctx c;
	memset(&c, 0, sizeof c);
	c.dim = dim; c.split = split; c.left = left; c.right = right; c.blk = blk; c.ids = ids; c.v = v;
	pq_leaf_fn leaf = pq_leaf_scalar;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) leaf = pq_leaf_avx2;
#endif
	for (int i = 0; i < n; i++) {
		c.q = q + (size_t)i * v;
		c.w = w + (size_t)i * wstride;
		c.best = INFINITY;
		c.bestID = INT32_MAX;
		if (guess) {
			c.bestID = guess[i];
			c.best = pq_wdist(c.q, lut + (size_t)guess[i] * v, c.w, v);
		}
		for (int t = 0; t < v; t++) c.off[t] = 0;
		pq_search(&c, leaf, 0, 0);
		outIdx[i] = c.bestID;
		outDist[i] = c.best;
	}
}
*/
import "C"

import "unsafe"

// nearestBatch finds the nearest entry of each of the len(idx) queries in q
// (v floats each) under weights w: either one weight vector per query
// (len(w) == len(q)) or one for all (len(w) == v). With guess non-nil,
// guess[i] starts query i's search (see nearestFrom); guess may alias idx.
func (t *kdTree) nearestBatch(q, w []float32, guess []int32, lut []float32, idx []int32, dist []float32) {
	n := len(idx)
	if n == 0 {
		return
	}
	lb := t.lb
	ws := C.int(t.v)
	if len(w) == t.v && len(q) != t.v {
		ws = 0
	}
	var g *C.int32_t
	var l *C.float
	if guess != nil {
		g = (*C.int32_t)(unsafe.Pointer(&guess[0]))
		l = (*C.float)(unsafe.Pointer(&lut[0]))
	}
	C.pq_nearest_batch(
		(*C.int32_t)(unsafe.Pointer(&lb.dim[0])), (*C.float)(unsafe.Pointer(&lb.split[0])),
		(*C.int32_t)(unsafe.Pointer(&lb.left[0])), (*C.int32_t)(unsafe.Pointer(&lb.right[0])),
		(*C.float)(unsafe.Pointer(&lb.blk[0])), (*C.int32_t)(unsafe.Pointer(&lb.ids[0])), C.int(t.v),
		(*C.float)(unsafe.Pointer(&q[0])), (*C.float)(unsafe.Pointer(&w[0])), ws, C.int(n),
		g, l, (*C.int32_t)(unsafe.Pointer(&idx[0])), (*C.float)(unsafe.Pointer(&dist[0])))
}
