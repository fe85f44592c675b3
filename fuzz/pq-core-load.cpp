// pq-core-load FILE...: the PocketGGUF load path (pq-core-load.h) on each
// file; same output and exit status rules as pocket-load.
#include "pq-core-load.h"

int main(int argc, char ** argv) {
    int wrong = 0;
    for (int i = 1; i < argc; i++) {
        const std::string path = argv[i];
        const std::string base = path.substr(path.find_last_of('/') + 1);
        std::string why;
        const pq_core_result r = pq_core_load_and_run(path.c_str(), why);
        const bool want_refused = base.rfind("bad-", 0) == 0;
        const bool ok = want_refused ? r == PQ_CORE_REFUSED : r == PQ_CORE_RAN;
        if (!ok) wrong++;
        printf("%-45s %-7s %s%s\n", base.c_str(), r == PQ_CORE_REFUSED ? "refused" : "ran", why.c_str(), ok ? "" : "   <-- UNEXPECTED");
    }
    printf("%d files, %d unexpected\n", argc - 1, wrong);
    return wrong == 0 ? 0 : 1;
}
