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

static void
put(const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(STDOUT_FILENO, s, len);

		if (w <= 0)
			_exit(2);
		s += w;
		len -= (size_t)w;
	}
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

int
main(int argc, char **argv)
{
	char line[64];
	long n, ms, polls = 4000;
	int i;

	if (argc != 4 && argc != 5)
		return 1;
	n = atol(argv[1]);
	ms = atol(argv[2]);
	if (argc == 5)
		polls = atol(argv[4]) * 200;
	put("line 0\n", 7);
	for (i = 0; access(argv[3], F_OK) < 0; i++) {
		if (i >= polls) {
			put("ack_lines: no ack\n", 18);
			return 3;
		}
		sleep_ms(5);
	}
	for (i = 1; i < n; i++) {
		int len = snprintf(line, sizeof(line), "line %d\n", i);

		sleep_ms(ms);
		put(line, (size_t)len);
	}
	put("ack_lines: acked\n", 17);
	return 0;
}
