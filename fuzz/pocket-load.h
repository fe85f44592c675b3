// Loads a (possibly malformed) GGUF through the patched libllama the way a
// server does, and if it loads, decodes a few tokens with it: the load path
// the sanitizer run and the libFuzzer target exercise.
#pragma once

#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// Errors of the last call, for the "refused with a message" check.
static std::string g_pocket_log;

static void pocket_capture_log(enum ggml_log_level level, const char * text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) g_pocket_log += text;
    if (std::getenv("POCKET_LOAD_VERBOSE")) fputs(text, stderr);
}

enum pocket_load_result { POCKET_REFUSED = 0, POCKET_LOADED_NO_CONTEXT = 1, POCKET_RAN = 2 };

// Loads path (mmap or read), and on success creates a small context and
// decodes BOS plus three tokens as one batch and one token alone, so the
// PQ mat-mul (batch) and vec_dot (single token) kernels both run.
static pocket_load_result pocket_load_and_run(const char * path, bool mmap) {
    g_pocket_log.clear();
    llama_model_params mp = llama_model_default_params();
    mp.use_mmap = mmap;
    llama_model * model = llama_model_load_from_file(path, mp);
    if (!model) return POCKET_REFUSED;

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 16; cp.n_batch = 8; cp.n_ubatch = 8; cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = 1;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        llama_model_free(model);
        return POCKET_LOADED_NO_CONTEXT;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    std::vector<llama_token> toks = {llama_vocab_bos(vocab), 1, 2, 3};
    for (auto & t : toks) {
        if (t < 0 || t >= n_vocab) t = 0;
    }
    llama_batch b = llama_batch_get_one(toks.data(), (int32_t) toks.size());
    if (llama_decode(ctx, b) == 0) {
        llama_token next = 0;
        const float * logits = llama_get_logits_ith(ctx, -1);
        if (logits) {
            for (int i = 1; i < n_vocab; i++) {
                if (logits[i] > logits[next]) next = i;
            }
        }
        llama_batch one = llama_batch_get_one(&next, 1);
        llama_decode(ctx, one);
    }
    llama_free(ctx);
    llama_model_free(model);
    return POCKET_RAN;
}
