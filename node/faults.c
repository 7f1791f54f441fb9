/* node/faults.c — see faults.h. Test builds only. */
#ifdef COHORT_RELEASE
#error "fault injection must not be compiled into a release build"
#endif
#include "node/faults.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char point_name[64];
static long point_left = -1;
static int parsed;

static void parse(void) {
  parsed = 1;
  const char *v = getenv("COHORT_FAIL_AT");
  if (!v) return;
  const char *c = strchr(v, ':');
  size_t n = c ? (size_t)(c - v) : strlen(v);
  if (n >= sizeof point_name) return;
  memcpy(point_name, v, n);
  point_name[n] = 0;
  point_left = c ? atol(c + 1) : 1;
  fprintf(stderr, "FAULT: will kill -9 myself at the %ld-th \"%s\"\n", point_left, point_name);
}

void fault_point(const char *point) {
  if (!parsed) parse();
  if (point_left < 0 || strcmp(point, point_name)) return;
  if (--point_left > 0) return;
  fprintf(stderr, "FAULT: kill -9 at \"%s\"\n", point);
  fflush(stderr);
  raise(SIGKILL);
}

int fault_equivocate(void) {
  const char *v = getenv("COHORT_EQUIVOCATE");
  return v && !strcmp(v, "1");
}
