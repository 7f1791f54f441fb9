/* node/node_home.c — `cohortd init`: a home directory for a devnet. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/bech32.h"
#include "core/keys.h"
#include "genesis/genesis.h"
#include "node/beacon.h"
#include "node/config.h"
#include "node/node.h"

static int mkdirp(const char *path, core_errbuf *eb) {
  char tmp[PATH_MAX + 64];
  if (strlen(path) >= PATH_MAX) return core_errf(eb, COHORT_ERR_IO, "path too long");
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
      return core_errf(eb, COHORT_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
    return core_errf(eb, COHORT_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  return COHORT_OK;
}

static int write_file(const char *path, const char *text, int mode, core_errbuf *eb) {
  return core_file_write_durable(path, text, strlen(text), mode, 0, eb);
}

static int new_key(const char *path, int ed, core_key *k, core_errbuf *eb) {
  int rc = core_key_generate(k, ed);
  if (!rc) rc = core_keyfile_write(path, k, eb);
  return rc;
}

int node_init_home(const node_init_opts *o, core_errbuf *eb) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/config/genesis.json", o->home);
  if (access(p, F_OK) == 0)
    return core_errf(eb, COHORT_ERR_DUPLICATE,
                     "%s is already initialised (%s exists); use another --home, or "
                     "delete that directory first (this destroys its chain and keys)",
                     o->home, p);
  int rc;
  const char *subs[] = {"config", "data", "keys"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", o->home, subs[i]);
    if ((rc = mkdirp(p, eb))) return rc;
  }
  core_key val, nodek, dev;
  snprintf(p, sizeof p, "%s/config/priv_validator_key.json", o->home);
  if ((rc = new_key(p, 1, &val, eb))) return rc;
  snprintf(p, sizeof p, "%s/config/node_key.json", o->home);
  if ((rc = new_key(p, 1, &nodek, eb))) goto out;
  snprintf(p, sizeof p, "%s/keys/dev.json", o->home);
  if ((rc = new_key(p, 0, &dev, eb))) goto out;
  uint8_t dev_id[20], bcommit[32];
  core_account_id(dev_id, dev.pub);
  snprintf(p, sizeof p, "%s/config/beacon_seed.json", o->home);
  if ((rc = beacon_chain_create(p, bcommit, eb))) goto out;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  const char *cid = o->chain_id ? o->chain_id : "cohort-devnet-1";
  char *gen = genesis_devnet_json(cid, now_ms - now_ms % 1000, val.pub, dev_id, bcommit);
  if (!gen) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  snprintf(p, sizeof p, "%s/config/genesis.json", o->home);
  rc = write_file(p, gen, 0644, eb);
  free(gen);
  if (rc) goto out;
  /* Config: the template with moniker / listen filled in. */
  const char *t = node_config_template();
  size_t cap = strlen(t) + 512;
  char *conf = malloc(cap);
  if (!conf) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  char moniker[80], listen[160];
  snprintf(moniker, sizeof moniker, "moniker = %s", o->moniker ? o->moniker : "cohort-node");
  snprintf(listen, sizeof listen, "listen = %s", o->rpc_listen ? o->rpc_listen : "127.0.0.1:27657");
  /* replace the two default lines */
  const char *m = strstr(t, "moniker = cohort-node"), *l = strstr(t, "listen = 127.0.0.1:27657");
  snprintf(conf, cap, "%.*s%s%.*s%s%s", (int)(m - t), t, moniker,
           (int)(l - (m + strlen("moniker = cohort-node"))), m + strlen("moniker = cohort-node"),
           listen, l + strlen("listen = 127.0.0.1:27657"));
  snprintf(p, sizeof p, "%s/cohortd.conf", o->home);
  rc = write_file(p, conf, 0644, eb);
  free(conf);
  if (rc) goto out;
  char addr[CORE_ADDR_STR_MAX];
  core_addr_encode(addr, dev_id);
  printf("Initialised %s for chain %s\n", o->home, cid);
  printf("  config:          %s/cohortd.conf\n", o->home);
  printf("  genesis:         %s/config/genesis.json\n", o->home);
  printf("  validator key:   %s/config/priv_validator_key.json\n", o->home);
  printf("  node key:        %s/config/node_key.json\n", o->home);
  printf("  beacon seed:     %s/config/beacon_seed.json (secret, like the validator key)\n", o->home);
  printf("  dev account key: %s/keys/dev.json\n", o->home);
  printf("  dev address:     %s (funded with 1,000,000,000 CRD and 1,000,000 STK)\n", addr);
  printf("Start the node with: cohortd start --home %s\n", o->home);
out:
  core_key_wipe(&val);
  core_key_wipe(&nodek);
  core_key_wipe(&dev);
  return rc;
}
