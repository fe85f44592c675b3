// libFuzzer target for the model load path: each input is written to a
// memfd and loaded through llama_model_load_from_file (gguf_init_from_file,
// the model loader, the pocket.* validation and LUT build) and, when it
// loads, run for two decodes. Build: -DPOCKET_SANITIZE=ON -DPOCKET_FUZZ=ON
// with clang (scripts/reliability.sh). Seeds: go run ./fuzz/cmd/pqcorpus DIR.
#include "pocket-load.h"

#include <sys/mman.h>
#include <unistd.h>

static void quiet(enum ggml_log_level, const char *, void *) {}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    llama_log_set(std::getenv("POCKET_LOAD_VERBOSE") ? pocket_capture_log : quiet, nullptr);
    llama_backend_init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const int fd = memfd_create("pocket-fuzz", 0);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        const ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) abort();
        off += (size_t) n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    pocket_load_and_run(path, (size & 1) != 0);  // both the mmap and the read path
    close(fd);
    return 0;
}
