/* version: innerloop's release, in every tool's --version line; a program built against these headers
 * compares IL_VERSION_* (what it was compiled with) with il_version() (the library it runs with). */
#ifndef INNERLOOP_VERSION_H
#define INNERLOOP_VERSION_H

#define IL_VERSION_MAJOR 0
#define IL_VERSION_MINOR 5
#define IL_VERSION_PATCH 0
#define IL_VERSION_STR_(x) #x
#define IL_VERSION_STR(x) IL_VERSION_STR_(x)
#define IL_VERSION                                                                                        \
    IL_VERSION_STR(IL_VERSION_MAJOR) "." IL_VERSION_STR(IL_VERSION_MINOR) "." IL_VERSION_STR(IL_VERSION_PATCH)

/* The version of the library linked, "MAJOR.MINOR.PATCH". */
const char *il_version(void);

#endif
