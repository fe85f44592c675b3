# Cross-build for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu:
#   cmake -S . -B build/aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Binaries run on x86-64 under qemu-user (ctest does this through
# CMAKE_CROSSCOMPILING_EMULATOR): qemu-aarch64 -L /usr/aarch64-linux-gnu prog
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(POCKET_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER   ${POCKET_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${POCKET_CROSS_TRIPLE}-g++)

set(CMAKE_FIND_ROOT_PATH /usr/${POCKET_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(POCKET_QEMU_AARCH64 qemu-aarch64)
if (POCKET_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${POCKET_QEMU_AARCH64} -L /usr/${POCKET_CROSS_TRIPLE})
endif()
