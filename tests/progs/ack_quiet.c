/* SPDX-License-Identifier: MIT */
/*
 * ack_quiet N MS ACK WAIT_MS: writes "line 0" to stdout, waits for the file
 * ACK.0 to exist (looking every ms, at most WAIT_MS ms), which a reader of
 * stdout outside the recording makes once it read line 0; then computes
 * for about MS ms with no output (MS rounds of a thousand xorshift steps and
 * a 1 ms nanosleep(2)), and writes "line 1", waits for ACK.1, and so on up
 * to "line N-1"; then "ack_quiet: done SUM". A line held until its epoch is
 * checked must go out while the program waits for it: a reader that gets it
 * only later never acknowledges it in time ("ack_quiet: no ack for line I",
 * exit 3). For `uprr record --mode=tp --epoch=auto` (e2e tp-epoch-adaptive):
 * each line is to go out soon after it is written, and the quiet MS ms
 * between two lines to take few epochs.
 */
#include <time.h>
#include <unistd.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	char ack[4096];
	uint64_t x = 88172645463325252ull, sum = 0;
	long n, ms, wait_ms;

	if (argc != 5)
		return 1;
	n = atol(argv[1]);
	ms = atol(argv[2]);
	wait_ms = atol(argv[4]);
	for (long i = 0; i < n; i++) {
		say("line %ld\n", i);
		if (snprintf(ack, sizeof(ack), "%s.%ld", argv[3], i) >= (int)sizeof(ack))
			return 1;
		for (long w = 0; access(ack, F_OK) < 0; w++) {
			if (w >= wait_ms) {
				say("ack_quiet: no ack for line %ld\n", i);
				return 3;
			}
			sleep_us((unsigned)(1) * 1000u);
		}
		if (i == n - 1)
			break;
		/* the quiet part: computation, and calls, but no output */
		for (long r = 0; r < ms; r++) {
			for (int s = 0; s < 1000; s++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
			}
			sum += x & 0xff;
			sleep_us((unsigned)(1) * 1000u);
		}
	}
	say("ack_quiet: done %llu\n", (unsigned long long)sum);
	return 0;
}
