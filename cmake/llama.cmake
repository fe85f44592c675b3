# libllama from the patched copy. The module has no CMake file for it, so this
# globs the sources the way upstream's src/CMakeLists.txt lists them (src/*.cpp
# plus src/models/*.cpp); common/ and tools/ are not needed by the bridge.

set(POCKET_LLAMA_DIR ${POCKET_OLLAMA_SRC}/llama/llama.cpp)

file(GLOB POCKET_LLAMA_CORE_SOURCES   ${POCKET_LLAMA_DIR}/src/*.cpp)
file(GLOB POCKET_LLAMA_MODEL_SOURCES  ${POCKET_LLAMA_DIR}/src/models/*.cpp)
if (NOT POCKET_LLAMA_CORE_SOURCES OR NOT POCKET_LLAMA_MODEL_SOURCES)
    message(FATAL_ERROR "no libllama sources under ${POCKET_LLAMA_DIR}/src")
endif()

add_library(llama STATIC ${POCKET_LLAMA_CORE_SOURCES} ${POCKET_LLAMA_MODEL_SOURCES})
target_include_directories(llama
    PUBLIC  ${POCKET_LLAMA_DIR}/include
    PRIVATE ${POCKET_LLAMA_DIR}/src)
target_compile_features(llama PUBLIC cxx_std_17)
target_link_libraries(llama PUBLIC ggml)

# The ~100 model graph builders are small files that mostly parse the same
# headers; compiling them in batches (a unity build) cuts a cold build's CPU time.
# The core files, which patches touch, stay separate for fast rebuilds.
option(POCKET_UNITY_MODELS "compile libllama's src/models/*.cpp in batches" ON)
if (POCKET_UNITY_MODELS)
    set_source_files_properties(${POCKET_LLAMA_CORE_SOURCES} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
    set_target_properties(llama PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE BATCH UNITY_BUILD_BATCH_SIZE 25)
endif()
