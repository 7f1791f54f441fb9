/* wc — counts lines, words and bytes of the task input, like wc(1). */
#include <ctype.h>
#include <stdio.h>

#include "cohort.h"

int main(void) {
  unsigned char buf[1024];
  unsigned long lines = 0, words = 0, bytes = 0;
  int in_word = 0;
  size_t n;
  while ((n = cohort_input_read(buf, sizeof buf)) > 0) {
    for (size_t i = 0; i < n; i++) {
      unsigned char c = buf[i];
      if (c == '\n') lines++;
      if (isspace(c)) {
        in_word = 0;
      } else if (!in_word) {
        in_word = 1;
        words++;
      }
    }
    bytes += n;
  }
  printf("%lu %lu %lu\n", lines, words, bytes);
  return (int)(words & 0x7f);
}
