# libllama from the patched copy. The module has no CMake file for it, so this
# globs the sources the way upstream's src/CMakeLists.txt lists them (src/*.cpp
# plus src/models/*.cpp); common/ and tools/ are not needed by the bridge.

set(POCKET_LLAMA_DIR ${POCKET_OLLAMA_SRC}/llama/llama.cpp)

file(GLOB POCKET_LLAMA_SOURCES
    ${POCKET_LLAMA_DIR}/src/*.cpp
    ${POCKET_LLAMA_DIR}/src/models/*.cpp)
if (NOT POCKET_LLAMA_SOURCES)
    message(FATAL_ERROR "no libllama sources under ${POCKET_LLAMA_DIR}/src")
endif()

add_library(llama STATIC ${POCKET_LLAMA_SOURCES})
target_include_directories(llama
    PUBLIC  ${POCKET_LLAMA_DIR}/include
    PRIVATE ${POCKET_LLAMA_DIR}/src)
target_compile_features(llama PUBLIC cxx_std_17)
target_link_libraries(llama PUBLIC ggml)
