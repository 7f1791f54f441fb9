/* core/file.h — files that must survive power loss.
 *
 * core_file_write_durable writes data to PATH.tmp, fsyncs it, renames it
 * over PATH and fsyncs the directory, so after a crash at any instant PATH
 * holds either its old content or the complete new one, and a completed
 * call is on disk (POSIX rename + directory fsync). With `exclusive` it
 * refuses to replace an existing PATH (COHORT_ERR_DUPLICATE) — for keys,
 * which must never be overwritten. Errors: COHORT_ERR_IO (eb names the
 * file and the system's reason), COHORT_ERR_DUPLICATE. The temporary file
 * is removed on failure. */
#ifndef COHORT_CORE_FILE_H
#define COHORT_CORE_FILE_H

#include <stddef.h>

#include "core/err.h"

int core_file_write_durable(const char *path, const void *data, size_t len, int mode,
                            int exclusive, core_errbuf *eb);

/* fsync the directory that holds path (after creating or renaming a file
 * in it). Returns 0 or COHORT_ERR_IO. */
int core_fsync_parent(const char *path, core_errbuf *eb);

#endif
