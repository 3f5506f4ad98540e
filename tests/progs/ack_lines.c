/* SPDX-License-Identifier: MIT */
/*
 * ack_lines N MS ACK [WAIT_S]: writes "line 0" to stdout, then waits (polling
 * every 5 ms, at most WAIT_S seconds, 20 by default) for the file ACK to exist, which a reader of stdout
 * outside the recording makes once it read line 0; then writes "line 1" to
 * "line N-1", one every MS ms, and "ack_lines: acked". A reader that gets
 * line 0 only when the program ends (output held for the whole run)
 * never acknowledges it in time: "ack_lines: no ack", exit 3. With
 * `uprr record --mode=tp --epoch=MS` the line goes out once its epoch is
 * checked, while the program runs (lock-step, doc/uniparallel.md).
 */
#include <time.h>
#include <unistd.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	long n, ms, polls = 4000;
	int i;

	if (argc != 4 && argc != 5)
		return 1;
	n = atol(argv[1]);
	ms = atol(argv[2]);
	if (argc == 5)
		polls = atol(argv[4]) * 200;
	say("line 0\n");
	for (i = 0; access(argv[3], F_OK) < 0; i++) {
		if (i >= polls) {
			say("ack_lines: no ack\n");
			return 3;
		}
		sleep_us((unsigned)(5) * 1000u);
	}
	for (i = 1; i < n; i++) {
		sleep_us((unsigned)(ms) * 1000u);
		say("line %d\n", i);
	}
	say("ack_lines: acked\n");
	return 0;
}
