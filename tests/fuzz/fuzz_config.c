/* fuzz_config.c: the JSON configuration parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct cfg c;
	char err[512];

	if (cfg_init(&c) != 0)
		abort();
	(void)cfg_parse(&c, (const char *)data, n, "fuzz", err, sizeof(err));
	cfg_free(&c);
	return 0;
}
