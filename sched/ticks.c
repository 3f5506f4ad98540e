/* SPDX-License-Identifier: MIT */
/* Tick sources: names, parsing, and choosing one for "auto". */
#define LOG_PREFIX "ticks"
#include "sched/ticks.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "sched/ticks-private.h"

/* clang-format off */
static const char *const source_names[] = {
	[TICKS_SOURCE_NONE] = "none",
	[TICKS_SOURCE_SOFT] = "soft",
	[TICKS_SOURCE_PMU]  = "pmu",
};
/* clang-format on */

const char *
ticks_source_name(enum ticks_source s)
{
	if ((size_t)s >= ARRAY_SIZE(source_names))
		return "?";
	return source_names[s];
}

int
ticks_source_parse(const char *s, enum ticks_source *ret_source, bool *ret_auto)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "auto") == 0) {
		*ret_source = TICKS_SOURCE_NONE;
		*ret_auto = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(source_names); i++)
		if (strcmp(s, source_names[i]) == 0) {
			*ret_source = (enum ticks_source)i;
			*ret_auto = false;
			return 0;
		}
	return -EINVAL;
}

enum ticks_source
ticks_source_auto(void)
{
	char why[256];
	int r;

	/* every `uprr record` resolves "auto": without hardware counters it
	 * is soft at once, without loading libpfm4 (0.3 ms on this VM) */
	r = ticks_pmu_kernel_has_counters(why, sizeof(why));
	if (r == 0)
		r = ticks_pmu_probe(why, sizeof(why));
	if (r < 0) {
		log_debug("no PMU tick counter (%s): counting soft ticks", why);
		return TICKS_SOURCE_SOFT;
	}
	return TICKS_SOURCE_PMU;
}
