/* core/keys_int.h — private to core/: secp256k1 context set-up. */
#ifndef COHORT_CORE_KEYS_INT_H
#define COHORT_CORE_KEYS_INT_H
int core_keys_init(void);
#endif
