// Training graph for a Llama model whose matrices are PQ weights rebuilt
// from codes, tables and row scales inside the ggml graph.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pocket_trainer pocket_trainer;

typedef struct {
    int   dim, layers, heads, kv_heads, ff, vocab, head_dim, rope_dims;
    float rope_base, eps;
    int   threads;
} pocket_train_config;

// Slots are declared before pocket_trainer_alloc; each returns a handle >= 0, or -1.
pocket_trainer * pocket_trainer_new(const pocket_train_config * c);
int  pocket_trainer_dense(pocket_trainer * t, const char * name, int64_t ne0, int64_t ne1, int trainable);
int  pocket_trainer_table(pocket_trainer * t, int64_t v, int64_t k, int trainable);
int  pocket_trainer_pq(pocket_trainer * t, const char * name, int64_t cols, int64_t rows, int table, int v, int has_scales, int want_grad);
int  pocket_trainer_alloc(pocket_trainer * t);
// Values: dense data, table LUT (k x v), or for a PQ slot its scales (part 0) or codes (part 1, int32).
void pocket_trainer_set(pocket_trainer * t, int h, int part, const void * data);
// Runs B sequences of T tokens. Teacher: per token k top indices and log-probs
// and the log of the rest's mass. Returns the summed KL; with grad, the
// gradient of scale times that sum is left for pocket_trainer_grad.
double pocket_trainer_run(pocket_trainer * t, int T, int B, const int32_t * tokens, int k,
                          const int32_t * tidx, const float * tlogp, const float * trest, float scale, int grad);
// Gradient of a trainable slot (part 0: the dense, LUT or scales; part 1: a PQ slot's rebuilt weight). 0 if none.
int  pocket_trainer_grad(pocket_trainer * t, int h, int part, float * dst);
void pocket_trainer_set_threads(pocket_trainer * t, int n);
size_t pocket_trainer_static_bytes(pocket_trainer * t);
size_t pocket_trainer_compute_bytes(pocket_trainer * t);
const char * pocket_trainer_error(pocket_trainer * t);
void pocket_trainer_free(pocket_trainer * t);

#ifdef __cplusplus
}
#endif
