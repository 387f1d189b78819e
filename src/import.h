/*
 * import: `orchidctl import TENANT FILE|-`. Reads an export stream (the
 * bulk format, bulk.h) from a file or standard input in chunks, in
 * constant memory whatever the size of the input, and applies each
 * operation to the tenant as POST /v0 would: one transaction per
 * operation committed without a log flush, one flush per batch and at the
 * end; checks the stream's end line, which tells a whole export from a
 * truncated one. Works beside a running orchidd (it is one more process of
 * the environment) and without one.
 */
#ifndef ORCHID_IMPORT_H
#define ORCHID_IMPORT_H

struct config;
struct store;

/*
 * Imports path ("-": standard input) into the existing tenant called
 * tenant. Prints a summary and the first failures on standard output, a
 * progress line on standard error when it is a terminal; SIGINT and
 * SIGTERM stop it between two operations (what was applied stays, and is
 * flushed). Checks the export's end line ({"kind":"end","lines":N}): it
 * must follow exactly N operations and end the stream (an operation after
 * it stops the import, unapplied); a stream without one gets a warning on
 * standard error (it may be truncated) and no more. Returns the exit
 * status: 0 when every operation succeeded, 1 otherwise (an operation
 * failed, the end line is wrong or not last, the input or the store
 * failed, or it was stopped).
 */
int import_run(struct store *s, const struct config *cfg, const char *tenant,
    const char *path);

#endif
