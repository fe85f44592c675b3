// pocket-load FILE...: loads each GGUF with the (sanitizer-built) patched
// libllama, with mmap and without, and runs it if it loads. Prints one line
// per file: "refused: <message>" or "ran". Exit status 0 unless a file whose
// name starts with "bad-" was accepted or one starting with "valid-"/"odd-"
// was refused; a memory error aborts the process under ASan, which is the
// failure this tool exists to catch (scripts/reliability.sh).
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
            std::string msg = g_pocket_log;
            // the most specific line: the last error llama.cpp logged
            while (!msg.empty() && msg.back() == '\n') msg.pop_back();
            msg = msg.substr(msg.find_last_of('\n') + 1);
            const bool want_refused = base.rfind("bad-", 0) == 0;
            const bool ok = want_refused ? r == POCKET_REFUSED : r != POCKET_REFUSED;
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
