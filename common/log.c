/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level current_level = LOG_LEVEL_WARN;

void
log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

void
log_printf(enum log_level level, const char *prefix, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved = errno;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (prefix && *prefix)
		fprintf(stderr, "uprr: %s: %s\n", prefix, line);
	else
		fprintf(stderr, "uprr: %s\n", line);
	errno = saved;
}
