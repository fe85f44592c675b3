# Builds ggml (base + CPU backend) from the patched copy with ggml's own
# src/CMakeLists.txt. The module lacks ggml's top-level CMakeLists.txt, so this
# sets what that file and Ollama's root CMakeLists.txt normally set, following
# Ollama v0.17.4's choices (llamafile sgemm on, OpenMP off, no repacking).

set(POCKET_GGML_DIR ${POCKET_OLLAMA_SRC}/ml/backend/ggml/ggml)

find_package(Threads REQUIRED)

set(GGML_VERSION_MAJOR 0)
set(GGML_VERSION_MINOR 0)
set(GGML_VERSION_PATCH 0)
set(GGML_VERSION "${GGML_VERSION_MAJOR}.${GGML_VERSION_MINOR}.${GGML_VERSION_PATCH}")
set(GGML_SCHED_MAX_COPIES 4)

set(BUILD_SHARED_LIBS OFF)   # static: one archive for cgo, no rpath games
set(GGML_BACKEND_DL   OFF)   # the CPU backend is linked in and registered statically
set(GGML_CPU          ON)
set(GGML_CPU_ALL_VARIANTS OFF)

option(GGML_LLAMAFILE  "ggml: llamafile sgemm for F32/F16/BF16 mat-muls (Ollama: on)" ON)
option(GGML_OPENMP     "ggml: OpenMP thread pool instead of ggml's own (Ollama: off)" OFF)
option(GGML_CPU_REPACK "ggml: repack Q4_0/IQ4_NL weights into interleaved layouts (Ollama: off)" OFF)

# Instruction sets. x86-64: Haswell level (AVX2/FMA/F16C/BMI2) unless POCKET_NATIVE
# asks for -march=native; fixed flags keep results the same on every CI machine.
# aarch64: GGML_CPU_ARM_ARCH, the -march value (armv8.2-a+dotprod+fp16 covers
# Cortex-A55/A76 and later, Graviton 2+, Raspberry Pi 5; use armv8-a for a Pi 4).
option(POCKET_NATIVE "x86-64: compile ggml-cpu with -march=native instead of the Haswell set" OFF)
set(GGML_CPU_ARM_ARCH "armv8.2-a+dotprod+fp16" CACHE STRING "aarch64: -march for ggml-cpu")
set(GGML_NATIVE ${POCKET_NATIVE})
if (NOT POCKET_NATIVE)
    foreach (feat SSE42 AVX AVX2 BMI2 FMA F16C)
        set(GGML_${feat} ON)
    endforeach()
endif()

# ggml.c returns these from ggml_version()/ggml_commit().
add_compile_definitions(GGML_VERSION="ollama-v0.17.4" GGML_COMMIT="ec98e2002")

add_subdirectory(${POCKET_GGML_DIR}/src ${CMAKE_BINARY_DIR}/ggml)
