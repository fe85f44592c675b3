#include "native.h"
#include "_cgo_export.h"

#include <stdlib.h>

pocket_ctx_state * pocket_ctx_state_new(void) {
    return (pocket_ctx_state *) calloc(1, sizeof(pocket_ctx_state));
}

void pocket_ctx_state_set_abort(pocket_ctx_state * s, int v) {
    __atomic_store_n(&s->abort, v, __ATOMIC_SEQ_CST);
}

static bool pocket_abort_cb(void * data) {
    pocket_ctx_state * s = (pocket_ctx_state *) data;
    return __atomic_load_n(&s->abort, __ATOMIC_SEQ_CST) != 0;
}

// A mat-mul whose first operand lives in a weights buffer multiplies a model
// weight; its second operand is that weight's input.
static bool pocket_is_weight(const struct ggml_tensor * w) {
    while (w->view_src) {
        w = w->view_src;
    }
    return w->buffer && ggml_backend_buffer_get_usage(w->buffer) == GGML_BACKEND_BUFFER_USAGE_WEIGHTS;
}

static bool pocket_eval_cb(struct ggml_tensor * t, bool ask, void * data) {
    pocket_ctx_state * s = (pocket_ctx_state *) data;
    if (ask) {
        return s->collect && (t->op == GGML_OP_MUL_MAT || t->op == GGML_OP_MUL_MAT_ID) &&
               pocket_is_weight(t->src[0]);
    }
    const struct ggml_tensor * w = t->src[0];
    const struct ggml_tensor * x = t->src[1];
    const struct ggml_tensor * ids = t->op == GGML_OP_MUL_MAT_ID ? t->src[2] : NULL;
    int64_t ne[4] = { x->ne[0], x->ne[1], x->ne[2], x->ne[3] };
    int64_t nb[4] = { (int64_t) x->nb[0], (int64_t) x->nb[1], (int64_t) x->nb[2], (int64_t) x->nb[3] };
    int64_t ids_ne[2] = { ids ? ids->ne[0] : 0, ids ? ids->ne[1] : 0 };
    int64_t ids_nb1 = ids ? (int64_t) ids->nb[1] : 0;
    pocketGoImatrixAdd(s->imatrix, (char *) w->name, w->ne[2], (int) x->type,
                       x->data, ne, nb, ids ? ids->data : NULL, ids_ne, ids_nb1);
    return true; // false would stop the computation
}

void pocket_ctx_params_hook(struct llama_context_params * p, pocket_ctx_state * s) {
    p->cb_eval = pocket_eval_cb;
    p->cb_eval_user_data = s;
    p->abort_callback = pocket_abort_cb;
    p->abort_callback_data = s;
}

static void pocket_log_cb(enum ggml_log_level level, const char * text, void * user) {
    (void) user;
    pocketGoLog((GoInt) level, (char *) text);
}

void pocket_log_to_go(void) {
    llama_log_set(pocket_log_cb, NULL);
}
