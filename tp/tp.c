/* SPDX-License-Identifier: MIT */
/*
 * The TP run's entry: the recorder with its TP knob (recorder/record-tp.c).
 */
#include <errno.h>

#include "tp/epoch.h"
#include "tp/tp.h"

int
tp_record_log(const struct rec_options *opts, int *ret_status, char *dir_buf, size_t dir_len)
{
	struct rec_options o = *opts;
	struct rec_epoch_keeper keeper;
	struct tp_epochs *epochs = NULL;
	int r;

	o.tp_log = true;
	o.chaos = false; /* no schedule to shake */
	o.ticks = NULL;
	/* the checkpoints of its epochs are kept here (tp/epoch.h) */
	if (o.epoch_ms) {
		epochs = tp_epochs_new(&keeper);
		if (!epochs)
			return -ENOMEM;
		o.epochs = &keeper;
	}
	r = rec_record(&o, ret_status, dir_buf, dir_len);
	if (epochs)
		tp_epochs_log(epochs);
	tp_epochs_free(epochs);
	return r;
}
