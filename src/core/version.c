#include "innerloop/version.h"

const char *il_version(void) { return IL_VERSION; }
