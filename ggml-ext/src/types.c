// The PQ type table (format/types.go): one row per type, indexed by id - 100.
#include "pq-impl.h"

static const struct ggml_pq_type_info pq_types[GGML_PQ_TYPE_END - GGML_PQ_TYPE_FIRST] = {
    //  name        v  bits blck bytes M  max_k
    { "pq_2x8",     2,  8,  2,   1,   1, 1 << 8  },
    { "pq_4x8",     4,  8,  4,   1,   1, 1 << 8  },
    { "pq_4x12",    4, 12,  8,   3,   1, 1 << 12 },
    { "pq_4x16",    4, 16,  4,   2,   1, 1 << 16 },
    { "pq_8x8",     8,  8,  8,   1,   1, 1 << 8  },
    { "pq_8x12",    8, 12, 16,   3,   1, 1 << 12 },
    { "pq_8x16",    8, 16,  8,   2,   1, 1 << 16 },
    { "pqa_4x8",    4,  8,  4,   1,   2, 16 },
    { "pqa_4x12",   4, 12,  8,   3,   3, 16 },
    { "pqa_8x8",    8,  8,  8,   1,   2, 16 },
    { "pqa_8x12",   8, 12, 16,   3,   3, 16 },
    { "pqa_8x16",   8, 16,  8,   2,   4, 16 },
};

const struct ggml_pq_type_info * ggml_pq_get_type(int type) {
    return ggml_pq_is_pq(type) ? &pq_types[type - GGML_PQ_TYPE_FIRST] : NULL;
}
