// libFuzzer target on the PocketGGUF load path without the rest of libllama
// (pq-core-load.h): gguf_init_from_file, llama_pocket_attach, PQ mul_mat,
// get_rows and mul. Inputs go through a memfd. Seeds: fuzz/cmd/pqcorpus.
#include "pq-core-load.h"

#include "fuzz-input.h"

static void quiet(enum ggml_log_level, const char *, void *) {}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    if (!std::getenv("POCKET_LOAD_VERBOSE")) ggml_log_set(quiet, nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    char path[64];
    const int fd = fuzz_input_fd("pq-core-fuzz", data, size, path);
    std::string why;
    pq_core_load_and_run(path, why);
    close(fd);
    return 0;
}
