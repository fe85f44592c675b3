// The student's forward and backward pass as one ggml graph. Each PQ weight
// is rebuilt in the graph (get_rows of its table's LUT by its codes, times
// its row scales), so ggml's autodiff carries the gradient to the LUT entries
// and scales through get_rows' and mul's backward. The KL loss against the
// teacher's top-k is evaluated on the host between the forward and the
// backward halves of the graph: it needs float64 sums over the vocabulary
// that no ggml op gives with a backward.
#include "train.h"

#include <cmath>
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
// For ggml_graph_view (not public in ggml.h): a graph over a range of another
// graph's nodes, so the backward half runs without recomputing the forward half.
#include "ggml-impl.h"

namespace {

enum kind { DENSE, TABLE, PQ };

// rebuilt holds the tensors of one PQ weight's rebuild in a graph.
struct rebuilt {
    ggml_tensor * rows = nullptr, * shaped = nullptr, * w = nullptr;
};

struct slot {
    kind        k;
    std::string name;
    ggml_tensor * t      = nullptr; // dense values or LUT (v x K)
    ggml_tensor * idx    = nullptr; // PQ codes
    ggml_tensor * scales = nullptr; // PQ row scales [1, rows]
    int table = -1, v = 0;
    int64_t cols = 0, rows = 0;
    bool trainable = false, want_grad = false;
    // per graph
    ggml_tensor * node = nullptr, * g0 = nullptr, * g1 = nullptr;
    rebuilt fwd;
};

constexpr size_t kGraphSize = 65536;

} // namespace

struct pocket_trainer {
    pocket_train_config c;
    ggml_backend_t backend = nullptr;
    ggml_context * sctx = nullptr; // slots: allocated once
    ggml_backend_buffer_t sbuf = nullptr;
    ggml_tensor * one = nullptr;   // the loss' initial gradient
    ggml_gallocr_t galloc = nullptr;
    ggml_context * cctx = nullptr; // one run's graph
    std::vector<slot> slots;
    std::map<std::string, int> byName;
    std::vector<float> logits, dlogits;
    std::string err;
};

extern "C" {

pocket_trainer * pocket_trainer_new(const pocket_train_config * c) {
    auto * t = new pocket_trainer();
    t->c = *c;
    t->backend = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(t->backend, c->threads > 0 ? c->threads : 1);
    ggml_init_params p = {ggml_tensor_overhead() * 8192, nullptr, true};
    t->sctx = ggml_init(p);
    t->one = ggml_new_tensor_1d(t->sctx, GGML_TYPE_F32, 1);
    return t;
}

int pocket_trainer_dense(pocket_trainer * t, const char * name, int64_t ne0, int64_t ne1, int trainable) {
    slot s{DENSE, name};
    s.t = ggml_new_tensor_2d(t->sctx, GGML_TYPE_F32, ne0, ne1);
    s.cols = ne0, s.rows = ne1, s.trainable = trainable;
    if (trainable) ggml_set_param(s.t);
    t->byName[name] = (int) t->slots.size();
    t->slots.push_back(s);
    return (int) t->slots.size() - 1;
}

int pocket_trainer_table(pocket_trainer * t, int64_t v, int64_t k, int trainable) {
    slot s{TABLE, ""};
    s.t = ggml_new_tensor_2d(t->sctx, GGML_TYPE_F32, v, k);
    s.v = (int) v, s.trainable = trainable;
    if (trainable) ggml_set_param(s.t);
    t->slots.push_back(s);
    return (int) t->slots.size() - 1;
}

int pocket_trainer_pq(pocket_trainer * t, const char * name, int64_t cols, int64_t rows, int table, int v, int has_scales, int want_grad) {
    if (table < 0 || table >= (int) t->slots.size() || t->slots[table].k != TABLE || t->slots[table].v != v || cols % v) {
        t->err = std::string("pq slot ") + name + ": bad table or sub-vector length";
        return -1;
    }
    slot s{PQ, name};
    s.idx = ggml_new_tensor_1d(t->sctx, GGML_TYPE_I32, rows * cols / v);
    if (has_scales) {
        s.scales = ggml_new_tensor_2d(t->sctx, GGML_TYPE_F32, 1, rows);
        ggml_set_param(s.scales);
    }
    s.table = table, s.v = v, s.cols = cols, s.rows = rows, s.want_grad = want_grad;
    s.trainable = has_scales;
    t->byName[name] = (int) t->slots.size();
    t->slots.push_back(s);
    return (int) t->slots.size() - 1;
}

int pocket_trainer_alloc(pocket_trainer * t) {
    t->sbuf = ggml_backend_alloc_ctx_tensors(t->sctx, t->backend);
    if (!t->sbuf) {
        t->err = "cannot allocate the model's tensors";
        return -1;
    }
    const float one = 1.0f;
    ggml_backend_tensor_set(t->one, &one, 0, sizeof one);
    t->galloc = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    return 0;
}

void pocket_trainer_set(pocket_trainer * t, int h, int part, const void * data) {
    slot & s = t->slots[h];
    ggml_tensor * x = s.k == PQ ? (part == 1 ? s.idx : s.scales) : s.t;
    if (x) ggml_backend_tensor_set(x, data, 0, ggml_nbytes(x));
}

} // extern "C"

namespace {

// rebuild is a PQ weight from its codes: W = get_rows(LUT, codes) reshaped
// to [cols, rows], times the row scales.
rebuilt rebuild(pocket_trainer * t, const slot & s) {
    rebuilt r;
    r.rows = ggml_get_rows(t->cctx, t->slots[s.table].t, s.idx); // [v, n_sub]
    r.shaped = ggml_reshape_2d(t->cctx, r.rows, s.cols, s.rows);
    r.w = s.scales ? ggml_mul(t->cctx, r.shaped, s.scales) : r.shaped;
    return r;
}

// weight returns the tensor the graph multiplies by: a dense slot itself or
// a PQ slot rebuilt from its codes (once per graph).
ggml_tensor * weight(pocket_trainer * t, const std::string & name) {
    auto it = t->byName.find(name);
    if (it == t->byName.end()) {
        if (name == "output.weight") return weight(t, "token_embd.weight");
        return nullptr;
    }
    slot & s = t->slots[it->second];
    if (s.k == DENSE) return s.t;
    if (!s.node) {
        s.fwd = rebuild(t, s);
        s.node = s.fwd.w;
    }
    return s.node;
}

// kvExpand repeats each of x's kv heads [a, b, KV, B] group times as
// consecutive heads (head h reads kv head h / group, as llama.cpp's
// broadcasting mul_mat does), by ops whose backward sums the copies.
ggml_tensor * kvExpand(ggml_context * ctx, ggml_tensor * x, int group) {
    if (group == 1) return x;
    const int64_t a = x->ne[0], b = x->ne[1], kv = x->ne[2], B = x->ne[3];
    x = ggml_reshape_4d(ctx, x, a * b, 1, kv, B);
    x = ggml_repeat_4d(ctx, x, a * b, group, kv, B);
    return ggml_reshape_4d(ctx, x, a, b, kv * group, B);
}

// schedule reorders nodes [lo, hi) of g for memory, keeping every node after
// its sources. Depth-first order (ggml's) computes a source as soon as the
// search meets it: a weight's rebuild long before the gradient it multiplies
// reaches it, a weight gradient long before the sums that consume it, so
// dense weights and gradients of every layer are alive at once. Here a node
// that depends neither on seeds (the inputs the range starts from) nor on
// anything in the range that does (a rebuild from the codes, a transposed
// copy of a forward activation) runs just before its first user,
// and every other node as soon as its sources are done (by depth, ties in
// the old order), so each gradient is consumed right after it is made.
void schedule(ggml_cgraph * g, int lo, int hi, const std::vector<ggml_tensor *> & seeds) {
    ggml_tensor ** nodes = ggml_graph_nodes(g);
    const int n = hi - lo;
    std::map<ggml_tensor *, int> pos;
    for (int i = lo; i < hi; i++) pos[nodes[i]] = i - lo;
    auto each = [&](ggml_tensor * x, auto f) {
        for (int j = 0; j < GGML_MAX_SRC; j++)
            if (x->src[j]) {
                auto it = pos.find(x->src[j]);
                if (it != pos.end()) f(it->second);
            }
        if (x->view_src) {
            auto it = pos.find(x->view_src);
            if (it != pos.end()) f(it->second);
        }
    };
    std::vector<int> d(n, 0);
    std::vector<char> free_(n, 1);
    int maxd = 0;
    for (int k = 0; k < n; k++) {
        int dd = 0;
        bool fr = true;
        for (int j = 0; j < GGML_MAX_SRC; j++)
            if (nodes[lo + k]->src[j] && std::find(seeds.begin(), seeds.end(), nodes[lo + k]->src[j]) != seeds.end()) fr = false;
        each(nodes[lo + k], [&](int s) {
            if (!free_[s]) fr = false;
            dd = std::max(dd, d[s]);
        });
        free_[k] = fr;
        d[k] = fr ? 0 : dd + 1;
        maxd = std::max(maxd, d[k]);
    }
    std::vector<int> first(n, maxd + 1); // depth of each node's earliest user
    for (int k = n - 1; k >= 0; k--) {
        if (free_[k]) d[k] = first[k] - 1;
        each(nodes[lo + k], [&](int s) { first[s] = std::min(first[s], d[k]); });
    }
    std::vector<int> order(n);
    for (int k = 0; k < n; k++) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return d[a] < d[b]; });
    std::vector<ggml_tensor *> old(nodes + lo, nodes + hi);
    for (int k = 0; k < n; k++) nodes[lo + k] = old[order[k]];
}

// transposeCopy is ggml_cont of a transposed f32 view, in 32 x 32 tiles so
// both sides stay in cache: ggml's copy of a non-contiguous view moves one
// element per memcpy (a fifth of a step's time before). dst is contiguous
// with a's shape; a's first two dimensions are the swapped ones. A custom op
// runs on the CPU backend only: a GPU backend would take ggml_cont here.
void transposeCopy(ggml_tensor * dst, const ggml_tensor * a, int ith, int nth, void *) {
    const int64_t n0 = dst->ne[0], n1 = dst->ne[1], n2 = dst->ne[2], n3 = dst->ne[3];
    const int64_t tiles1 = (n1 + 31) / 32, total = tiles1 * n2 * n3;
    for (int64_t job = ith; job < total; job += nth) {
        const int64_t t1 = job % tiles1, i2 = job / tiles1 % n2, i3 = job / tiles1 / n2;
        const int64_t j1 = t1 * 32, e1 = std::min(n1, j1 + 32);
        for (int64_t j0 = 0; j0 < n0; j0 += 32) {
            const int64_t e0 = std::min(n0, j0 + 32);
            for (int64_t i1 = j1; i1 < e1; i1++) {
                float * d = (float *) ((char *) dst->data + i1 * dst->nb[1] + i2 * dst->nb[2] + i3 * dst->nb[3]);
                const char * sp = (const char *) a->data + i1 * a->nb[1] + i2 * a->nb[2] + i3 * a->nb[3];
                for (int64_t i0 = j0; i0 < e0; i0++) d[i0] = *(const float *) (sp + i0 * a->nb[0]);
            }
        }
    }
}

// gemmBackward rewrites the backward half of g: ggml takes mul_mat's
// gradients by out_prod, which the CPU backend computes as rows of axpy
// (ggml_vec_mad) at a fraction of its gemm's speed; the same product is a
// mul_mat of the two operands transposed, which runs on the gemm kernels.
// It returns the graph rebuilt from the forward root (the same n_fwd nodes
// first) and the gradients in roots, which it updates.
ggml_cgraph * gemmBackward(ggml_context * ctx, ggml_cgraph * g, int n_fwd, const std::vector<ggml_tensor **> & roots,
                           const std::map<ggml_tensor *, ggml_tensor *> & rebuilds, const std::vector<ggml_tensor *> & fwdSeeds,
                           const std::vector<ggml_tensor *> & bwdSeeds) {
    std::map<ggml_tensor *, ggml_tensor *> repl = rebuilds;
    auto sub = [&](ggml_tensor * x) {
        auto it = repl.find(x);
        return it == repl.end() ? x : it->second;
    };
    // T is x transposed and contiguous: a transposed view's source itself,
    // else one copy per tensor (an activation feeds several weights' gradients).
    std::map<ggml_tensor *, ggml_tensor *> tr;
    auto T = [&](ggml_tensor * x) {
        if (x->op == GGML_OP_TRANSPOSE && ggml_is_contiguous(x->src[0])) return x->src[0];
        auto it = tr.find(x);
        if (it != tr.end()) return it->second;
        ggml_tensor * v = ggml_transpose(ctx, x);
        return tr[x] = x->type == GGML_TYPE_F32 ? ggml_map_custom1(ctx, v, transposeCopy, GGML_N_TASKS_MAX, nullptr) : ggml_cont(ctx, v);
    };
    const int n = ggml_graph_n_nodes(g);
    for (int i = n_fwd; i < n; i++) {
        ggml_tensor * node = ggml_graph_node(g, i);
        for (int j = 0; j < GGML_MAX_SRC; j++)
            if (node->src[j]) node->src[j] = sub(node->src[j]);
        if (node->view_src) node->view_src = sub(node->view_src);
        if (node->op == GGML_OP_OUT_PROD) repl[node] = ggml_mul_mat(ctx, T(node->src[0]), T(node->src[1]));
    }
    ggml_cgraph * out = ggml_new_graph_custom(ctx, kGraphSize, false);
    ggml_build_forward_expand(out, ggml_graph_node(g, n_fwd - 1));
    for (auto ** r : roots) {
        *r = sub(*r);
        ggml_build_forward_expand(out, *r);
    }
    schedule(out, 0, n_fwd, fwdSeeds);
    schedule(out, n_fwd, ggml_graph_n_nodes(out), bwdSeeds);
    return out;
}

struct graph {
    ggml_cgraph * g = nullptr;
    ggml_tensor * tok = nullptr, * pos = nullptr, * logits = nullptr, * dl = nullptr;
    int n_fwd = 0;
};

bool build(pocket_trainer * t, graph & G, int T, int B, bool grad) {
    const auto & c = t->c;
    const int N = T * B, hd = c.head_dim, kvd = c.kv_heads * hd, group = c.heads / c.kv_heads;
    ggml_init_params p = {ggml_tensor_overhead() * kGraphSize + ggml_graph_overhead_custom(kGraphSize, true), nullptr, true};
    t->cctx = ggml_init(p);
    ggml_context * ctx = t->cctx;
    for (auto & s : t->slots) s.node = s.g0 = s.g1 = nullptr;
    auto W = [&](const std::string & n) { return weight(t, n); };

    G.tok = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, N);
    G.pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, T);
    ggml_set_input(G.tok);
    ggml_set_input(G.pos);
    ggml_tensor * embd = W("token_embd.weight");
    if (!embd) { t->err = "token_embd.weight missing"; return false; }
    ggml_tensor * x = ggml_get_rows(ctx, embd, G.tok); // [D, N]
    const float kq_scale = 1.0f / std::sqrt((float) hd);
    for (int l = 0; l < c.layers; l++) {
        auto L = [&](const char * n) {
            ggml_tensor * w = W("blk." + std::to_string(l) + "." + n + ".weight");
            if (!w) t->err = std::string("blk.") + std::to_string(l) + "." + n + ".weight missing";
            return w;
        };
        ggml_tensor *an = L("attn_norm"), *wq = L("attn_q"), *wk = L("attn_k"), *wv = L("attn_v"), *wo = L("attn_output"),
                    *fn = L("ffn_norm"), *wg = L("ffn_gate"), *wu = L("ffn_up"), *wd = L("ffn_down");
        if (!t->err.empty()) return false;
        ggml_tensor * cur = ggml_mul(ctx, ggml_rms_norm(ctx, x, c.eps), an);
        ggml_tensor * q = ggml_reshape_4d(ctx, ggml_mul_mat(ctx, wq, cur), hd, c.heads, T, B);
        ggml_tensor * k = ggml_reshape_4d(ctx, ggml_mul_mat(ctx, wk, cur), hd, c.kv_heads, T, B);
        ggml_tensor * v = ggml_reshape_4d(ctx, ggml_mul_mat(ctx, wv, cur), hd, c.kv_heads, T, B);
        q = ggml_rope_ext(ctx, q, G.pos, nullptr, c.rope_dims, 0, 0, c.rope_base, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
        k = ggml_rope_ext(ctx, k, G.pos, nullptr, c.rope_dims, 0, 0, c.rope_base, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
        q = ggml_cont(ctx, ggml_permute(ctx, q, 0, 2, 1, 3));                      // [hd, T, H, B]
        k = kvExpand(ctx, ggml_cont(ctx, ggml_permute(ctx, k, 0, 2, 1, 3)), group); // [hd, T, H, B]
        v = kvExpand(ctx, ggml_cont(ctx, ggml_permute(ctx, v, 1, 2, 0, 3)), group); // [T, hd, H, B]
        ggml_tensor * kq = ggml_mul_mat(ctx, k, q);                                 // [T, T, H, B]
        kq = ggml_soft_max_ext(ctx, ggml_diag_mask_inf(ctx, kq, 0), nullptr, kq_scale, 0.0f);
        ggml_tensor * a = ggml_mul_mat(ctx, v, kq);                                 // [hd, T, H, B]
        a = ggml_reshape_2d(ctx, ggml_cont(ctx, ggml_permute(ctx, a, 0, 2, 1, 3)), c.dim, N);
        ggml_tensor * h = ggml_add(ctx, ggml_mul_mat(ctx, wo, a), x);
        cur = ggml_mul(ctx, ggml_rms_norm(ctx, h, c.eps), fn);
        ggml_tensor * s = ggml_mul(ctx, ggml_silu(ctx, ggml_mul_mat(ctx, wg, cur)), ggml_mul_mat(ctx, wu, cur));
        x = ggml_add(ctx, ggml_mul_mat(ctx, wd, s), h);
        (void) kvd;
    }
    ggml_tensor * on = W("output_norm.weight"), * wout = W("output.weight");
    if (!on || !wout) { t->err = "output_norm or output weight missing"; return false; }
    x = ggml_mul(ctx, ggml_rms_norm(ctx, x, c.eps), on);
    G.logits = ggml_mul_mat(ctx, wout, x); // [V, N]
    ggml_set_output(G.logits);
    ggml_tensor * root = G.logits;
    if (grad) {
        // The loss' gradient with respect to the logits is dl, written by the
        // host between the halves: sum(logits * dl) has exactly that gradient.
        G.dl = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, c.vocab, N);
        ggml_set_input(G.dl);
        root = ggml_sum(ctx, ggml_mul(ctx, G.logits, G.dl));
        ggml_set_loss(root);
    }
    G.g = ggml_new_graph_custom(ctx, kGraphSize, grad);
    ggml_build_forward_expand(G.g, root);
    G.n_fwd = ggml_graph_n_nodes(G.g);
    // ggml's depth-first order rebuilds every PQ weight before the first
    // layer runs; scheduled, each is rebuilt just before its product and its
    // memory reused by the next (the held-out chunks' pass has no backward
    // half whose rewrite would schedule it).
    if (!grad) schedule(G.g, 0, G.n_fwd, {G.tok});
    if (grad) {
        std::vector<ggml_tensor *> accs(G.n_fwd, nullptr);
        accs[G.n_fwd - 1] = t->one;
        ggml_build_backward_expand(ctx, G.g, accs.data());
        std::vector<ggml_tensor **> roots;
        for (auto & s : t->slots) {
            ggml_tensor * p = s.k == PQ ? s.scales : s.t;
            if (s.trainable && p && (s.g0 = ggml_graph_get_grad(G.g, p))) roots.push_back(&s.g0);
            if (s.want_grad && s.node && (s.g1 = ggml_graph_get_grad(G.g, s.node))) roots.push_back(&s.g1);
        }
        // The backward half rebuilds each PQ weight again where it needs it,
        // so no dense weight lives from its forward use to its backward one.
        std::map<ggml_tensor *, ggml_tensor *> rebuilds;
        for (auto & s : t->slots) {
            if (!s.node) continue;
            rebuilt b = rebuild(t, s);
            rebuilds[s.fwd.rows] = b.rows;
            rebuilds[s.fwd.shaped] = b.shaped;
            if (s.fwd.w != s.fwd.shaped) rebuilds[s.fwd.w] = b.w;
        }
        G.g = gemmBackward(ctx, G.g, G.n_fwd, roots, rebuilds, {G.tok}, {t->one, G.dl});
        if (ggml_graph_node(G.g, G.n_fwd - 1) != root) { t->err = "backward rewrite reordered the forward half"; return false; }
        // ggml's CPU rms_norm_back copies x into dst before it adds dz, so
        // it must not run in place over dz as the allocator would make it.
        for (int i = G.n_fwd; i < ggml_graph_n_nodes(G.g); i++) {
            ggml_tensor * n = ggml_graph_node(G.g, i);
            if (n->op == GGML_OP_RMS_NORM_BACK) ggml_set_output(n->src[0]);
        }
        for (auto ** r : roots) ggml_set_output(*r);
    }
    if (!ggml_gallocr_alloc_graph(t->galloc, G.g)) {
        t->err = "cannot allocate the compute graph";
        return false;
    }
    return true;
}

// klRows writes into kls the KL of each token's student distribution (logits z) from
// the teacher's top-k plus rest and scale times its gradient with respect to z:
// q_j - p_j on the top-k, q_j (1 - p_rest/q_rest) elsewhere.
void klRows(const float * z, float * dz, double * kls, int V, int n0, int n1, int k, const int32_t * tidx, const float * tlogp,
              const float * trest, float scale) {
    std::vector<char> in(V, 0);
    for (int n = n0; n < n1; n++) {
        double kl = 0;
        const float * zn = z + (size_t) n * V;
        float * dn = dz ? dz + (size_t) n * V : nullptr;
        float mx = zn[0];
        for (int j = 1; j < V; j++) mx = std::max(mx, zn[j]);
        double sum = 0;
        for (int j = 0; j < V; j++) sum += std::exp((double) (zn[j] - mx));
        const double lse = mx + std::log(sum);
        const int32_t * ix = tidx + (size_t) n * k;
        const float * lp = tlogp + (size_t) n * k;
        for (int i = 0; i < k; i++) in[ix[i]] = 1;
        double qr = 0;
        for (int j = 0; j < V; j++)
            if (!in[j]) qr += std::exp(zn[j] - lse);
        for (int i = 0; i < k; i++) {
            const double lq = zn[ix[i]] - lse, p = std::exp((double) lp[i]);
            kl += p * (lp[i] - lq);
            if (dn) dn[ix[i]] = (float) (scale * (std::exp(lq) - p));
        }
        const double pr = std::exp((double) trest[n]);
        double f = 1;
        if (pr > 0) {
            const double q = std::max(qr, 1e-30);
            kl += pr * (trest[n] - std::log(q));
            f = 1 - pr / q;
        }
        if (dn)
            for (int j = 0; j < V; j++)
                if (!in[j]) dn[j] = (float) (scale * std::exp(zn[j] - lse) * f);
        for (int i = 0; i < k; i++) in[ix[i]] = 0;
        kls[n] = kl;
    }
}

} // namespace

extern "C" {

double pocket_trainer_run(pocket_trainer * t, int T, int B, const int32_t * tokens, int k, const int32_t * tidx,
                          const float * tlogp, const float * trest, float scale, int grad) {
    t->err.clear();
    if (t->cctx) { ggml_free(t->cctx); t->cctx = nullptr; }
    graph G;
    if (!build(t, G, T, B, grad != 0)) return NAN;
    const int N = T * B, V = t->c.vocab;
    std::vector<int32_t> pos(T);
    for (int i = 0; i < T; i++) pos[i] = i;
    ggml_backend_tensor_set(G.tok, tokens, 0, sizeof(int32_t) * N);
    ggml_backend_tensor_set(G.pos, pos.data(), 0, sizeof(int32_t) * T);
    ggml_cgraph fwd = ggml_graph_view(G.g, 0, G.n_fwd);
    if (ggml_backend_graph_compute(t->backend, &fwd) != GGML_STATUS_SUCCESS) { t->err = "forward compute failed"; return NAN; }
    t->logits.resize((size_t) N * V);
    ggml_backend_tensor_get(G.logits, t->logits.data(), 0, t->logits.size() * sizeof(float));
    if (grad) t->dlogits.resize((size_t) N * V);
    const int nt = std::max(1, std::min(t->c.threads, N));
    std::vector<double> per(N, 0);
    std::vector<std::thread> th;
    for (int w = 0; w < nt; w++)
        th.emplace_back([&, w] {
            klRows(t->logits.data(), grad ? t->dlogits.data() : nullptr, per.data(), V, N * w / nt, N * (w + 1) / nt, k, tidx,
                   tlogp, trest, scale);
        });
    for (auto & x : th) x.join();
    double kl = 0;
    for (double x : per) kl += x; // token order: the sum does not depend on the thread count
    if (grad) {
        ggml_backend_tensor_set(G.dl, t->dlogits.data(), 0, t->dlogits.size() * sizeof(float));
        ggml_cgraph bwd = ggml_graph_view(G.g, G.n_fwd, ggml_graph_n_nodes(G.g));
        if (ggml_backend_graph_compute(t->backend, &bwd) != GGML_STATUS_SUCCESS) { t->err = "backward compute failed"; return NAN; }
    }
    return kl;
}

int pocket_trainer_grad(pocket_trainer * t, int h, int part, float * dst) {
    slot & s = t->slots[h];
    ggml_tensor * g = part == 1 ? s.g1 : s.g0;
    if (!g) return 0;
    ggml_backend_tensor_get(g, dst, 0, ggml_nbytes(g));
    return 1;
}

void pocket_trainer_set_threads(pocket_trainer * t, int n) {
    t->c.threads = n > 0 ? n : 1;
    ggml_backend_cpu_set_n_threads(t->backend, t->c.threads);
}

size_t pocket_trainer_static_bytes(pocket_trainer * t) { return t->sbuf ? ggml_backend_buffer_get_size(t->sbuf) : 0; }
size_t pocket_trainer_compute_bytes(pocket_trainer * t) { return t->galloc ? ggml_gallocr_get_buffer_size(t->galloc, 0) : 0; }
const char * pocket_trainer_error(pocket_trainer * t) { return t->err.c_str(); }

void pocket_trainer_free(pocket_trainer * t) {
    if (t->cctx) ggml_free(t->cctx);
    if (t->galloc) ggml_gallocr_free(t->galloc);
    if (t->sbuf) ggml_backend_buffer_free(t->sbuf);
    if (t->sctx) ggml_free(t->sctx);
    if (t->backend) ggml_backend_free(t->backend);
    delete t;
}

} // extern "C"
