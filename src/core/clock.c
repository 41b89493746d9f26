/* Wall-clock and monotonic clock readings (see clock.h). */
#include "core/clock.h"

#include <time.h>

static int64_t
read_us(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
oss_now_ms(void) {
    return read_us(CLOCK_REALTIME) / 1000;
}

int64_t
oss_now_us(void) {
    return read_us(CLOCK_REALTIME);
}

int64_t
oss_mono_ms(void) {
    return read_us(CLOCK_MONOTONIC) / 1000;
}
