/* SPDX-License-Identifier: MIT */
/*
 * The TP run's entry: the recorder with its TP knob (recorder/record-tp.c).
 */
#include "tp/tp.h"

int
tp_record_log(const struct rec_options *opts, int *ret_status, char *dir_buf, size_t dir_len)
{
	struct rec_options o = *opts;

	o.tp_log = true;
	o.chaos = false; /* no schedule to shake */
	o.ticks = NULL;
	return rec_record(&o, ret_status, dir_buf, dir_len);
}
