/* textfixture.c: see textfixture.h. */
#include "textfixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

void lab_fx_open(lab_fx_tokens *t, const char *path, const char *generator) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open fixture %s (run %s)", path, generator);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  t->text = lab_xmalloc((size_t)n + 1);
  size_t got = fread(t->text, 1, (size_t)n, f);
  fclose(f);
  assert_int_equal(got, (size_t)n);
  t->text[n] = '\0';
  t->pos = t->text;
}

void lab_fx_close(lab_fx_tokens *t) {
  free(t->text);
  t->text = t->pos = NULL;
}

/* Next token; skips '#' comments to end of line. */
const char *lab_fx_tok(lab_fx_tokens *t) {
  static char buf[128];
  for (;;) {
    while (*t->pos == ' ' || *t->pos == '\n' || *t->pos == '\t' || *t->pos == '\r') t->pos++;
    if (*t->pos != '#') break;
    while (*t->pos && *t->pos != '\n') t->pos++;
  }
  size_t n = strcspn(t->pos, " \n\t\r");
  assert_true(n > 0 && n < sizeof buf);
  memcpy(buf, t->pos, n);
  buf[n] = '\0';
  t->pos += n;
  return buf;
}

void lab_fx_expect(lab_fx_tokens *t, const char *word) {
  const char *w = lab_fx_tok(t);
  if (strcmp(w, word) != 0) fail_msg("fixture: expected '%s', found '%s'", word, w);
}

double lab_fx_num(lab_fx_tokens *t) {
  const char *w = lab_fx_tok(t);
  char *end;
  double v = strtod(w, &end);
  if (*end) fail_msg("fixture: bad number '%s'", w);
  return v;
}

void lab_fx_floats(lab_fx_tokens *t, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)lab_fx_num(t);
}
