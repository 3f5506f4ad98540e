/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the test programs in tests/progs/. Each program prints
 * what it observed, so that the end-to-end harness can compare the output of
 * a recording with the output of its replay byte for byte.
 *
 * Output goes through say(), one write(2) per line and no stdio buffering, so
 * a program that crashes still shows every line it printed before the crash.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

__attribute__((format(printf, 1, 2))) static inline void
say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t off = 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	while (off < (size_t)n) {
		ssize_t w = write(STDOUT_FILENO, buf + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A seed that differs from run to run natively: getrandom(2), or the clock
 * where getrandom is missing. In replay both are recorded determinants. */
static inline uint64_t
random_seed(void)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), 0) == sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
}

/* xorshift64*: small and good enough for choosing sleeps. */
static inline uint64_t
rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline void
sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Add 1 to *@counter without a lock: a read, @window turns of a loop (where
 * another thread's increment may come and be lost), a write back. */
static inline void
racy_add(volatile uint64_t *counter, int window)
{
	uint64_t v = *counter;

	for (volatile int w = 0; w < window; w++)
		;
	*counter = v + 1;
}

/* FNV-1a, to print checksums of data the program moved around. */
static inline uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV1A_INIT 0xcbf29ce484222325ull
