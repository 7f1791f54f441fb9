/* core/log.h — leveled logging to stderr (or a file) for the node.
 *
 * Lines look like `2026-11-24T02:40:11.123Z INFO  consensus: committed
 * height=5 txs=2`. The level is set from the config (`log.level`). Logging
 * reads the wall clock: never call it from code whose result feeds consensus
 * state (it has no effect on state, so calling it there is allowed). */
#ifndef COHORT_CORE_LOG_H
#define COHORT_CORE_LOG_H

#include <stdio.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } core_log_level;

void core_log_set_level(core_log_level lvl);
core_log_level core_log_get_level(void);
/* Parse "debug|info|warn|error|off"; returns 0 or COHORT_ERR_CONFIG. */
int core_log_parse_level(const char *s, core_log_level *out);
/* Direct output to f (borrowed, default stderr). */
void core_log_set_file(FILE *f);

void core_log(core_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGD(mod, ...) core_log(LOG_DEBUG, mod, __VA_ARGS__)
#define LOGI(mod, ...) core_log(LOG_INFO, mod, __VA_ARGS__)
#define LOGW(mod, ...) core_log(LOG_WARN, mod, __VA_ARGS__)
#define LOGE(mod, ...) core_log(LOG_ERROR, mod, __VA_ARGS__)

#endif
