/* core/log.c — the node's logger. */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

static core_log_level level = LOG_INFO;
static FILE *out;

void core_log_set_level(core_log_level lvl) { level = lvl; }
core_log_level core_log_get_level(void) { return level; }
void core_log_set_file(FILE *f) { out = f; }

int core_log_parse_level(const char *s, core_log_level *o) {
  static const char *names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++)
    if (strcmp(s, names[i]) == 0) {
      *o = (core_log_level)i;
      return COHORT_OK;
    }
  return COHORT_ERR_CONFIG;
}

void core_log(core_log_level lvl, const char *module, const char *fmt, ...) {
  static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
  if (lvl < level || lvl >= LOG_OFF) return;
  FILE *f = out ? out : stderr;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(f, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000L, tags[lvl],
          module, line);
  fflush(f);
}
