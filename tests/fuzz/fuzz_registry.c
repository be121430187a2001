/* fuzz_registry.c: the registry (api.json) parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct reg *r = NULL;
	char err[512];

	if (reg_parse((const char *)data, n, "fuzz", &r, err,
	    sizeof(err)) == 0) {
		if (r->nexps > 0 && reg_exp_by_id(r, r->exps[0].id) == NULL)
			abort();
		reg_free(r);
	}
	return 0;
}
