// The libFuzzer targets hand each input to loaders that take a path: the
// bytes go into a memfd, named by its /proc/self/fd path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

// fuzz_input_fd writes data into a new memfd called name and its path into
// path; the caller closes the returned fd. Aborts on failure: a harness
// error, not a finding.
static int fuzz_input_fd(const char * name, const uint8_t * data, size_t size, char (&path)[64]) {
    const int fd = memfd_create(name, 0);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        const ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) abort();
        off += (size_t) n;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return fd;
}
