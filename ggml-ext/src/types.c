// The PQ type table (format/types.go): one row per type, indexed by id - 100.
#include "pq-impl.h"

static const struct ggml_pq_type_info pq_types[GGML_PQ_TYPE_END - GGML_PQ_TYPE_FIRST] = {
    { "pq_2x8",  2,  8,  2, 1 },
    { "pq_4x8",  4,  8,  4, 1 },
    { "pq_4x12", 4, 12,  8, 3 },
    { "pq_4x16", 4, 16,  4, 2 },
    { "pq_8x8",  8,  8,  8, 1 },
    { "pq_8x12", 8, 12, 16, 3 },
    { "pq_8x16", 8, 16,  8, 2 },
};

const struct ggml_pq_type_info * ggml_pq_get_type(int type) {
    return ggml_pq_is_pq(type) ? &pq_types[type - GGML_PQ_TYPE_FIRST] : NULL;
}
