/* SPDX-License-Identifier: MIT */
/*
 * One logging header for the whole project (CRIU log.h, systemd log_error_errno).
 * Each .c file defines LOG_PREFIX before including it. Lower layers log at
 * debug level only; the CLI decides what the user sees.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>

/** Log levels, most severe first. */
enum log_level {
	LOG_LEVEL_ERROR = 0, /**< a failure the user must see */
	LOG_LEVEL_WARN,	     /**< something the user should know */
	LOG_LEVEL_INFO,	     /**< progress the user asked for (-v) */
	LOG_LEVEL_DEBUG,     /**< for developers (-vv, UPRR_LOG=debug) */
};

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

/** Set the most verbose level printed; default LOG_LEVEL_WARN. */
void log_set_level(enum log_level level);
/** The current level (to skip building expensive debug messages). */
enum log_level log_get_level(void);

/**
 * Print one line "uprr: [prefix] message" to stderr if @level is enabled.
 * Never fails; never changes errno.
 */
void log_printf(enum log_level level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_printf(LOG_LEVEL_ERROR, LOG_PREFIX, __VA_ARGS__)
#define log_warn(...) log_printf(LOG_LEVEL_WARN, LOG_PREFIX, __VA_ARGS__)
#define log_info(...) log_printf(LOG_LEVEL_INFO, LOG_PREFIX, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                  \
			log_printf(LOG_LEVEL_DEBUG, LOG_PREFIX, __VA_ARGS__); \
	} while (0)

/** Log at debug level with strerror(-r) appended and return @r (systemd). */
#define log_debug_errno(r, fmt, ...)                                            \
	({                                                                      \
		int _r = (r);                                                   \
		log_debug(fmt ": %s", ##__VA_ARGS__, strerror(_r < 0 ? -_r : _r)); \
		_r;                                                             \
	})
/** Log at error level with strerror(-r) appended and return @r. */
#define log_error_errno(r, fmt, ...)                                            \
	({                                                                      \
		int _r = (r);                                                   \
		log_error(fmt ": %s", ##__VA_ARGS__, strerror(_r < 0 ? -_r : _r)); \
		_r;                                                             \
	})

/** Always-on check of a supervisor invariant (CRIU BUG_ON): abort with location. */
#define BUG_ON(cond)                                                              \
	do {                                                                      \
		if (__builtin_expect(!!(cond), 0)) {                              \
			log_printf(LOG_LEVEL_ERROR, "BUG", "%s:%d: %s", __FILE__, \
				   __LINE__, #cond);                              \
			__builtin_trap();                                         \
		}                                                                 \
	} while (0)
