// pocket-load FILE...: loads each GGUF with the (sanitizer-built) patched
// libllama, with mmap and without, and runs it if it loads. Prints one line
// per file: "refused: <message>" or "ran". Exit status 0 unless a file whose
// name starts with "bad-" was accepted or one not starting with "bad-" or
// "odd-" (valid-*, a real model) was refused; odd-* may do either. A memory
// error aborts the process under ASan, which is the failure this tool exists
// to catch (scripts/reliability.sh).
#include "pocket-load.h"

int main(int argc, char ** argv) {
    llama_log_set(pocket_capture_log, nullptr);
    llama_backend_init();
    int wrong = 0;
    for (int i = 1; i < argc; i++) {
        const std::string path = argv[i];
        const std::string base = path.substr(path.find_last_of('/') + 1);
        for (bool mmap : {true, false}) {
            const pocket_load_result r = pocket_load_and_run(path.c_str(), mmap);
            // the cause: the first error llama.cpp logged (the last one is a generic "failed to load model")
            std::string msg = g_pocket_log.substr(0, g_pocket_log.find('\n'));
            // bad-* must be refused, odd-* may run or be refused, anything else must load
            const bool ok = base.rfind("bad-", 0) == 0 ? r == POCKET_REFUSED
                          : base.rfind("odd-", 0) == 0 || r != POCKET_REFUSED;
            if (!ok) wrong++;
            if (mmap) {
                printf("%-45s %-7s %s%s\n", base.c_str(), r == POCKET_REFUSED ? "refused" : "ran",
                       r == POCKET_REFUSED ? msg.c_str() : "", ok ? "" : "   <-- UNEXPECTED");
            } else if (!ok) {
                printf("%-45s without mmap: %s   <-- UNEXPECTED\n", base.c_str(), r == POCKET_REFUSED ? "refused" : "ran");
            }
        }
    }
    llama_backend_free();
    printf("%d files, %d unexpected\n", argc - 1, wrong);
    return wrong == 0 ? 0 : 1;
}
