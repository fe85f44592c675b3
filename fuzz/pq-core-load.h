// The PocketGGUF part of the model load path without the rest of libllama:
// gguf_init_from_file (ggml's container parser), tensor data into a CPU
// backend buffer, llama_pocket_attach (patch 0003: pocket.* validation and
// LUT build, compiled from the patched llama-pocket.cpp) and a ggml-cpu
// graph that uses every PQ tensor the way llama's graphs do: mul_mat of
// 2-D weights (batch of 3 and a single column: tiled and vec_dot paths),
// get_rows, and ggml_mul for 1-D (norm) weights. A sanitizer build of this
// is ~25 files; the same checks inside a full libllama are pocket-load.
#pragma once

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "gguf.h"
#include "llama-pocket.h"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

enum pq_core_result { PQ_CORE_REFUSED = 0, PQ_CORE_RAN = 1 };

static pq_core_result pq_core_load_and_run(const char * path, std::string & why) {
    why.clear();
    ggml_context * meta = nullptr;
    gguf_init_params gp = {/*no_alloc =*/ true, /*ctx =*/ &meta};
    gguf_context * gg = gguf_init_from_file(path, gp);
    if (!gg) { why = "gguf_init_from_file failed"; return PQ_CORE_REFUSED; }
    pq_core_result res = PQ_CORE_REFUSED;
    ggml_backend_buffer_t buf = nullptr;
    FILE * f = fopen(path, "rb");
    llama_pocket_tables_ptr tables;
    long fsize = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    // as llama_model_loader does, before allocating: every tensor's data inside the file
    for (int64_t i = 0; i < gguf_get_n_tensors(gg) && fsize >= 0; i++) {
        ggml_tensor * t = ggml_get_tensor(meta, gguf_get_tensor_name(gg, i));
        const size_t off = gguf_get_data_offset(gg) + gguf_get_tensor_offset(gg, i);
        if (!t || off > (size_t) fsize || ggml_nbytes(t) > (size_t) fsize - off) { why = "tensor data is not within the file bounds"; goto done; }
    }
    buf = ggml_backend_alloc_ctx_tensors_from_buft(meta, ggml_backend_cpu_buffer_type());
    if (!buf || !f) { why = "cannot allocate or open"; goto done; }
    for (int64_t i = 0; i < gguf_get_n_tensors(gg); i++) {
        ggml_tensor * t = ggml_get_tensor(meta, gguf_get_tensor_name(gg, i));
        const size_t off = gguf_get_data_offset(gg) + gguf_get_tensor_offset(gg, i);
        if (!t || fseek(f, (long) off, SEEK_SET) != 0 || fread(t->data, 1, ggml_nbytes(t), f) != ggml_nbytes(t)) {
            why = "tensor data missing"; goto done;
        }
    }
    try {
        llama_pocket_attach(tables, gg, meta);
    } catch (const std::exception & e) {
        why = e.what(); goto done;
    }
    {
        // inputs, outputs and graph of the ops below, sized from the tensors (a fixed
        // 64 MiB arena made each fuzz input cost an ASan-poisoned 64 MiB allocation)
        size_t need = ggml_graph_overhead_custom(4096, false) + (1u << 20);
        for (ggml_tensor * w = ggml_get_first_tensor(meta); w; w = ggml_get_next_tensor(meta, w)) {
            need += 8 * ggml_tensor_overhead() + sizeof(float) * (size_t) (6 * w->ne[0] + 4 * w->ne[1] + 8) * (size_t) (w->ne[2] * w->ne[3]);
        }
        ggml_init_params cp = {/*mem_size =*/ need, /*mem_buffer =*/ nullptr, /*no_alloc =*/ false};
        ggml_context * ctx = ggml_init(cp);
        ggml_cgraph * gf = ggml_new_graph_custom(ctx, 4096, false);
        for (ggml_tensor * w = ggml_get_first_tensor(meta); w; w = ggml_get_next_tensor(meta, w)) {
            if (w->type < 100 || w->type > 106 || ggml_nelements(w) == 0) continue;  // PQ type ids (docs/FORMAT.md)
            if (ggml_n_dims(w) >= 2) {
                for (int cols : {3, 1}) {  // a batch (tiled mul_mat) and one token (vec_dot)
                    ggml_tensor * x = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, w->ne[0], cols, w->ne[2], w->ne[3]);
                    for (int64_t j = 0; j < ggml_nelements(x); j++) ((float *) x->data)[j] = 0.25f * (float) (j % 7) - 0.5f;
                    ggml_build_forward_expand(gf, ggml_mul_mat(ctx, w, x));
                }
                if (w->ne[2] == 1 && w->ne[3] == 1) {  // an embedding lookup: first and last row
                    ggml_tensor * rows = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, 2);
                    ((int32_t *) rows->data)[0] = 0;
                    ((int32_t *) rows->data)[1] = (int32_t) (w->ne[1] - 1);
                    ggml_build_forward_expand(gf, ggml_get_rows(ctx, w, rows));
                }
            } else {
                ggml_tensor * x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, w->ne[0]);
                for (int64_t j = 0; j < w->ne[0]; j++) ((float *) x->data)[j] = 1.0f;
                ggml_build_forward_expand(gf, ggml_mul(ctx, x, w));  // as llama's build_norm
            }
        }
        ggml_graph_compute_with_ctx(ctx, gf, 1);
        ggml_free(ctx);
        res = PQ_CORE_RAN;
    }
done:
    if (f) fclose(f);
    tables.reset();
    if (buf) ggml_backend_buffer_free(buf);
    ggml_free(meta);
    gguf_free(gg);
    return res;
}
