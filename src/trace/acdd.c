#include "trace/acdd.h"

#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/err.h"
#include "core/runlog.h"

static void put(int ncid, const char *name, const char *value)
{
    CHECK_RC(nc_put_att_text(ncid, NC_GLOBAL, name, strlen(value), value), nc_strerror);
}

/* $var, or fallback (NULL: leave the attribute out). */
static void put_env(int ncid, const char *name, const char *var, const char *fallback)
{
    const char *v = getenv(var);
    if (v && *v) put(ncid, name, v);
    else if (fallback) put(ncid, name, fallback);
}

void acdd_iso(double seconds, char *buf, size_t n)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void acdd_put(int ncid, const acdd_t *a)
{
    char now[32], buf[8192];
    acdd_iso((double)time(NULL), now, sizeof now);
    const char *commit = runlog_git_commit();
    put(ncid, "Conventions", "CF-1.10, ACDD-1.3");
    put(ncid, "title", a->title);
    put(ncid, "summary", a->summary);
    put(ncid, "keywords", "transformer, causal language model, meta-learning, training dynamics, representation norm, "
                          "logit lens, inner optimization");
    put(ncid, "id", a->id);
    snprintf(buf, sizeof buf, "%s: created by innerloop %s%s%s", now, commit, a->command ? ": " : "",
             a->command ? a->command : "");
    put(ncid, "history", buf);
    put(ncid, "date_created", now);
    snprintf(buf, sizeof buf, "innerloop %s", commit);
    put(ncid, "source", buf);
    const struct passwd *pw = getpwuid(getuid());
    put_env(ncid, "creator_name", "IL_CREATOR_NAME", pw && pw->pw_name ? pw->pw_name : "unknown");
    put_env(ncid, "creator_email", "IL_CREATOR_EMAIL", NULL);
    put_env(ncid, "creator_url", "IL_CREATOR_URL", NULL);
    put_env(ncid, "institution", "IL_INSTITUTION", "not specified");
    put_env(ncid, "license", "IL_LICENSE", "not specified");
    put(ncid, "references", "Wu and Varshney, A Meta-Learning Perspective on Transformers for Causal Language Modeling, "
                            "Findings of ACL 2024, https://arxiv.org/abs/2310.05884");
    put(ncid, "product_version", commit);
}

void acdd_time_coverage(int ncid, double start, double end)
{
    char buf[32];
    if (isfinite(start)) acdd_iso(start, buf, sizeof buf), put(ncid, "time_coverage_start", buf);
    if (isfinite(end)) acdd_iso(end, buf, sizeof buf), put(ncid, "time_coverage_end", buf);
}
