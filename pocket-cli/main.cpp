// pocket-cli: load a GGUF (PocketGGUF or any model the patched llama.cpp reads) and generate
// from a prompt. The llama.cpp CLI for phones: one static binary, flags as llama-cli's.
//
//   pocket-cli -m MODEL [-p PROMPT] [-n N] [-t THREADS] [-c CTX] [--temp T] [--seed S]
#include "llama.h"

#include <chrono>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#if defined(__linux__)
#include <sched.h>
#endif
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Physical cores this process may run on, as llama.cpp's common code picks its default: one
// thread per core beats one per hardware thread for these memory-bound kernels, and more
// threads than cores (the old fixed 4 on a 2-core machine) make ggml's spinning barrier stall.
int default_threads() {
    int logical = (int) std::thread::hardware_concurrency();
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        std::set<std::string> cores;  // one thread_siblings_list per physical core
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
            if (!CPU_ISSET(cpu, &set)) continue;
            std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
            std::string line;
            cores.insert(f && std::getline(f, line) ? line : "cpu" + std::to_string(cpu));
        }
        if (!cores.empty()) return (int) cores.size();
        logical = CPU_COUNT(&set);
    }
#endif
    return logical > 0 ? logical : 4;
}

struct options {
    std::string model;
    std::string prompt = "Once upon a time";
    int n_predict = 64;
    int threads = default_threads();
    int n_ctx = 512;
    float temp = 0.8f;
    uint32_t seed = LLAMA_DEFAULT_SEED;
    bool verbose = false;
    llama_flash_attn_type flash_attn = LLAMA_FLASH_ATTN_TYPE_AUTO;  // llama-cli's default
};

void usage(FILE * f, const char * argv0) {
    fprintf(f,
        "usage: %s -m MODEL [options]\n"
        "  -m, --model FILE     GGUF model (PocketGGUF or plain)\n"
        "  -p, --prompt TEXT    prompt (default: \"Once upon a time\")\n"
        "  -f, --file FILE      read the prompt from FILE\n"
        "  -n, --n-predict N    tokens to generate (default: 64)\n"
        "  -t, --threads N      CPU threads (default: physical cores, %d here)\n"
        "  -c, --ctx-size N     context size (default: 512)\n"
        "      --temp T         temperature; 0 = greedy (default: 0.8)\n"
        "  -s, --seed S         sampling seed (default: random)\n"
        "  -fa, --flash-attn on|off|auto  flash attention (default: auto, as llama-cli)\n"
        "  -v, --verbose        print llama.cpp's log\n", argv0, default_threads());
}

// Parses a whole-string integer in [lo, hi] or exits naming the flag.
long parse_int(const char * flag, const char * s, long lo, long hi) {
    char * end = nullptr;
    const long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "pocket-cli: %s: '%s' is not an integer in %ld..%ld\n", flag, s, lo, hi);
        exit(2);
    }
    return v;
}

options parse(int argc, char ** argv) {
    options o;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        auto value = [&]() -> const char * {
            if (i + 1 >= argc) { fprintf(stderr, "pocket-cli: %s needs a value\n", a.c_str()); exit(2); }
            return argv[++i];
        };
        if (a == "-m" || a == "--model") o.model = value();
        else if (a == "-p" || a == "--prompt") o.prompt = value();
        else if (a == "-f" || a == "--file") {
            const char * path = value();
            std::ifstream in(path, std::ios::binary);
            if (!in) { fprintf(stderr, "pocket-cli: -f: cannot open '%s': %s\n", path, strerror(errno)); exit(2); }
            o.prompt.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            while (!o.prompt.empty() && (o.prompt.back() == '\n' || o.prompt.back() == '\r')) o.prompt.pop_back();
        }
        else if (a == "-n" || a == "--n-predict") o.n_predict = (int) parse_int(a.c_str(), value(), 0, 1 << 20);
        else if (a == "-t" || a == "--threads") o.threads = (int) parse_int(a.c_str(), value(), 1, 512);
        else if (a == "-c" || a == "--ctx-size") o.n_ctx = (int) parse_int(a.c_str(), value(), 8, 1 << 20);
        else if (a == "-s" || a == "--seed") o.seed = (uint32_t) parse_int(a.c_str(), value(), 0, 0xFFFFFFFFl);
        else if (a == "--temp") {
            const char * s = value();
            char * end = nullptr;
            o.temp = strtof(s, &end);
            if (*s == '\0' || *end != '\0' || !(o.temp >= 0.0f) || o.temp > 100.0f) {
                fprintf(stderr, "pocket-cli: --temp: '%s' is not a number in 0..100\n", s);
                exit(2);
            }
        }
        else if (a == "-fa" || a == "--flash-attn") {
            const std::string v = value();
            if (v == "on") o.flash_attn = LLAMA_FLASH_ATTN_TYPE_ENABLED;
            else if (v == "off") o.flash_attn = LLAMA_FLASH_ATTN_TYPE_DISABLED;
            else if (v == "auto") o.flash_attn = LLAMA_FLASH_ATTN_TYPE_AUTO;
            else { fprintf(stderr, "pocket-cli: %s: '%s' is not on, off or auto\n", a.c_str(), v.c_str()); exit(2); }
        }
        else if (a == "-v" || a == "--verbose") o.verbose = true;
        else if (a == "-h" || a == "--help") { usage(stdout, argv[0]); exit(0); }
        else { fprintf(stderr, "pocket-cli: unknown flag '%s'\n", a.c_str()); usage(stderr, argv[0]); exit(2); }
    }
    if (o.model.empty()) { fprintf(stderr, "pocket-cli: -m MODEL is required\n"); usage(stderr, argv[0]); exit(2); }
    return o;
}

bool g_verbose = false;
void log_cb(enum ggml_log_level level, const char * text, void *) {
    if (g_verbose || level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

// VmRSS / VmHWM of this process in MiB (Linux; -1 elsewhere): what the model costs in memory.
double status_mib(const char * key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + strlen(key) + 1, nullptr) / 1024.0;
    }
    return -1.0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char ** argv) {
    const options o = parse(argc, argv);
    g_verbose = o.verbose;
    llama_log_set(log_cb, nullptr);
    llama_backend_init();

    FILE * f = fopen(o.model.c_str(), "rb");
    if (!f) { fprintf(stderr, "pocket-cli: cannot open model '%s': %s\n", o.model.c_str(), strerror(errno)); return 1; }
    fclose(f);

    const auto t_load = std::chrono::steady_clock::now();
    llama_model_params mp = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(o.model.c_str(), mp);
    if (!model) { fprintf(stderr, "pocket-cli: failed to load model '%s' (see the error above)\n", o.model.c_str()); return 1; }
    const double load_s = seconds_since(t_load);
    const double rss_load = status_mib("VmRSS");
    const llama_vocab * vocab = llama_model_get_vocab(model);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t) o.n_ctx;
    cp.n_batch = (uint32_t) o.n_ctx;
    cp.n_threads = cp.n_threads_batch = o.threads;
    cp.flash_attn_type = o.flash_attn;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "pocket-cli: cannot create a context of %d tokens\n", o.n_ctx); return 1; }

    std::vector<llama_token> toks(o.prompt.size() + 8);
    int n = llama_tokenize(vocab, o.prompt.c_str(), (int) o.prompt.size(), toks.data(), (int) toks.size(), true, false);
    if (n < 0) { fprintf(stderr, "pocket-cli: cannot tokenize the prompt\n"); return 1; }
    toks.resize(n);
    if (n + o.n_predict > o.n_ctx) {
        fprintf(stderr, "pocket-cli: prompt (%d tokens) + -n %d exceeds the context (-c %d)\n", n, o.n_predict, o.n_ctx);
        return 2;
    }

    llama_sampler * smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (o.temp <= 0.0f) {
        llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
    } else {
        llama_sampler_chain_add(smpl, llama_sampler_init_top_k(40));
        llama_sampler_chain_add(smpl, llama_sampler_init_top_p(0.95f, 1));
        llama_sampler_chain_add(smpl, llama_sampler_init_temp(o.temp));
        llama_sampler_chain_add(smpl, llama_sampler_init_dist(o.seed));
    }

    fputs(o.prompt.c_str(), stdout);
    fflush(stdout);
    const auto t_pp = std::chrono::steady_clock::now();
    if (llama_decode(ctx, llama_batch_get_one(toks.data(), n)) != 0) { fprintf(stderr, "\npocket-cli: prompt evaluation failed\n"); return 1; }
    const double pp_s = seconds_since(t_pp);

    const auto t_tg = std::chrono::steady_clock::now();
    int n_gen = 0;
    for (; n_gen < o.n_predict; n_gen++) {
        llama_token t = llama_sampler_sample(smpl, ctx, -1);
        if (llama_vocab_is_eog(vocab, t)) break;
        char piece[256];
        const int np = llama_token_to_piece(vocab, t, piece, sizeof piece, 0, false);
        if (np > 0) fwrite(piece, 1, (size_t) np, stdout);
        fflush(stdout);
        if (llama_decode(ctx, llama_batch_get_one(&t, 1)) != 0) { fprintf(stderr, "\npocket-cli: decode failed\n"); return 1; }
    }
    const double tg_s = seconds_since(t_tg);
    printf("\n");
    char desc[128];
    llama_model_desc(model, desc, sizeof desc);
    fprintf(stderr, "pocket-cli: %s | load %.2f s | prompt %d tok, %.1f tok/s | generated %d tok, %.1f tok/s | %d threads"
                    " | rss after load %.1f MiB, peak %.1f MiB\n",
            desc, load_s, n, n / pp_s, n_gen, n_gen / tg_s, o.threads, rss_load, status_mib("VmHWM"));

    llama_sampler_free(smpl);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
