// Screens fuzz inputs for one known upstream behaviour: ggml's gguf.cpp sizes a
// std::string or array from the length the file claims before checking it
// against the file (it relies on catching std::bad_alloc). Under ASan a
// throwing operator new that cannot allocate is reported as a fatal
// out-of-memory, so a libFuzzer run would stop at the first such input and
// never reach the PocketGGUF code. This walks the header and reports whether
// every string/array length fits in the bytes left; the fuzz targets skip
// inputs where one does not, and (second known upstream abort, found by this
// target) inputs with an empty metadata key, which hit GGML_ASSERT(!key.empty()), and
// (third) a tensor dimension of 0, which divides by zero in gguf.cpp's overflow check. (The Go reader refuses such files without
// allocating; SECURITY.md lists the upstream behaviour.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

static bool gguf_lengths_fit(const uint8_t * p, size_t n) {
    size_t off = 0;
    auto take = [&](void * dst, size_t k) { if (n - off < k) return false; memcpy(dst, p + off, k); off += k; return true; };
    auto u32 = [&](uint32_t & x) { return take(&x, 4); };
    auto u64 = [&](uint64_t & x) { return take(&x, 8); };
    // str(): 1 fits, 0 claims more than is left (would allocate it), -1 header cut short
    // (gguf.cpp refuses that itself before allocating)
    auto str = [&]() -> int { uint64_t len; if (!u64(len)) return -1; if (len > n - off) return 0; off += len; return 1; };
    auto scalar = [](uint32_t t) -> size_t {
        switch (t) { case 0: case 1: case 7: return 1; case 2: case 3: return 2; case 4: case 5: case 6: return 4;
                     case 10: case 11: case 12: return 8; default: return 0; }
    };
    uint32_t magic, version; uint64_t n_tensors, n_kv;
    if (!u32(magic) || !u32(version) || !u64(n_tensors) || !u64(n_kv)) return true;  // gguf.cpp refuses these itself
    for (uint64_t i = 0; i < n_kv; i++) {
        uint32_t t;
        if (n - off >= 8) {  // a zero-length key aborts gguf.cpp: GGML_ASSERT(!key.empty()) in gguf_kv
            uint64_t len; memcpy(&len, p + off, 8);
            if (len == 0) return false;
        }
        const int k = str();
        if (k <= 0) return k < 0;
        if (!u32(t)) return true;
        if (t == 8) { const int v = str(); if (v <= 0) return v < 0; continue; }
        if (t == 9) {
            uint32_t et; uint64_t cnt;
            if (!u32(et) || !u64(cnt)) return true;
            if (et == 8) {
                for (uint64_t j = 0; j < cnt; j++) { const int v = str(); if (v <= 0) return v < 0; }
                continue;
            }
            const size_t sz = scalar(et);
            if (sz == 0) return true;                     // refused by gguf.cpp before allocating
            if (cnt > (n - off) / sz) return false;
            off += cnt * sz;
            continue;
        }
        const size_t sz = scalar(t);
        if (sz == 0 || n - off < sz) return true;
        off += sz;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        const int v = str();
        if (v <= 0) return v < 0;
        uint32_t nd;
        if (!u32(nd) || nd > 4) return true;
        if (n - off < 8ull * nd + 12) return true;
        for (uint32_t j = 0; j < nd; j++) {  // a zero dimension: SIGFPE in gguf.cpp's INT64_MAX/ne[j] check
            uint64_t d; memcpy(&d, p + off + 8 * j, 8);
            if (d == 0) return false;
        }
        off += 8ull * nd + 12;
    }
    return true;
}
