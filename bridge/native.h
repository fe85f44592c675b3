// C side of the bridge: callbacks libllama calls during loading and decoding.
// They are plain C so that the frequent calls (the eval callback asks about every
// graph node) never cross into Go; only the data the Go side needs does.
#pragma once

#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"

#include <stdbool.h>
#include <stdint.h>

// Per-context state, allocated in C (libllama keeps a pointer to it).
typedef struct pocket_ctx_state {
    int       abort;    // nonzero: the running llama_decode stops (abort_callback)
    int       collect;  // nonzero: the eval callback hands mat-mul inputs to Go
    uintptr_t imatrix;  // cgo.Handle of the Go collector while collect is set
} pocket_ctx_state;

pocket_ctx_state * pocket_ctx_state_new(void);
void pocket_ctx_state_set_abort(pocket_ctx_state * s, int v);

// Installs the callbacks into context params.
void pocket_ctx_params_hook(struct llama_context_params * p, pocket_ctx_state * s);

// Routes llama.cpp and ggml logging into Go (pocketGoLog).
void pocket_log_to_go(void);
