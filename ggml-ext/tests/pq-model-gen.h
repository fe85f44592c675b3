// Makes a small PocketGGUF model from a real F32 GGUF (stories260K) for the model-level test:
// k-means tables over the real weights (a few Lloyd steps), one PQ type per tensor kind so every
// type family, both key encodings (f32 and u16 half arrays), row scales, a shared table and a
// meta-network decoder appear; plus the "unpacked twin": the same weights decoded to F32, which
// stock ggml code runs. Written with ggml's own gguf API.
// With additive = true every kind gets an additive (pqa_*) type instead: M codebooks of up to
// 16 entries trained on the residuals one after another, codes chosen greedily, stored in the
// 32-row interleaved layout, pocket.version 2.
#pragma once

#include "ggml.h"
#include "ggml-pq.h"
#include "gguf.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace pqgen {

struct rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float uniform() { return (float) ((next() >> 11) * (1.0 / 9007199254740992.0)); }
    float normal() { return std::sqrt(-2.0f * std::log(uniform() + 1e-12f)) * std::cos(6.2831853f * uniform()); }
};

// How one tensor kind is compressed.
struct plan {
    int type;            // GGML_TYPE_PQ_*
    int k;               // codebook entries
    bool row_scale;      // per-row scales
    bool half_keys;      // codebook and scales as u16 half arrays
    int blocks, hidden, latent;  // decoder (0, 0, v: plain k-means)
    bool shared;         // one table for this kind across layers ("kind" sharing)
};

// Additive plans: all five types, K < 16, a shared table, a decoder over M*K entries, tensors
// of 32 rows (one group, no tail), 172 rows (5 groups + 12) and 512 rows.
inline const plan * plan_for_additive(const std::string & name) {
    static const plan embd  = { GGML_PQA_4X8,  16, true,  false, 0, 0, 4, false };  // get_rows
    static const plan q     = { GGML_PQA_8X8,  12, false, false, 0, 0, 8, false };  // K < 16
    static const plan k     = { GGML_PQA_4X12, 16, true,  true,  0, 0, 4, false };  // 32 rows
    static const plan v     = { GGML_PQA_8X16, 16, false, false, 0, 0, 8, true  };  // shared across layers
    static const plan o     = { GGML_PQA_8X12, 16, true,  true,  1, 8, 6, false };  // meta-network decoder
    static const plan gate  = { GGML_PQA_4X8,  16, true,  false, 0, 0, 4, false };  // 172 rows: a tail
    static const plan up    = { GGML_PQA_8X16, 16, false, true,  1, 4, 8, false };
    static const plan down  = { GGML_PQA_4X8,  14, true,  false, 0, 0, 4, false };  // n = 172
    static const plan out   = { GGML_PQA_4X12, 16, true,  false, 0, 0, 4, false };
    if (name == "token_embd.weight") return &embd;
    if (name == "output.weight") return &out;
    if (name.find("attn_q.weight") != std::string::npos) return &q;
    if (name.find("attn_k.weight") != std::string::npos) return &k;
    if (name.find("attn_v.weight") != std::string::npos) return &v;
    if (name.find("attn_output.weight") != std::string::npos) return &o;
    if (name.find("ffn_gate.weight") != std::string::npos) return &gate;
    if (name.find("ffn_up.weight") != std::string::npos) return &up;
    if (name.find("ffn_down.weight") != std::string::npos) return &down;
    return nullptr;
}

// Chooses a plan by tensor name; nullptr keeps the tensor as it is.
inline const plan * plan_for(const std::string & name, int64_t ne0, bool additive = false) {
    if (additive) {
        const plan * p = plan_for_additive(name);
        return p && ne0 % ggml_pq_get_type(p->type)->blck_size == 0 ? p : nullptr;
    }
    static const plan embd  = { GGML_PQ_4X8,  256, true,  false, 0, 0, 4, false };
    static const plan q     = { GGML_PQ_4X8,  200, false, false, 0, 0, 4, false };  // K < 2^bits
    static const plan k     = { GGML_PQ_8X8,  256, true,  true,  0, 0, 8, false };
    static const plan v     = { GGML_PQ_4X8,  256, false, false, 0, 0, 4, true  };  // shared across layers
    static const plan o     = { GGML_PQ_4X16, 700, true,  true,  1, 8, 6, false };  // meta-network decoder
    static const plan gate  = { GGML_PQ_8X12, 600, true,  false, 0, 0, 8, false };
    static const plan up    = { GGML_PQ_4X12, 600, false, true,  1, 4, 4, false };
    static const plan down  = { GGML_PQ_2X8,  256, true,  false, 0, 0, 2, false };
    static const plan out   = { GGML_PQ_8X16, 500, true,  false, 0, 0, 8, false };
    const plan * p = nullptr;
    if (name == "token_embd.weight") p = &embd;
    else if (name == "output.weight") p = &out;
    else if (name.find("attn_q.weight") != std::string::npos) p = &q;
    else if (name.find("attn_k.weight") != std::string::npos) p = &k;
    else if (name.find("attn_v.weight") != std::string::npos) p = &v;
    else if (name.find("attn_output.weight") != std::string::npos) p = &o;
    else if (name.find("ffn_gate.weight") != std::string::npos) p = &gate;
    else if (name.find("ffn_up.weight") != std::string::npos) p = &up;
    else if (name.find("ffn_down.weight") != std::string::npos) p = &down;
    if (p && ne0 % ggml_pq_get_type(p->type)->blck_size != 0) return nullptr;
    return p;
}

inline std::string kind_of(const std::string & name) {  // "blk.3.attn_v.weight" -> "attn_v.weight"
    if (name.rfind("blk.", 0) == 0) return name.substr(name.find('.', 4) + 1);
    return name;
}

// A trained table: what goes into the pocket.table.<G>.* keys, and its LUT (additive types:
// the runtime table of ggml_pq_build_type_lut, entry (m, k) component t at (m*v + t)*16 + k).
struct table {
    ggml_pq_table t;
    std::vector<float> codebook, decoder, lut;
    int bits;
    int m = 1;  // codebooks
    float entry(int cb, int k, int c) const { return lut[((size_t) cb*t.v + c)*16 + k]; }
};

// Lloyd k-means on n vectors of length v (data), k entries; deterministic.
inline std::vector<float> kmeans(const std::vector<float> & data, int v, int k, rng & r) {
    const size_t n = data.size() / v;
    std::vector<float> c((size_t) k * v);
    for (int i = 0; i < k; i++) {
        const size_t j = r.next() % n;
        for (int t = 0; t < v; t++) c[(size_t) i*v + t] = data[j*v + t] + 1e-3f * r.normal();
    }
    std::vector<int> a(n);
    for (int it = 0; it < 4; it++) {
        for (size_t j = 0; j < n; j++) {
            float best = INFINITY; int bi = 0;
            for (int i = 0; i < k; i++) {
                float d = 0;
                for (int t = 0; t < v; t++) { float e = data[j*v + t] - c[(size_t) i*v + t]; d += e*e; }
                if (d < best) { best = d; bi = i; }
            }
            a[j] = bi;
        }
        std::vector<double> sum((size_t) k * v, 0.0);
        std::vector<int> cnt(k, 0);
        for (size_t j = 0; j < n; j++) {
            cnt[a[j]]++;
            for (int t = 0; t < v; t++) sum[(size_t) a[j]*v + t] += data[j*v + t];
        }
        for (int i = 0; i < k; i++) {
            if (cnt[i] == 0) continue;
            for (int t = 0; t < v; t++) c[(size_t) i*v + t] = (float) (sum[(size_t) i*v + t] / cnt[i]);
        }
    }
    return c;
}

// Builds a table for plan p from the (row-normalised) vectors: k-means centroids as the
// codebook; with a decoder, the latent codebook is the centroid padded/truncated to d values,
// and a small random residual MLP + Wo (identity on the first v) maps it back. Additive types:
// M codebooks, codebook m the centroids of what codebooks 0..m-1 leave (nearest centroid each).
inline table make_table(const plan & p, const std::vector<float> & vecs, rng & r) {
    const ggml_pq_type_info * ti = ggml_pq_get_type(p.type);
    const int v = ti->v, d = p.latent, h = p.hidden, B = p.blocks, M = ti->codebooks;
    table tb;
    tb.bits = ti->bits;
    tb.m = M;
    tb.codebook.assign((size_t) M * p.k * d, 0.0f);
    std::vector<float> resid = vecs;
    for (int m = 0; m < M; m++) {
        std::vector<float> cent = kmeans(resid, v, p.k, r);
        for (int i = 0; i < p.k; i++) {
            for (int t = 0; t < d; t++) tb.codebook[((size_t) m*p.k + i)*d + t] = t < v ? cent[(size_t) i*v + t] : 0.1f * r.normal();
        }
        if (m + 1 == M) break;
        for (size_t j = 0; j < resid.size() / v; j++) {
            float best = INFINITY; int bi = 0;
            for (int i = 0; i < p.k; i++) {
                float e2 = 0;
                for (int t = 0; t < v; t++) { float e = resid[j*v + t] - cent[(size_t) i*v + t]; e2 += e*e; }
                if (e2 < best) { best = e2; bi = i; }
            }
            for (int t = 0; t < v; t++) resid[j*v + t] -= cent[(size_t) bi*v + t];
        }
    }
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < h*d; i++) tb.decoder.push_back(0.3f * r.normal());   // W1
        for (int i = 0; i < h; i++)   tb.decoder.push_back(0.1f * r.normal());   // c1
        for (int i = 0; i < d*h; i++) tb.decoder.push_back(0.01f * r.normal());  // W2
        for (int i = 0; i < d; i++)   tb.decoder.push_back(0.001f * r.normal()); // c2
    }
    for (int i = 0; i < v; i++) for (int j = 0; j < d; j++) tb.decoder.push_back(i == j ? 1.0f : 0.0f);  // Wo
    for (int i = 0; i < v; i++) tb.decoder.push_back(0.0f);                                               // co
    if (p.half_keys) {  // the file stores halves: decode from what the reader will see
        for (float & x : tb.codebook) x = ggml_fp16_to_fp32(ggml_fp32_to_fp16(x));
    }
    tb.t = { v, p.k, d, B, h, tb.codebook.data(), tb.decoder.data(), M };
    int64_t bad;
    if (const char * err = ggml_pq_table_check(&tb.t, ti->max_k, &bad)) throw std::runtime_error(err);
    tb.lut.resize((size_t) ggml_pq_lut_len(p.type));
    ggml_pq_build_type_lut(p.type, &tb.t, tb.lut.data());
    return tb;
}

inline void pack(int bits, const std::vector<uint32_t> & idx, uint8_t * dst) {
    for (size_t i = 0; i < idx.size(); i++) {
        if (bits == 8) dst[i] = (uint8_t) idx[i];
        else if (bits == 16) { dst[2*i] = (uint8_t) idx[i]; dst[2*i + 1] = (uint8_t) (idx[i] >> 8); }
    }
    if (bits == 12) {
        for (size_t i = 0; i + 1 < idx.size(); i += 2) {
            const uint32_t a = idx[i], b = idx[i + 1];
            uint8_t * o = dst + i/2*3;
            o[0] = (uint8_t) a; o[1] = (uint8_t) ((a >> 8 & 0x0F) | (b << 4)); o[2] = (uint8_t) (b >> 4);
        }
    }
}

// Codes codes[r*P + p] of a matrix of `rows` rows into the 32-row interleaved layout.
inline void pack_additive(const std::vector<uint8_t> & codes, int64_t rows, int64_t P, uint8_t * dst) {
    const int64_t full = rows / 32 * 32;
    memset(dst, 0, (size_t) (rows * P / 2));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t p = 0; p < P; p++) {
            const uint8_t c = codes[r*P + p];
            if (r < full) {
                uint8_t & b = dst[(r / 32) * 16 * P + p * 16 + (r % 16)];
                b |= (r % 32) < 16 ? c : (uint8_t) (c << 4);
            } else {
                uint8_t & b = dst[full * (P / 2) + (r - full) * (P / 2) + p / 2];
                b |= (p & 1) ? (uint8_t) (c << 4) : c;
            }
        }
    }
}

inline void set_floats(gguf_context * g, const std::string & key, const std::vector<float> & x, bool half) {
    if (!half) {
        gguf_set_arr_data(g, key.c_str(), GGUF_TYPE_FLOAT32, x.data(), x.size());
        return;
    }
    std::vector<ggml_fp16_t> h(x.size());
    for (size_t i = 0; i < x.size(); i++) h[i] = ggml_fp32_to_fp16(x[i]);
    gguf_set_arr_data(g, key.c_str(), GGUF_TYPE_UINT16, h.data(), h.size());
}

// Writes pq_path (PocketGGUF) and twin_path (its weights decoded to F32) from src_path.
// The hook, if set, may edit the PQ file's keys before it is written (tests of refusals).
struct result { int n_pq = 0; size_t pq_bytes = 0, f32_bytes = 0; };

template <typename Hook>
result generate(const char * src_path, const char * pq_path, const char * twin_path, uint64_t seed, Hook hook,
                bool additive = false) {
    ggml_context * src_ctx = nullptr;
    gguf_init_params ip = { false, &src_ctx };
    gguf_context * src = gguf_init_from_file(src_path, ip);
    if (!src) throw std::runtime_error(std::string("cannot read ") + src_path);

    gguf_context * pq = gguf_init_empty(), * twin = gguf_init_empty();
    gguf_set_kv(pq, src);
    gguf_set_kv(twin, src);
    gguf_set_val_u32(pq, "general.file_type", 100);  // LLAMA_FTYPE_MOSTLY_PQ
    gguf_set_val_u32(twin, "general.file_type", 0);  // LLAMA_FTYPE_ALL_F32
    gguf_set_val_u32(pq, "pocket.version", additive ? 2 : 1);
    gguf_set_val_str(pq, "pocket.method", "kmeans");
    gguf_set_val_u64(pq, "pocket.seed", seed);

    const int64_t n_tensors = gguf_get_n_tensors(src);
    ggml_init_params cp = { (size_t) 64 << 20, nullptr, false };
    ggml_context * out = ggml_init(cp);
    rng r { seed };
    std::map<std::string, table> shared;
    result res;

    for (int64_t ti = 0; ti < n_tensors; ti++) {
        const std::string name = gguf_get_tensor_name(src, ti);
        ggml_tensor * t = ggml_get_tensor(src_ctx, name.c_str());
        const plan * p = t->type == GGML_TYPE_F32 && ggml_n_dims(t) == 2 ? plan_for(name, t->ne[0], additive) : nullptr;
        if (!p) {
            gguf_add_tensor(pq, t);
            gguf_add_tensor(twin, t);
            continue;
        }
        const ggml_pq_type_info * info = ggml_pq_get_type(p->type);
        const int v = info->v;
        const int64_t n = t->ne[0], rows = ggml_nrows(t);
        const float * w = (const float *) t->data;

        std::vector<float> scale(rows, 1.0f);
        std::vector<float> vecs(w, w + n*rows);
        if (p->row_scale) {
            for (int64_t i = 0; i < rows; i++) {
                float m = 0;
                for (int64_t j = 0; j < n; j++) m = std::fmax(m, std::fabs(w[i*n + j]));
                scale[i] = m > 0 ? m : 1.0f;
                if (p->half_keys) scale[i] = ggml_fp16_to_fp32(ggml_fp32_to_fp16(scale[i]));
                for (int64_t j = 0; j < n; j++) vecs[i*n + j] = w[i*n + j] / scale[i];
            }
        }
        std::string gname = p->shared ? "kind." + kind_of(name) : name;
        table * tb;
        table local;
        if (p->shared) {
            auto it = shared.find(gname);
            if (it == shared.end()) it = shared.emplace(gname, make_table(*p, vecs, r)).first;
            tb = &it->second;
        } else {
            local = make_table(*p, vecs, r);
            tb = &local;
        }

        // nearest LUT row for every sub-vector; pack; decode the twin from the same LUT
        ggml_tensor * tq = ggml_new_tensor_2d(out, (ggml_type) p->type, n, rows);
        ggml_tensor * tf = ggml_new_tensor_2d(out, GGML_TYPE_F32, n, rows);
        ggml_set_name(tq, name.c_str());
        ggml_set_name(tf, name.c_str());
        if (info->codebooks > 1) {
            // greedy: codebook m picks the entry nearest what codebooks 0..m-1 leave; the twin
            // sums the entries as ggml_pqa_dequant_row does (m ascending, then the row scale)
            const int M = info->codebooks;
            const int64_t P = n / v * M;
            std::vector<uint8_t> codes((size_t) (rows * P));
            for (int64_t i = 0; i < rows; i++) {
                for (int64_t j = 0; j < n / v; j++) {
                    float res[8];
                    for (int q = 0; q < v; q++) res[q] = vecs[i*n + j*v + q];
                    for (int m = 0; m < M; m++) {
                        float best = INFINITY; int bi = 0;
                        for (int e = 0; e < p->k; e++) {
                            float d = 0;
                            for (int q = 0; q < v; q++) { float x = res[q] - tb->entry(m, e, q); d += x*x; }
                            if (d < best) { best = d; bi = e; }
                        }
                        codes[i*P + j*M + m] = (uint8_t) bi;
                        for (int q = 0; q < v; q++) res[q] -= tb->entry(m, bi, q);
                    }
                    for (int q = 0; q < v; q++) {
                        float sum = tb->entry(0, codes[i*P + j*M], q);
                        for (int m = 1; m < M; m++) sum += tb->entry(m, codes[i*P + j*M + m], q);
                        ((float *) tf->data)[i*n + j*v + q] = scale[i] * sum;
                    }
                }
            }
            pack_additive(codes, rows, P, (uint8_t *) tq->data);
            // the packed layout decodes (by the runtime's rule) to exactly the twin's weights
            std::vector<float> back(n);
            for (int64_t i = 0; i < rows; i++) {
                ggml_pqa_dequant_row(p->type, n, tq->data, rows, i, tb->lut.data(), scale[i], back.data());
                if (memcmp(back.data(), (const float *) tf->data + i*n, n * sizeof(float)) != 0) {
                    throw std::runtime_error("pq-model-gen: packed " + name + " does not decode to its twin");
                }
            }
        }
        std::vector<uint32_t> idx(n / v);
        for (int64_t i = 0; i < rows && info->codebooks == 1; i++) {
            for (int64_t j = 0; j < n / v; j++) {
                float best = INFINITY; uint32_t bi = 0;
                for (int e = 0; e < p->k; e++) {
                    float d = 0;
                    for (int q = 0; q < v; q++) { float x = vecs[i*n + j*v + q] - tb->lut[(size_t) e*v + q]; d += x*x; }
                    if (d < best) { best = d; bi = (uint32_t) e; }
                }
                idx[j] = bi;
                for (int q = 0; q < v; q++) ((float *) tf->data)[i*n + j*v + q] = scale[i] * tb->lut[(size_t) bi*v + q];
            }
            pack(info->bits, idx, (uint8_t *) tq->data + i * tq->nb[1]);
        }
        gguf_add_tensor(pq, tq);
        gguf_add_tensor(twin, tf);
        res.n_pq++;
        res.pq_bytes += ggml_nbytes(tq);
        res.f32_bytes += ggml_nbytes(tf);

        const std::string tk = "pocket.tensor." + name + ".", gk = "pocket.table." + gname + ".";
        gguf_set_val_str(pq, (tk + "table").c_str(), gname.c_str());
        if (p->row_scale) set_floats(pq, tk + "scale", scale, p->half_keys);
        if (gguf_find_key(pq, (gk + "v").c_str()) < 0) {
            gguf_set_val_u32(pq, (gk + "v").c_str(), (uint32_t) v);
            gguf_set_val_u32(pq, (gk + "k").c_str(), (uint32_t) p->k);
            gguf_set_val_u32(pq, (gk + "latent").c_str(), (uint32_t) p->latent);
            if (tb->m > 1) gguf_set_val_u32(pq, (gk + "codebooks").c_str(), (uint32_t) tb->m);
            set_floats(pq, gk + "codebook", tb->codebook, p->half_keys);
            gguf_set_val_u32(pq, (gk + "decoder.blocks").c_str(), (uint32_t) p->blocks);
            gguf_set_val_u32(pq, (gk + "decoder.hidden").c_str(), (uint32_t) p->hidden);
            set_floats(pq, gk + "decoder", tb->decoder, false);
            gguf_set_val_str(pq, (gk + "sharing").c_str(), p->shared ? "kind" : "tensor");
        }
    }
    hook(pq);
    const bool ok = gguf_write_to_file(pq, pq_path, false) && gguf_write_to_file(twin, twin_path, false);
    gguf_free(pq); gguf_free(twin); gguf_free(src);
    ggml_free(out); ggml_free(src_ctx);
    if (!ok) throw std::runtime_error("cannot write the generated models");
    return res;
}

} // namespace pqgen
