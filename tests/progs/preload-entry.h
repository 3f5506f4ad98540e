/* SPDX-License-Identifier: MIT */
/*
 * For the test programs of the syscall buffer: make a syscall through the
 * entry of uprr's preload library when uprr mapped it (recording and replay),
 * else through syscall(2) (a native run), with one calling convention.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/uprr-preload.h"
#include "progs.h"

typedef long (*sys_fn)(long, long, long, long, long, long, long);

/* The library's entry, or native(); set by find_library(). */
static __attribute__((unused)) sys_fn g_sys;

/* syscall(2) with the kernel's convention: -errno on failure. */
static __attribute__((unused)) long
native(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long r = syscall(nr, a0, a1, a2, a3, a4, a5);

	return r < 0 ? -errno : r;
}

/* Whether uprr mapped its library here (msync(2) fails with ENOMEM where
 * nothing is mapped). */
static inline int
library_mapped(void)
{
	const volatile struct uprr_ctl *ctl = (const void *)UPRR_PRELOAD_CTL_ADDR;

	return msync((void *)UPRR_PRELOAD_CTL_ADDR, 4096, MS_ASYNC) == 0 && ctl->magic == UPRR_PRELOAD_MAGIC;
}

/* g_sys: the library's entry if uprr mapped it, else the kernel's. */
static __attribute__((unused)) void
find_library(void)
{
	g_sys = library_mapped() ? (sys_fn)(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_SYSCALL) : native;
}

/* One line to stdout through g_sys (a buffered write when uprr runs it),
 * up to 255 bytes. */
static __attribute__((unused, format(printf, 1, 2))) void
lib_say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && g_sys(__NR_write, 1, (long)buf, n < 255 ? n : 255, 0, 0, 0) != (n < 255 ? n : 255))
		die("write to stdout failed");
}
