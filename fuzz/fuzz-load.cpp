// libFuzzer target for the model load path: each input is written to a
// memfd and loaded through llama_model_load_from_file (gguf_init_from_file,
// the model loader, the pocket.* validation and LUT build) and, when it
// loads, run for two decodes. Build: -DPOCKET_SANITIZE=ON -DPOCKET_FUZZ=ON
// with clang (scripts/reliability.sh). Seeds: go run ./fuzz/cmd/pqcorpus DIR.
#include "pocket-load.h"

#include "fuzz-input.h"

static void quiet(enum ggml_log_level, const char *, void *) {}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    llama_log_set(std::getenv("POCKET_LOAD_VERBOSE") ? pocket_capture_log : quiet, nullptr);
    llama_backend_init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    char path[64];
    const int fd = fuzz_input_fd("pocket-fuzz", data, size, path);
    pocket_load_and_run(path, (size & 1) != 0);  // both the mmap and the read path
    close(fd);
    return 0;
}
