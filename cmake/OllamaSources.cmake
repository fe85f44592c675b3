# Makes a patched copy of the llama.cpp/ggml sources vendored in the Go module
# github.com/ollama/ollama (go.mod pins the version) under the build folder.
#
#   module cache (read-only) ──copy──► <build>/ollama-stage ──git apply series──►
#   ──copy only changed files──► <build>/ollama-src   (what the targets compile)
#
# The stage is rebuilt from scratch whenever the series, a patch in it, or the
# module version changes (a stamp of their hashes); syncing into ollama-src file by
# file keeps the timestamps of untouched files, so a patch edit recompiles only
# what it touches. CMake re-runs this by itself: the series and patches are
# configure dependencies.
#
# Output: POCKET_OLLAMA_SRC, the root of the patched tree (module layout).

set(POCKET_PATCH_DIR  ${PROJECT_SOURCE_DIR}/patches/llama.cpp)
set(POCKET_PATCH_SERIES ${POCKET_PATCH_DIR}/series)
# Subtrees of the module that the build and the patches may touch.
set(POCKET_OLLAMA_SUBTREES ml/backend/ggml/ggml llama/llama.cpp)

set(OLLAMA_MODULE_DIR "" CACHE PATH
    "Root of github.com/ollama/ollama sources; empty: ask `go list -m` in the project root")
if (OLLAMA_MODULE_DIR)
    set(_module_dir ${OLLAMA_MODULE_DIR})
else()
    find_program(POCKET_GO go HINTS /usr/local/go/bin REQUIRED)
    execute_process(
        COMMAND ${POCKET_GO} list -m -f "{{.Dir}}" github.com/ollama/ollama
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        OUTPUT_VARIABLE _module_dir OUTPUT_STRIP_TRAILING_WHITESPACE
        ERROR_VARIABLE _go_err RESULT_VARIABLE _go_rc)
    if (NOT _go_rc EQUAL 0 OR NOT _module_dir)
        message(FATAL_ERROR "cannot locate module github.com/ollama/ollama: `go list -m` said: ${_go_err}"
                            "Run `go mod download` (scripts/deps.sh) or pass -DOLLAMA_MODULE_DIR=...")
    endif()
endif()
foreach (sub ${POCKET_OLLAMA_SUBTREES})
    if (NOT IS_DIRECTORY ${_module_dir}/${sub})
        message(FATAL_ERROR "${_module_dir}/${sub} is missing: not an Ollama source tree?")
    endif()
endforeach()

# Read the series: one patch file name a line; # comments and blank lines ignored.
set(_patches "")
if (EXISTS ${POCKET_PATCH_SERIES})
    file(STRINGS ${POCKET_PATCH_SERIES} _lines)
    foreach (line IN LISTS _lines)
        string(STRIP "${line}" line)
        if (line STREQUAL "" OR line MATCHES "^#")
            continue()
        endif()
        if (NOT EXISTS ${POCKET_PATCH_DIR}/${line})
            message(FATAL_ERROR "${POCKET_PATCH_SERIES} names ${line}, which does not exist in ${POCKET_PATCH_DIR}")
        endif()
        list(APPEND _patches ${POCKET_PATCH_DIR}/${line})
    endforeach()
endif()
file(GLOB _all_patches ${POCKET_PATCH_DIR}/*.patch)
foreach (p IN LISTS _all_patches)
    if (NOT p IN_LIST _patches)
        message(WARNING "${p} is not in ${POCKET_PATCH_SERIES}: not applied")
    endif()
endforeach()
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    ${POCKET_PATCH_SERIES} ${_patches} ${_all_patches} ${PROJECT_SOURCE_DIR}/go.mod
    ${CMAKE_CURRENT_LIST_FILE})
# A patch added to the folder but not yet to the series must also re-run the glob.
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${POCKET_PATCH_DIR})

# Stamp: what the patched tree is a function of.
set(_stamp_text "module=${_module_dir}\nrecipe=")
file(SHA256 ${CMAKE_CURRENT_LIST_FILE} _h)
string(APPEND _stamp_text "${_h}\n")
foreach (p IN LISTS _patches)
    file(SHA256 ${p} _h)
    get_filename_component(_n ${p} NAME)
    string(APPEND _stamp_text "${_n}=${_h}\n")
endforeach()

# PocketGGUF kernels: ggml-ext/ holds their only copy; the patched tree compiles them from
# ggml/include/ggml-pq.h and ggml/src/pocket/ (patches/README.md), so they are part of it.
set(POCKET_KERNEL_FILES ${PROJECT_SOURCE_DIR}/ggml-ext/include/ggml-pq.h)
file(GLOB _pq_src ${PROJECT_SOURCE_DIR}/ggml-ext/src/*.c ${PROJECT_SOURCE_DIR}/ggml-ext/src/*.h)
list(APPEND POCKET_KERNEL_FILES ${_pq_src})
foreach (f IN LISTS POCKET_KERNEL_FILES)
    file(SHA256 ${f} _h)
    string(APPEND _stamp_text "${f}=${_h}\n")
endforeach()
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    ${POCKET_KERNEL_FILES} ${PROJECT_SOURCE_DIR}/ggml-ext/src)

set(POCKET_OLLAMA_SRC   ${CMAKE_BINARY_DIR}/ollama-src)
set(_stage              ${CMAKE_BINARY_DIR}/ollama-stage)
set(_stamp_file         ${POCKET_OLLAMA_SRC}/.pocket-patch-stamp)
set(_old_stamp "")
if (EXISTS ${_stamp_file})
    file(READ ${_stamp_file} _old_stamp)
endif()

if (NOT _old_stamp STREQUAL _stamp_text)
    list(LENGTH _patches _npatches)
    message(STATUS "Copying llama.cpp/ggml from ${_module_dir} and applying ${_npatches} patch(es)")
    file(REMOVE_RECURSE ${_stage})
    foreach (sub ${POCKET_OLLAMA_SUBTREES})
        get_filename_component(_parent ${_stage}/${sub} DIRECTORY)
        # The module cache is read-only: copy with ordinary permissions so patches can write.
        file(COPY ${_module_dir}/${sub} DESTINATION ${_parent} NO_SOURCE_PERMISSIONS)
    endforeach()

    find_program(POCKET_GIT git REQUIRED)
    foreach (p IN LISTS _patches)
        # GIT_CEILING_DIRECTORIES stops git from finding the project's own repository
        # above the build folder, which would make it resolve paths against that root.
        execute_process(
            COMMAND ${CMAKE_COMMAND} -E env GIT_CEILING_DIRECTORIES=${CMAKE_BINARY_DIR}
                    ${POCKET_GIT} apply -p1 --whitespace=nowarn ${p}
            WORKING_DIRECTORY ${_stage}
            RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
        if (NOT _rc EQUAL 0)
            file(REMOVE_RECURSE ${_stage})
            message(FATAL_ERROR "patch ${p} does not apply to ${_module_dir} (after the patches before it in the series):\n${_out}${_err}")
        endif()
        message(STATUS "  applied ${p}")
    endforeach()

    if (EXISTS ${PROJECT_SOURCE_DIR}/ggml-ext/include/ggml-pq.h)
        file(COPY ${PROJECT_SOURCE_DIR}/ggml-ext/include/ggml-pq.h DESTINATION ${_stage}/ml/backend/ggml/ggml/include)
        file(COPY ${_pq_src} DESTINATION ${_stage}/ml/backend/ggml/ggml/src/pocket)
    endif()

    # Sync stage → src, touching only files whose bytes differ.
    file(GLOB_RECURSE _new RELATIVE ${_stage} ${_stage}/*)
    set(_changed 0)
    foreach (f IN LISTS _new)
        if (EXISTS ${POCKET_OLLAMA_SRC}/${f})
            file(SHA256 ${POCKET_OLLAMA_SRC}/${f} _a)
            file(SHA256 ${_stage}/${f} _b)
            if (_a STREQUAL _b)
                continue()
            endif()
        endif()
        get_filename_component(_dir ${POCKET_OLLAMA_SRC}/${f} DIRECTORY)
        file(MAKE_DIRECTORY ${_dir})
        file(COPY_FILE ${_stage}/${f} ${POCKET_OLLAMA_SRC}/${f})
        math(EXPR _changed "${_changed} + 1")
    endforeach()
    if (EXISTS ${POCKET_OLLAMA_SRC})
        file(GLOB_RECURSE _old RELATIVE ${POCKET_OLLAMA_SRC} ${POCKET_OLLAMA_SRC}/*)
        foreach (f IN LISTS _old)
            if (NOT f IN_LIST _new AND NOT f STREQUAL ".pocket-patch-stamp")
                file(REMOVE ${POCKET_OLLAMA_SRC}/${f})
                math(EXPR _changed "${_changed} + 1")
            endif()
        endforeach()
    endif()
    file(REMOVE_RECURSE ${_stage})
    file(WRITE ${_stamp_file} "${_stamp_text}")
    message(STATUS "Patched sources in ${POCKET_OLLAMA_SRC}: ${_changed} file(s) changed")
endif()
