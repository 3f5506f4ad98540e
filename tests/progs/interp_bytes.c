/* SPDX-License-Identifier: MIT */
/*
 * Prints the ELF header of its interpreter as mapped (AT_BASE): replay must
 * run the recorded loader's bytes, whatever file sits at its path now
 * (replay/replay.c restore_interpreter()). The e2e case changes unused
 * bytes of that header (e_ident's padding) between recording and replay.
 */
#include <elf.h>
#include <sys/auxv.h>

#include "progs.h"

int
main(void)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_BASE);
	char hex[2 * sizeof(Elf64_Ehdr) + 1];

	if (!base)
		die("no interpreter (AT_BASE is 0)");
	for (size_t i = 0; i < sizeof(Elf64_Ehdr); i++)
		snprintf(hex + 2 * i, 3, "%02x", base[i]);
	say("interpreter header: %s\n", hex);
	return 0;
}
