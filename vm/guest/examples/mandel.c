/* mandel — renders the Mandelbrot set as a binary PGM image using 16.16
 * fixed-point arithmetic (input: "width height maxiter", default
 * "160 120 64"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

int main(void) {
  char txt[64] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  char *p = txt;
  long w = strtol(p, &p, 10), h = strtol(p, &p, 10), maxit = strtol(p, &p, 10);
  if (w <= 0 || w > 4096) w = 160;
  if (h <= 0 || h > 4096) h = 120;
  if (maxit <= 0 || maxit > 255) maxit = 64;
  unsigned char *row = malloc((size_t)w);
  if (!row) return 3;
  printf("P5\n%ld %ld\n255\n", w, h);
  fflush(stdout);
  for (long y = 0; y < h; y++) {
    int32_t ci = (int32_t)(((int64_t)y * 3 * 65536) / h) - 3 * 65536 / 2;
    for (long x = 0; x < w; x++) {
      int32_t cr = (int32_t)(((int64_t)x * 7 * 65536) / (2 * w)) - 5 * 65536 / 2 + 65536;
      int32_t zr = 0, zi = 0;
      long it = 0;
      while (it < maxit) {
        int64_t zr2 = ((int64_t)zr * zr) >> 16, zi2 = ((int64_t)zi * zi) >> 16;
        if (zr2 + zi2 > 4 * 65536) break;
        int32_t nzi = (int32_t)((((int64_t)zr * zi) >> 15) + ci);
        zr = (int32_t)(zr2 - zi2 + cr);
        zi = nzi;
        it++;
      }
      row[x] = (unsigned char)(255 - (it * 255) / maxit);
    }
    cohort_output(row, (size_t)w);
  }
  return 0;
}
