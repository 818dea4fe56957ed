/* inifile: an INI file read through inih, with what inih's fixed line buffer cannot give: the line number
 * of every key for messages, and values of any length. inih (Debian's build) hands its parser lines of at
 * most INI_MAX_LINE (200) bytes; a longer key line reaches inih with its value parked here and is given
 * back whole, trimmed and stripped of an inline ';' comment exactly as inih treats a short one. Sections,
 * comments and syntax stay inih's. */
#ifndef IL_INIFILE_H
#define IL_INIFILE_H

#include <stdio.h>

/* Called for every key in file order; returns 0, or -1 with err_set() (which should name path:line). */
typedef int (*inifile_fn)(void *user, const char *section, const char *name, const char *value, int line);

/* Parses f (`path` names it in messages). Returns 0, or -1 with err_set(): the first error of the handler,
 * or "path:line: syntax error", or a read error. */
int inifile_parse(FILE *f, const char *path, inifile_fn fn, void *user);

#endif
