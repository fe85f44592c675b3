// Model-level test of the patched llama.cpp: a PocketGGUF stories260K (made by pq-model-gen.h
// from the real weights) runs natively from its indices, and its logits equal those of its
// unpacked F32 twin run through stock ggml code, for a prompt batch (the tiled mul_mat path)
// and token by token (the vec_dot path). Two PQ models with different tables are loaded at once
// (one with mmap, one without), and files with broken pocket.* keys are refused with a message
// that names the key. A third model of the additive types (pqa_*) follows its twin within the
// int8 rounding of its activation tables, gives the same logits with 1 and 2 threads, and has
// its own refusals (codebooks, K, version).
//
//   test-model STORIES260K.gguf WORKDIR     exit 77 (ctest: skipped) when the model is absent
#include "pq-model-gen.h"

#include "llama.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

static std::string g_log;
static void capture(enum ggml_log_level level, const char * text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) g_log += text;
    if (std::getenv("PQ_TEST_VERBOSE")) fputs(text, stderr);
}

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

static llama_model * load(const std::string & path, bool mmap) {
    llama_model_params mp = llama_model_default_params();
    mp.use_mmap = mmap;
    return llama_model_load_from_file(path.c_str(), mp);
}

struct run {
    std::vector<std::vector<float>> logits;  // per evaluated position
    std::string text;
};

// Prompt as one batch (all logits), then n_gen greedy tokens one at a time, each step's logits.
// Tokens come from `force` when given, so two models can be compared on the same sequence.
static run evaluate(llama_model * model, int n_threads, const std::vector<llama_token> * force, int n_gen) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 128; cp.n_batch = 64; cp.n_ubatch = 64;
    cp.n_threads = cp.n_threads_batch = n_threads;
    // F32 KV cache, no flash attention: keeps f16 rounding of K/V from amplifying the
    // (legitimate) summation-order differences between the PQ and F32 mat-muls
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    run out;
    if (!ctx) return out;

    const char * prompt = "Once upon a time, there was a little";
    std::vector<llama_token> toks(64);
    const int n = llama_tokenize(vocab, prompt, (int) strlen(prompt), toks.data(), (int) toks.size(), true, false);
    toks.resize(n);
    llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = toks[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1;
    }
    b.n_tokens = n;
    if (llama_decode(ctx, b) != 0) { llama_batch_free(b); llama_free(ctx); return out; }
    for (int i = 0; i < n; i++) {
        const float * l = llama_get_logits_ith(ctx, i);
        out.logits.emplace_back(l, l + n_vocab);
    }
    llama_batch_free(b);
    for (int g = 0; g < n_gen; g++) {
        const std::vector<float> & last = out.logits.back();
        llama_token t = (llama_token) (std::max_element(last.begin(), last.end()) - last.begin());
        if (force) t = (*force)[g];
        char piece[64];
        const int np = llama_token_to_piece(vocab, t, piece, sizeof piece, 0, false);
        if (np > 0) out.text.append(piece, np);
        llama_batch one = llama_batch_get_one(&t, 1);
        if (llama_decode(ctx, one) != 0) break;
        const float * l = llama_get_logits_ith(ctx, -1);
        out.logits.emplace_back(l, l + n_vocab);
    }
    llama_free(ctx);
    return out;
}

static std::vector<llama_token> greedy_tokens(const run & r, int n_prompt) {
    std::vector<llama_token> t;
    for (size_t i = n_prompt - 1; i + 1 < r.logits.size(); i++) {
        t.push_back((llama_token) (std::max_element(r.logits[i].begin(), r.logits[i].end()) - r.logits[i].begin()));
    }
    return t;
}

// Max |a-b| over all positions, relative to the largest |logit| of b.
static double rel_diff(const run & a, const run & b) {
    if (a.logits.size() != b.logits.size() || a.logits.empty()) return INFINITY;
    double maxd = 0, maxb = 0;
    for (size_t i = 0; i < a.logits.size(); i++) {
        for (size_t j = 0; j < a.logits[i].size(); j++) {
            maxd = std::fmax(maxd, std::fabs((double) a.logits[i][j] - b.logits[i][j]));
            maxb = std::fmax(maxb, std::fabs((double) b.logits[i][j]));
        }
    }
    return maxd / maxb;
}

// Writes a copy of the GGUF `from` to `to` with its keys edited by `hook`.
template <typename Hook>
static bool copy_edited(const std::string & from, const std::string & to, Hook hook) {
    ggml_context * data = nullptr;
    gguf_init_params ip = { false, &data };
    gguf_context * src = gguf_init_from_file(from.c_str(), ip);
    gguf_context * bad = gguf_init_empty();
    gguf_set_kv(bad, src);
    for (int64_t i = 0; i < gguf_get_n_tensors(src); i++) gguf_add_tensor(bad, ggml_get_tensor(data, gguf_get_tensor_name(src, i)));
    hook(bad);
    const bool ok = gguf_write_to_file(bad, to.c_str(), false);
    gguf_free(bad); gguf_free(src); ggml_free(data);
    return ok;
}

// Copies the PQ file `good` with keys broken by `hook` and checks that loading fails naming `want`.
template <typename Hook>
static void expect_refusal(const std::string & good, const std::string & dir, const char * what, const std::string & want, Hook hook) {
    const std::string p = dir + "/bad.pq.gguf";
    CHECK(copy_edited(good, p, hook), "%s: cannot write %s", what, p.c_str());
    g_log.clear();
    llama_model * m = load(p, true);
    CHECK(m == nullptr, "%s: model loaded", what);
    CHECK(g_log.find(want) != std::string::npos, "%s: error log does not name '%s':\n%s", what, want.c_str(), g_log.c_str());
    if (m) llama_model_free(m);
    unlink(p.c_str());
}

int main(int argc, char ** argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s STORIES260K.gguf WORKDIR\n", argv[0]); return 2; }
    const char * src = argv[1];
    const std::string dir = argv[2];
    if (access(src, R_OK) != 0) { fprintf(stderr, "%s: not found, skipping\n", src); return 77; }
    llama_log_set(capture, nullptr);
    llama_backend_init();

    const std::string pa = dir + "/a.pq.gguf", ta = dir + "/a.twin.gguf", pb = dir + "/b.pq.gguf", tb = dir + "/b.twin.gguf";
    auto none = [](gguf_context *) {};
    pqgen::result ra = pqgen::generate(src, pa.c_str(), ta.c_str(), 1, none);
    pqgen::generate(src, pb.c_str(), tb.c_str(), 2, none);
    printf("generated %d PQ tensors: %zu bytes of indices for %zu bytes of F32\n", ra.n_pq, ra.pq_bytes, ra.f32_bytes);

    // both PQ models and both twins in memory at once; a with mmap, b without
    llama_model * mpa = load(pa, true), * mpb = load(pb, false), * mta = load(ta, true), * mtb = load(tb, true);
    CHECK(mpa && mpb && mta && mtb, "loading the generated models failed:\n%s", g_log.c_str());
    if (!(mpa && mpb && mta && mtb)) return 1;

    char desc[128];
    llama_model_desc(mpa, desc, sizeof desc);
    CHECK(std::string(desc).find("PQ mix") != std::string::npos, "model description '%s' lacks the ftype name 'PQ mix'", desc);

    for (int threads : { 1, 2 }) {
        // 2 threads: row partitioning; few tokens, since idle threads spin on a busy machine
        const int n_gen = threads == 1 ? 12 : 3;
        run a = evaluate(mpa, threads, nullptr, n_gen);
        const int n_prompt = (int) a.logits.size() - n_gen;
        std::vector<llama_token> seq = greedy_tokens(a, n_prompt);
        run twa = evaluate(mta, threads, &seq, n_gen);
        run b = evaluate(mpb, threads, nullptr, n_gen);
        std::vector<llama_token> seqb = greedy_tokens(b, n_prompt);
        run twb = evaluate(mtb, threads, &seqb, n_gen);
        const double da = rel_diff(a, twa), db = rel_diff(b, twb), dab = rel_diff(a, twb);
        printf("threads=%d: max |logit diff| / max |logit|: a vs twin %.3g, b vs twin %.3g, a vs b's twin %.3g\n", threads, da, db, dab);
        printf("  a: \"%s\"\n  b: \"%s\"\n", a.text.c_str(), b.text.c_str());
        CHECK(da < 1e-5, "model a: PQ logits differ from the unpacked twin by %.3g (relative)", da);
        CHECK(db < 1e-5, "model b: PQ logits differ from the unpacked twin by %.3g (relative)", db);
        CHECK(dab > 1e-2, "models a and b give the same logits (%.3g): their tables are not kept apart", dab);
    }
    llama_model_free(mpa); llama_model_free(mpb); llama_model_free(mta); llama_model_free(mtb);

    // the additive model: its mat-muls round activations to int8 tables, so it follows its twin
    // closely but not to float rounding; its own arithmetic does not depend on the thread count
    const std::string pc = dir + "/c.pq.gguf", tc = dir + "/c.twin.gguf";
    pqgen::result rc = pqgen::generate(src, pc.c_str(), tc.c_str(), 3, none, true);
    printf("additive model: %d PQA tensors, %zu bytes of codes for %zu bytes of F32\n", rc.n_pq, rc.pq_bytes, rc.f32_bytes);
    {
        llama_model * mpc = load(pc, true), * mtc = load(tc, true);
        CHECK(mpc && mtc, "loading the additive model or its twin failed:\n%s", g_log.c_str());
        if (mpc && mtc) {
            const int n_gen = 12;
            run c1 = evaluate(mpc, 1, nullptr, n_gen);
            run c2 = evaluate(mpc, 2, nullptr, n_gen);
            const int n_prompt = (int) c1.logits.size() - n_gen;
            std::vector<llama_token> seq = greedy_tokens(c1, n_prompt);
            run twc = evaluate(mtc, 1, &seq, n_gen);  // on the additive model's tokens: comparable logits
            run tw_free = evaluate(mtc, 1, nullptr, n_gen);  // the twin's own greedy text
            const double dc = rel_diff(c1, twc), d12 = rel_diff(c1, c2);
            printf("additive: max |logit diff| / max |logit|: vs twin %.3g, 1 vs 2 threads %.3g\n  c: \"%s\"\n  twin: \"%s\"\n",
                   dc, d12, c1.text.c_str(), tw_free.text.c_str());
            // each mat-mul is within ~1% of F32 (test-ops); through this model's 5 layers that
            // grows to 0.072 of the largest logit (measured), while a wrong code layout or table
            // gives O(1) differences (as models a and b's twins show); the greedy text of a model
            // this small already departs from its twin's at the second token, so it is printed,
            // not compared
            CHECK(dc < 0.15, "additive model: logits differ from the unpacked twin by %.3g (relative)", dc);
            CHECK(d12 == 0, "additive model: 1 and 2 threads give different logits (%.3g)", d12);
        }
        if (mpc) llama_model_free(mpc);
        if (mtc) llama_model_free(mtc);
    }
    expect_refusal(pc, dir, "additive: no codebooks key", "pocket.table.blk.0.attn_q.weight.codebooks", [](gguf_context * g) {
        gguf_remove_key(g, "pocket.table.blk.0.attn_q.weight.codebooks");
    });
    expect_refusal(pc, dir, "additive: codebooks != M", "pocket.table.blk.0.attn_output.weight.codebooks", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.table.blk.0.attn_output.weight.codebooks", 2);  // pqa_8x12 has 3
    });
    expect_refusal(pc, dir, "additive: K > 16", "pocket.table.blk.0.attn_q.weight.k", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.table.blk.0.attn_q.weight.k", 17);
    });
    expect_refusal(pc, dir, "additive: version 1", "pocket.version", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.version", 1);
    });
    expect_refusal(pa, dir, "plain type with codebooks 2", "pocket.table.blk.0.attn_q.weight.codebooks", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.table.blk.0.attn_q.weight.codebooks", 2);
    });
    {   // a plain file marked version 2 reads as it did as version 1
        const std::string p2 = dir + "/a2.pq.gguf";
        CHECK(copy_edited(pa, p2, [](gguf_context * g) { gguf_set_val_u32(g, "pocket.version", 2); }), "cannot write %s", p2.c_str());
        g_log.clear();
        llama_model * m = load(p2, true);
        CHECK(m != nullptr, "a plain PQ file of pocket.version 2 was refused:\n%s", g_log.c_str());
        if (m) llama_model_free(m);
        unlink(p2.c_str());
    }
    unlink(pc.c_str()); unlink(tc.c_str());

    // refusals, each naming the key or tensor at fault
    expect_refusal(pa, dir, "version 3", "pocket.version", [](gguf_context * g) { gguf_set_val_u32(g, "pocket.version", 3); });
    expect_refusal(pa, dir, "no version", "pocket.version", [](gguf_context * g) { gguf_remove_key(g, "pocket.version"); });
    expect_refusal(pa, dir, "short codebook", "pocket.table.blk.0.attn_q.weight.codebook", [](gguf_context * g) {
        float x[3] = { 1, 2, 3 };
        gguf_set_arr_data(g, "pocket.table.blk.0.attn_q.weight.codebook", GGUF_TYPE_FLOAT32, x, 3);
    });
    expect_refusal(pa, dir, "NaN in decoder", "pocket.table.blk.1.attn_output.weight.decoder", [](gguf_context * g) {
        const int64_t id = gguf_find_key(g, "pocket.table.blk.1.attn_output.weight.decoder");
        std::vector<float> d((const float *) gguf_get_arr_data(g, id), (const float *) gguf_get_arr_data(g, id) + gguf_get_arr_n(g, id));
        d[5] = NAN;
        gguf_set_arr_data(g, "pocket.table.blk.1.attn_output.weight.decoder", GGUF_TYPE_FLOAT32, d.data(), d.size());
    });
    expect_refusal(pa, dir, "K > 2^bits", "pocket.table.blk.0.attn_q.weight.k", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.table.blk.0.attn_q.weight.k", 257);
    });
    expect_refusal(pa, dir, "v mismatch", "pocket.table.blk.2.attn_k.weight.v", [](gguf_context * g) {
        gguf_set_val_u32(g, "pocket.table.blk.2.attn_k.weight.v", 4);
    });
    expect_refusal(pa, dir, "missing table", "pocket.tensor.token_embd.weight.table", [](gguf_context * g) {
        gguf_remove_key(g, "pocket.tensor.token_embd.weight.table");
    });
    expect_refusal(pa, dir, "scale count", "pocket.tensor.blk.0.ffn_down.weight.scale", [](gguf_context * g) {
        float x[2] = { 1, 1 };
        gguf_set_arr_data(g, "pocket.tensor.blk.0.ffn_down.weight.scale", GGUF_TYPE_FLOAT32, x, 2);
    });
    expect_refusal(pa, dir, "infinite scale", "pocket.tensor.blk.0.ffn_down.weight.scale", [](gguf_context * g) {
        const int64_t id = gguf_find_key(g, "pocket.tensor.blk.0.ffn_down.weight.scale");
        std::vector<float> s((const float *) gguf_get_arr_data(g, id), (const float *) gguf_get_arr_data(g, id) + gguf_get_arr_n(g, id));
        s[0] = INFINITY;
        gguf_set_arr_data(g, "pocket.tensor.blk.0.ffn_down.weight.scale", GGUF_TYPE_FLOAT32, s.data(), s.size());
    });

    // the unbroken file still loads (the refusals above are about their keys only)
    g_log.clear();
    llama_model * again = load(pa, false);
    CHECK(again != nullptr, "reloading a.pq.gguf failed:\n%s", g_log.c_str());
    if (again) llama_model_free(again);

    unlink(pa.c_str()); unlink(ta.c_str()); unlink(pb.c_str()); unlink(tb.c_str());
    llama_backend_free();
    if (failures) { fprintf(stderr, "%d checks failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
