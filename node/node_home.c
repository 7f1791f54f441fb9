/* node/node_home.c — home directories: `cohortd init` (a one-validator
 * devnet), the pieces `cohortd testnet` reuses (node_home.h), and
 * `cohortd show-node-id`. */
#include "node/node_home.h"

#include <errno.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bech32.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis/genesis.h"
#include "node/beacon.h"
#include "node/config.h"
#include "node/node.h"
#include "p2p/p2p_addr.h"

int node_home_mkdirp(const char *path, core_errbuf *eb) {
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

int node_home_write_file(const char *path, const char *text, int mode, core_errbuf *eb) {
  return core_file_write_durable(path, text, strlen(text), mode, 0, eb);
}

static int new_key(const char *path, int ed, core_key *k, core_errbuf *eb) {
  int rc = core_key_generate(k, ed);
  if (!rc) rc = core_keyfile_write(path, k, eb);
  return rc;
}

void node_home_keys_wipe(node_home_keys *k) {
  core_key_wipe(&k->val);
  core_key_wipe(&k->node);
}

int node_home_make(const char *home, node_home_keys *k, core_errbuf *eb) {
  char p[PATH_MAX + 64];
  int rc;
  memset(k, 0, sizeof *k);
  const char *subs[] = {"config", "data", "keys"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", home, subs[i]);
    if ((rc = node_home_mkdirp(p, eb))) return rc;
  }
  snprintf(p, sizeof p, "%s/config/priv_validator_key.json", home);
  if ((rc = new_key(p, 1, &k->val, eb))) return rc;
  snprintf(p, sizeof p, "%s/config/node_key.json", home);
  if ((rc = new_key(p, 1, &k->node, eb))) return rc;
  snprintf(p, sizeof p, "%s/config/beacon_seed.json", home);
  return beacon_chain_create(p, k->beacon_commit, eb);
}

int node_home_account_key(const char *path, uint8_t id[20], core_errbuf *eb) {
  core_key k;
  int rc = new_key(path, 0, &k, eb);
  if (!rc) core_account_id(id, k.pub);
  core_key_wipe(&k);
  return rc;
}

int node_home_write_conf(const char *home, const node_config_kv *kv, size_t n, core_errbuf *eb) {
  char p[PATH_MAX + 64];
  char *conf = node_config_render(kv, n, eb);
  if (!conf) return COHORT_ERR_INVALID;
  node_config c;
  node_config_defaults(&c);
  core_errbuf sub;
  int rc = node_config_parse(&c, conf, &sub);
  if (rc) {
    rc = core_errf(eb, rc, "the config for %.100s would not load: %s", home, sub.msg);
  } else {
    snprintf(p, sizeof p, "%s/cohortd.conf", home);
    rc = node_home_write_file(p, conf, 0644, eb);
  }
  free(conf);
  return rc;
}

int node_home_node_id(const char *home, char id[41], core_errbuf *eb) {
  char p[PATH_MAX + 64];
  core_key nk;
  snprintf(p, sizeof p, "%s/config/node_key.json", home);
  int rc = core_keyfile_read(p, &nk, eb);
  if (rc) return rc;
  if (!nk.is_ed25519) {
    core_key_wipe(&nk);
    return core_errf(eb, COHORT_ERR_KEY, "%.200s is not an ed25519 key", p);
  }
  p2p_node_id_hex(id, nk.pub);
  core_key_wipe(&nk);
  return COHORT_OK;
}

void node_home_random_chain_id(char *out, size_t cap, const char *prefix) {
  uint8_t r[3];
  randombytes_buf(r, sizeof r);
  snprintf(out, cap, "%s-%02x%02x%02x", prefix, r[0], r[1], r[2]);
}

int node_init_home(const node_init_opts *o, core_errbuf *eb) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/config/genesis.json", o->home);
  if (access(p, F_OK) == 0)
    return core_errf(eb, COHORT_ERR_DUPLICATE,
                     "%s is already initialised (%s exists); use another --home, or "
                     "delete that directory first (this destroys its chain and keys)",
                     o->home, p);
  /* The config is checked before anything is written, so a bad --moniker or
   * --p2p-listen leaves no half-made home behind. */
  node_config_kv kv[3] = {
      {"node", "moniker", o->moniker ? o->moniker : "cohort-node"},
      {"rpc", "listen", o->rpc_listen ? o->rpc_listen : "127.0.0.1:27657"},
      {"p2p", "listen", o->p2p_listen ? o->p2p_listen : "127.0.0.1:26656"},
  };
  char *conf = node_config_render(kv, 3, eb);
  if (!conf) return COHORT_ERR_INVALID;
  node_config c;
  node_config_defaults(&c);
  int rc = node_config_parse(&c, conf, eb);
  free(conf);
  if (rc) return rc;
  node_home_keys hk;
  uint8_t dev_id[20];
  if ((rc = node_home_make(o->home, &hk, eb))) goto out;
  snprintf(p, sizeof p, "%s/keys/dev.json", o->home);
  if ((rc = node_home_account_key(p, dev_id, eb))) goto out;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  char fresh[32];
  node_home_random_chain_id(fresh, sizeof fresh, "cohort-devnet");
  const char *cid = o->chain_id ? o->chain_id : fresh; /* unique unless asked: no cross-chain replay */
  char *gen = genesis_devnet_json(cid, now_ms - now_ms % 1000, hk.val.pub, dev_id,
                                  hk.beacon_commit);
  if (!gen) {
    rc = COHORT_ERR_NOMEM;
    goto out;
  }
  snprintf(p, sizeof p, "%s/config/genesis.json", o->home);
  rc = node_home_write_file(p, gen, 0644, eb);
  free(gen);
  if (rc) goto out;
  if ((rc = node_home_write_conf(o->home, kv, 3, eb))) goto out;
  char addr[CORE_ADDR_STR_MAX], id[P2P_ID_HEX + 1];
  core_addr_encode(addr, dev_id);
  p2p_node_id_hex(id, hk.node.pub);
  printf("Initialised %s for chain %s%s\n", o->home, cid,
         o->chain_id ? "" : " (a fresh chain ID: pass --chain-id to choose one)");
  printf("  config:          %s/cohortd.conf\n", o->home);
  printf("  genesis:         %s/config/genesis.json\n", o->home);
  printf("  validator key:   %s/config/priv_validator_key.json\n", o->home);
  printf("  node key:        %s/config/node_key.json (node ID %s)\n", o->home, id);
  printf("  beacon seed:     %s/config/beacon_seed.json (secret, like the validator key)\n", o->home);
  printf("  dev account key: %s/keys/dev.json\n", o->home);
  printf("  dev address:     %s (funded with 1,000,000,000 CRD and 1,000,000 STK)\n", addr);
  printf("Start the node with: cohortd start --home %s\n", o->home);
out:
  node_home_keys_wipe(&hk);
  return rc;
}

int node_show_node_id(const char *home, core_errbuf *eb) {
  char p[PATH_MAX + 64], id[P2P_ID_HEX + 1];
  int rc = node_home_node_id(home, id, eb);
  if (rc) return rc;
  node_config c;
  node_config_defaults(&c);
  snprintf(p, sizeof p, "%s/cohortd.conf", home);
  if ((rc = node_config_load(&c, p, eb))) return rc;
  printf("%s\n", id);
  const char *addr = c.p2p_external_addr[0] ? c.p2p_external_addr : c.p2p_listen;
  if (!addr[0]) {
    fprintf(stderr, "(this node does not listen: [p2p] listen is empty, so peers cannot dial it)\n");
    return COHORT_OK;
  }
  p2p_hostport hp;
  core_errbuf sub;
  if (p2p_hostport_parse(addr, strlen(addr), 1, 1, &hp, &sub)) /* checked by the load */
    return core_errf(eb, COHORT_ERR_CONFIG, "%s", sub.msg);
  printf("%s@%s\n", id, hp.addr);
  if (!strcmp(hp.host, "0.0.0.0") || !strcmp(hp.host, "::") || hp.port == 0)
    fprintf(stderr,
            "(listening on %s: peers need this machine's reachable address and a fixed port; "
            "set [p2p] external_addr)\n",
            hp.addr);
  return COHORT_OK;
}

int node_show_validator(const char *home, int what, core_errbuf *eb) {
  char p[PATH_MAX + 64], pk[65], bc[65];
  core_key vk;
  snprintf(p, sizeof p, "%s/config/priv_validator_key.json", home);
  int rc = core_keyfile_read(p, &vk, eb);
  if (rc) return rc;
  if (!vk.is_ed25519) {
    core_key_wipe(&vk);
    return core_errf(eb, COHORT_ERR_KEY, "%.200s is not an ed25519 key", p);
  }
  core_hex_encode(pk, vk.pub, 32);
  core_key_wipe(&vk);
  snprintf(p, sizeof p, "%s/config/beacon_seed.json", home);
  beacon_chain *bcn;
  if ((rc = beacon_chain_open(&bcn, p, eb))) return rc;
  uint8_t commit[32];
  beacon_chain_commitment(bcn, commit);
  beacon_chain_close(bcn);
  core_hex_encode(bc, commit, 32);
  if (what == 1) printf("%s\n", pk);
  else if (what == 2) printf("%s\n", bc);
  else if (what == 3) printf("{\"pubkey\": \"%s\", \"beacon_commit\": \"%s\"}\n", pk, bc);
  else
    printf("pubkey         %s\nbeacon_commit  %s\nmake it a validator with:\n  cohort stake "
           "create-validator --pubkey %s --beacon-commit %s --self-bond N --from KEY\n",
           pk, bc, pk, bc);
  return COHORT_OK;
}
