// What the benchmarks share: the weight shape they time (the FFN of a 7B Llama) and the clock.
#pragma once

#include <time.h>

#define K_IN  4096
#define N_OUT 11008

// CPU time of the calling thread: the development machines are shared, and wall time would
// count the time the scheduler gives to others.
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
