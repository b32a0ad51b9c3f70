/*
 * clock.h - the two clocks clustershm uses.
 *
 * Monotonic time measures intervals inside one process (deadlines, how long
 * a heartbeat has not moved).  It is never compared across processes, so time
 * namespaces cannot fool a takeover decision.  Wall time is only published for
 * people (tended_at) and for the freshness of a map left by an earlier tender.
 */
#ifndef CSHM_CLOCK_H
#define CSHM_CLOCK_H

#include <stdint.h>
#include <time.h>

double cshm_mono_now(void);      /* seconds, CLOCK_MONOTONIC */
uint64_t cshm_wall_ms(void);     /* unix time in milliseconds */
struct timespec cshm_timespec_from_seconds(double seconds);

#endif
