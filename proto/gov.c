/* proto/gov.c — governance names (see gov.h). */
#include "proto/gov.h"

#include <string.h>
#include <strings.h>

static const char *const kinds[] = {NULL, "params", "text", "spend"};
static const char *const statuses[] = {NULL,       "deposit",   "voting",  "passed", "rejected",
                                       "vetoed",   "no_quorum", "expired", "failed"};
static const char *const options[] = {NULL, "yes", "no", "abstain", "veto"};

const char *gov_kind_name(uint32_t kind) {
  return kind >= 1 && kind <= 3 ? kinds[kind] : "unknown";
}

const char *gov_status_name(uint32_t status) {
  return status >= 1 && status <= 8 ? statuses[status] : "unknown";
}

uint32_t gov_status_parse(const char *name) {
  for (uint32_t i = 1; i <= 8; i++)
    if (!strcasecmp(name, statuses[i])) return i;
  return 0;
}

const char *gov_option_name(uint32_t option) {
  return option >= 1 && option <= 4 ? options[option] : "unknown";
}

uint32_t gov_option_parse(const char *name) {
  for (uint32_t i = 1; i <= 4; i++)
    if (!strcasecmp(name, options[i])) return i;
  if (!strcasecmp(name, "no_with_veto") || !strcasecmp(name, "no-with-veto")) return GOV_VETO;
  return 0;
}
