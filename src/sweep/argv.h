/* argv: a growing, NULL-terminated argument vector for execvp, so that commands are built value by value
 * and no value ever passes through a shell. */
#ifndef IL_SWEEP_ARGV_H
#define IL_SWEEP_ARGV_H

typedef struct {
    char **v; /* NULL-terminated once anything was added */
    int n;
} argv_t;

/* Appends one argument, formatted printf-style. */
void argv_add(argv_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void argv_free(argv_t *a);
/* Prints the vector on one line as a shell would need it quoted, for --dry-run listings only. */
void argv_print(const argv_t *a);

#endif
