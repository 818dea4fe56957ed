/* config: the trainer's config keys, as a config file, `--set section.key=value`, a run's config.ini and a
 * trace file's `config` attribute spell them (README.md's key table is generated from the same table). */
#ifndef INNERLOOP_CONFIG_H
#define INNERLOOP_CONFIG_H

#include <stddef.h>

typedef struct {
    const char *section, *name; /* the key is "section.name" */
    const char *type;           /* "int", "uint64", "float", "string", "yes/no" */
    const char *def;            /* the default as a file spells it; "" for none */
    const char *help;
} il_key_t;

/* The i-th key of the table (i from 0): 0, or -1 past the last one. */
int il_config_key(size_t i, il_key_t *k);

#endif
