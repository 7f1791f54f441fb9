/* A task program with a large output (review of reveal windows against
 * block capacity): the input is a decimal byte count N and a letter;
 * writes N copies of the letter. */
#include <stdlib.h>
#include <string.h>

#include "cohort.h"

int main(void) {
  char in[64] = {0};
  cohort_input_read(in, sizeof in - 1);
  unsigned long n = strtoul(in, NULL, 10);
  char *sp = strchr(in, ' ');
  char c = sp && sp[1] ? sp[1] : 'x';
  static char buf[4096];
  memset(buf, c, sizeof buf);
  while (n) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    cohort_output(buf, k);
    n -= k;
  }
  cohort_exit(0);
}
