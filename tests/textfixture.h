/* textfixture.h: reader for the text golden fixtures (optim_steps.txt, train_steps.txt):
 * whitespace-separated tokens, '#' comments to end of line. Failures end the current cmocka
 * test with a message naming what was expected. */
#ifndef LAB_TEXTFIXTURE_H
#define LAB_TEXTFIXTURE_H

#include <stddef.h>

typedef struct lab_fx_tokens {
  char *text, *pos;
} lab_fx_tokens;

/* Reads the whole file; `generator` is named in the message when it is missing. */
void lab_fx_open(lab_fx_tokens *t, const char *path, const char *generator);
void lab_fx_close(lab_fx_tokens *t);
/* Next token (valid until the next call). */
const char *lab_fx_tok(lab_fx_tokens *t);
/* The next token must be `word`. */
void lab_fx_expect(lab_fx_tokens *t, const char *word);
double lab_fx_num(lab_fx_tokens *t);
void lab_fx_floats(lab_fx_tokens *t, float *x, size_t n);

#endif
