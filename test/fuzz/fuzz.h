/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one entry point every harness in test/fuzz/ defines, as libFuzzer
 * calls it. With RB_FUZZ (clang) the harnesses link libFuzzer; otherwise
 * replay.c's main() feeds them the files of their committed corpus, so
 * both ordinary builds (and the sanitizer build) run every seed as a test.
 */
#ifndef RB_FUZZ_H
#define RB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
