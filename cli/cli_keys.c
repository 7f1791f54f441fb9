/* cli/cli_keys.c — `cohort keys new|list|show`: account key files in
 * HOME/keys/, mode 0600. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/hex.h"

static int valid_name(const char *n) {
  size_t l = strlen(n);
  if (!l || l > 64 || n[0] == '-') return 0; /* "-x" would read as a flag */
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_'))
      return 0;
  return 1;
}

static json_t *key_json(const char *name, const core_key *k) {
  uint8_t id[20];
  char addr[CORE_ADDR_STR_MAX], pub[65];
  core_account_id(id, k->pub);
  core_addr_encode(addr, id);
  core_hex_encode(pub, k->pub, 32);
  return json_pack("{s:s, s:s, s:s}", "name", name, "address", addr, "pubkey", pub);
}

static void show(const cli_ctx *c, const char *name, const core_key *k) {
  json_t *j = key_json(name, k);
  if (c->json) cli_print_json(j);
  else
    printf("%-16s %s  pubkey %s\n", name, json_string_value(json_object_get(j, "address")),
           json_string_value(json_object_get(j, "pubkey")));
  json_decref(j);
}

int cli_cmd_keys(const cli_ctx *c, int argc, char **argv) {
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/keys", c->home);
  if (!strcmp(argv[0], "new")) {
    if (argc != 2 || !valid_name(argv[1]))
      return cli_usage_error("keys new", argc != 2 ? "give one NAME" : "NAME \"%s\" must be 1-64 "
                             "of A-Z a-z 0-9 _ -, not starting with -", argv[argc > 1 ? 1 : 0]);
    mkdir(c->home, 0700);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr, "cohort: cannot create %s: %s\n", dir, strerror(errno));
      return 1;
    }
    snprintf(path, sizeof path, "%.4000s/%.64s.json", dir, argv[1]);
    if (access(path, F_OK) == 0) {
      fprintf(stderr, "cohort: key \"%s\" already exists (%s); pick another name\n", argv[1], path);
      return 1;
    }
    core_key k;
    core_errbuf eb = {{0}};
    if (core_key_generate(&k, 0) || core_keyfile_write(path, &k, &eb)) {
      fprintf(stderr, "cohort: %s\n", eb.msg[0] ? eb.msg : "cannot generate a key");
      return 1;
    }
    show(c, argv[1], &k);
    if (!c->json) printf("saved to %s (mode 0600) — back it up; it is the only copy\n", path);
    core_key_wipe(&k);
    return 0;
  }
  if (!strcmp(argv[0], "show")) {
    const char *name = NULL;
    int addr_only = 0;
    for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--address")) addr_only = 1;
      else if (argv[i][0] == '-') return cli_usage_error("keys show", "unknown flag %s", argv[i]);
      else if (name) return cli_usage_error("keys show", "give one NAME");
      else name = argv[i];
    }
    if (!name) return cli_usage_error("keys show", "which key? give its NAME");
    core_key k;
    if (cli_load_key(c, name, &k)) return 1;
    if (addr_only && !c->json) {
      uint8_t id[20];
      char addr[CORE_ADDR_STR_MAX];
      core_account_id(id, k.pub);
      core_addr_encode(addr, id);
      puts(addr);
    } else {
      show(c, name, &k);
    }
    core_key_wipe(&k);
    return 0;
  }
  if (!strcmp(argv[0], "list")) {
    if (argc > 1) return cli_usage_error("keys list", "unexpected argument %s", argv[1]);
    DIR *d = opendir(dir);
    if (!d) {
      if (c->json) puts("[]");
      else printf("no keys in %s (create one with: cohort keys new NAME)\n", dir);
      return 0;
    }
    /* Sorted output: collect names first. */
    char names[256][72];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
      size_t l = strlen(e->d_name);
      if (l > 5 && l < 70 && !strcmp(e->d_name + l - 5, ".json")) {
        memcpy(names[n], e->d_name, l - 5);
        names[n++][l - 5] = 0;
      }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
      core_key k;
      snprintf(path, sizeof path, "%.4000s/%.64s.json", dir, names[i]);
      core_errbuf eb;
      if (core_keyfile_read(path, &k, &eb) || k.is_ed25519) continue;
      if (c->json) json_array_append_new(arr, key_json(names[i], &k));
      else show(c, names[i], &k);
      core_key_wipe(&k);
    }
    if (c->json) cli_print_json(arr);
    json_decref(arr);
    return 0;
  }
  fprintf(stderr, "cohort keys: unknown subcommand \"%s\"\n", argv[0]);
  cli_help("keys", stderr);
  return 2;
}
