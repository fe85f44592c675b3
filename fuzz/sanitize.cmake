# Sanitizer and fuzzing builds (docs/RELIABILITY.md, scripts/reliability.sh).
# Included by the root CMakeLists.txt before any target exists, so every
# target — ggml, ggml-cpu with the PQ kernels, libllama, ggml-ext — gets the flags.
#
#   -DPOCKET_SANITIZE=ON   AddressSanitizer + UndefinedBehaviorSanitizer (build/asan)
#   -DPOCKET_FUZZ=ON       also libFuzzer coverage and the fuzz-load target (clang only)
option(POCKET_SANITIZE "build everything with -fsanitize=address,undefined" OFF)
option(POCKET_FUZZ "with POCKET_SANITIZE: libFuzzer instrumentation and fuzz targets (clang)" OFF)

if (POCKET_SANITIZE)
    set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    # ggml reads unaligned fp16/block data on purpose (x86 allows it); not a bug here
    list(APPEND _san -fno-sanitize=alignment)
    add_compile_options(${_san})
    add_link_options(-fsanitize=address,undefined)
    if (POCKET_FUZZ)
        if (NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
            message(FATAL_ERROR "POCKET_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
        endif()
        add_compile_options(-fsanitize=fuzzer-no-link)
    endif()
    # -O0 with line tables: a full sanitizer build of libllama must fit a CI job on 2 cores
    # (-O2 -g took over 1 min per llama.cpp file there); the corpus and fuzz inputs are tiny.
    # NDEBUG as in the release builds users run: ggml's debug-only assert(!isnan(sum)) in
    # ggml_vec_dot_f16 would otherwise stop on any file whose weights overflow (GGML_ASSERT stays).
    set(CMAKE_BUILD_TYPE Debug CACHE STRING "Build type" FORCE)
    set(CMAKE_C_FLAGS_DEBUG "-O0 -g1 -DNDEBUG" CACHE STRING "" FORCE)
    set(CMAKE_CXX_FLAGS_DEBUG "-O0 -g1 -DNDEBUG" CACHE STRING "" FORCE)
endif()
