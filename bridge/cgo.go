package bridge

// The libraries come from the CMake build (README "Build"), which must run first:
//   cmake -S . -B build/native -G Ninja && cmake --build build/native -j2
// Headers are those of the patched source copy in the same build folder, so a
// patch that changes llama.h or ggml.h is seen here.

/*
#cgo CFLAGS: -O2 -I${SRCDIR}/../build/native/ollama-src/llama/llama.cpp/include -I${SRCDIR}/../build/native/ollama-src/ml/backend/ggml/ggml/include
#cgo CXXFLAGS: -O2 -std=c++17
#cgo LDFLAGS: -L${SRCDIR}/../build/native/lib -lpocketllama -lstdc++ -lm -ldl -lpthread

#if !__has_include("pocket_build_id.h")
#error "bridge: libpocketllama is not built; run: cmake -S . -B build/native -G Ninja && cmake --build build/native -j2 (README, Build)"
#endif
#include "pocket_build_id.h"
#include "native.h"
*/
import "C"

// buildID identifies the libpocketllama.a this package was compiled against; it
// also makes Go rebuild (and re-test) the package whenever that archive changes.
const buildID = C.POCKET_NATIVE_BUILD_ID
