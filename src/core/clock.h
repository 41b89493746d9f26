/* Clocks: wall time (CLOCK_REALTIME) for timestamps, monotonic time
 * (CLOCK_MONOTONIC) for intervals and deadlines. Pure libc; reentrant. */
#ifndef OSS_CORE_CLOCK_H
#define OSS_CORE_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t oss_now_ms(void);
/* Wall-clock microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t oss_now_us(void);
/* Monotonic milliseconds from an arbitrary origin (CLOCK_MONOTONIC): use it
 * for intervals and timeouts, never as a timestamp. */
int64_t oss_mono_ms(void);

#endif
