/* core/file.c — durable file writes (see file.h). */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int core_fsync_parent(const char *path, core_errbuf *eb) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
  int bad = dfd < 0 || fsync(dfd) != 0;
  int e = errno;
  if (dfd >= 0) close(dfd);
  if (bad)
    return core_errf(eb, COHORT_ERR_IO, "cannot fsync the directory of %.200s: %s", path,
                     strerror(e));
  return COHORT_OK;
}

int core_file_write_durable(const char *path, const void *data, size_t len, int mode,
                            int exclusive, core_errbuf *eb) {
  char tmp[PATH_MAX];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
    return core_errf(eb, COHORT_ERR_IO, "path too long: %.200s", path);
  if (exclusive && access(path, F_OK) == 0)
    return core_errf(eb, COHORT_ERR_DUPLICATE, "%.200s exists already; not replacing it", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return core_errf(eb, COHORT_ERR_IO, "cannot create %.200s: %s", tmp, strerror(errno));
  const char *p = data;
  size_t left = len;
  int bad = 0;
  while (left && !bad) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) bad = 1;
    else p += w, left -= (size_t)w;
  }
  if (!bad && fsync(fd) != 0) bad = 1;
  int e = errno;
  close(fd);
  if (!bad) {
    /* link() refuses to replace: an exclusive write cannot race another. */
    if (exclusive ? link(tmp, path) != 0 : rename(tmp, path) != 0) bad = 1, e = errno;
    if (exclusive) unlink(tmp);
  }
  if (bad) {
    unlink(tmp);
    if (exclusive && e == EEXIST)
      return core_errf(eb, COHORT_ERR_DUPLICATE, "%.200s exists already; not replacing it", path);
    return core_errf(eb, COHORT_ERR_IO, "cannot write %.200s: %s", path, strerror(e));
  }
  return core_fsync_parent(path, eb);
}
