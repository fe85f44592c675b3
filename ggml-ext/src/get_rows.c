// Row gather with dequantization: a compressed token_embd reaches ggml's get_rows.
#include "pq-impl.h"

void ggml_pq_get_rows(int type, int64_t n, const void * w, size_t wstride, const int32_t * rows, int64_t nrows,
                      const float * lut, const float * scale, float * dst, int64_t ldd) {
    for (int64_t i = 0; i < nrows; i++) {
        const int64_t r = rows[i];
        ggml_pq_dequant_row(type, (const uint8_t *) w + r*wstride, dst + i*ldd, n, lut, scale ? scale[r] : 1.0f);
    }
}
