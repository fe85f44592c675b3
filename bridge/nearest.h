// Nearest LUT entries for fine-tuning's index step (finetune's reassign).
#pragma once
#include <stdint.h>

// pocket_nearest sets idx[r*(cols/v) + j], for every row r whose scale is not 0
// and every sub-vector j of v weights, to the candidate nearest that sub-vector
// of shadow divided by the row scale (squared distance; ties and rows with
// nothing finite keep the rule of finetune's Go loop). Candidates are the LUT
// entries lut[id*v .. id*v+v) for id = ids[k], k < nids (ids NULL: id = k).
// Returns 0, or -1 when it cannot allocate its scratch.
int pocket_nearest(const float * lut, int v, const uint32_t * ids, int64_t nids, const float * shadow, int64_t rows,
                   int64_t cols, const float * scales, uint32_t * idx);

// pocket_nearest_simd turns the SIMD path off (0) or back on (1), so that tests
// hold the scalar one, which other CPUs run, to the same choices.
void pocket_nearest_simd(int on);
