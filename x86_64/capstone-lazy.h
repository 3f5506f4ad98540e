/* SPDX-License-Identifier: MIT */
/*
 * The capstone functions x86_64/ calls, loaded at their first use
 * (common/lazylib.h): only a recording that counts ticks in code, or a
 * trapped instruction that is not a plain rdtsc or rdtscp, needs capstone.
 * Private to x86_64/.
 */
#pragma once

#include <capstone/capstone.h>

/** capstone's API as function pointers (capstone.h for each). */
struct arch_capstone {
	cs_err (*open)(cs_arch arch, cs_mode mode, csh *handle);
	cs_err (*close)(csh *handle);
	cs_err (*option)(csh handle, cs_opt_type type, size_t value);
	size_t (*disasm)(csh handle, const uint8_t *code, size_t code_size, uint64_t address,
			 size_t count, cs_insn **insn);
	bool (*disasm_iter)(csh handle, const uint8_t **code, size_t *size, uint64_t *address,
			    cs_insn *insn);
	cs_insn *(*malloc)(csh handle);
	void (*free)(cs_insn *insn, size_t count);
	bool (*insn_group)(csh handle, const cs_insn *insn, unsigned int group_id);
};

/**
 * capstone, loaded by the first call (dlopen(3) of libcapstone.so.MAJOR,
 * the soname capstone's build gives its API major version). NULL if it
 * cannot be loaded (logged at debug level).
 */
const struct arch_capstone *arch_capstone(void);
