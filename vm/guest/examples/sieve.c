/* sieve — counts the primes up to N (decimal in the input, default 1000000)
 * with the sieve of Eratosthenes; prints the count and the largest prime. */
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

int main(void) {
  char txt[32] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  unsigned long n = strtoul(txt, NULL, 10);
  if (n < 2) n = 1000000;
  if (n > 50000000) {
    cohort_log("sieve: N too large");
    return 2;
  }
  unsigned char *composite = calloc(n + 1, 1);
  if (!composite) return 3;
  unsigned long count = 0, last = 0;
  for (unsigned long i = 2; i <= n; i++) {
    if (composite[i]) continue;
    count++;
    last = i;
    if (i > n / i) continue; /* i * i would pass n (or wrap 32 bits) */
    for (unsigned long j = i * i; j <= n && j >= i; j += i) composite[j] = 1;
  }
  printf("primes<=%lu: %lu largest: %lu\n", n, count, last);
  free(composite);
  return 0;
}
