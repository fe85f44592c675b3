// llama-smoke MODEL [N]: loads MODEL with libllama, prints n_vocab, then greedy-
// decodes N tokens from BOS and prints them. The build's ctest runs it (under
// qemu-aarch64 when cross-built) to check that the library links and computes.
// Exit 77 (ctest: skipped) when MODEL does not exist.
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void quiet(enum ggml_log_level level, const char * text, void * user) {
    (void) user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char ** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [N]\n", argv[0]);
        return 2;
    }
    if (access(argv[1], R_OK) != 0) {
        fprintf(stderr, "%s: not found, skipping\n", argv[1]);
        return 77;
    }
    const int n_predict = argc > 2 ? atoi(argv[2]) : 16;

    llama_log_set(quiet, NULL);
    llama_backend_init();

    struct llama_model_params mp = llama_model_default_params();
    struct llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "%s: failed to load\n", argv[1]);
        return 1;
    }
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    printf("n_vocab=%d\n", llama_vocab_n_tokens(vocab));

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 128;
    cp.n_batch = 128;
    cp.n_threads = cp.n_threads_batch = 1;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "failed to create a context\n");
        return 1;
    }
    struct llama_sampler * smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());

    llama_token tok = llama_vocab_bos(vocab);
    for (int i = 0; i < n_predict; i++) {
        struct llama_batch batch = llama_batch_get_one(&tok, 1);
        if (llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "decode failed at token %d\n", i);
            return 1;
        }
        tok = llama_sampler_sample(smpl, ctx, -1);
        if (llama_vocab_is_eog(vocab, tok)) break;
        char piece[64];
        int n = llama_token_to_piece(vocab, tok, piece, sizeof piece, 0, false);
        if (n > 0) fwrite(piece, 1, (size_t) n, stdout);
    }
    printf("\n");

    llama_sampler_free(smpl);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
