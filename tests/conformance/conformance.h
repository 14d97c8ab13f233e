/*
 * What every conformance program shares: one line per rule, "rule=result", where a
 * result is a return value or -errno.
 */
#ifndef LINUXAIO_CONFORMANCE_H
#define LINUXAIO_CONFORMANCE_H

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define SHOW(name, v) printf("%s=%ld\n", name, (long)(v))

/* A raw system call's result as the program sees it: the value, or -errno. */
static inline long r(long v) { return v < 0 ? -errno : v; }

/* A signal handler that does nothing but interrupt. */
static inline void on_alarm(int sig) { (void)sig; }

static inline long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

#endif
