/* layer.c: the parameter list shared by optimizer, checkpoint, gradcheck and counting. */
#include "lab/layer.h"

#include <stdio.h>
#include <stdlib.h>

void lab_param_list_add(lab_param_list *list, const char *owner, const char *tensor, float *value,
                        float *grad, size_t count, int decay) {
  if (list->n == list->cap) {
    list->cap = list->cap ? 2 * list->cap : 64;
    lab_param *items = realloc(list->items, (size_t)list->cap * sizeof *items);
    LAB_ASSERT(items, "out of memory growing parameter list to %d", list->cap);
    list->items = items;
  }
  lab_param *p = &list->items[list->n++];
  snprintf(p->name, sizeof p->name, "%s.%s", owner ? owner : "?", tensor);
  p->value = value;
  p->grad = grad;
  p->count = count;
  p->decay = decay;
}

void lab_param_list_free(lab_param_list *list) {
  if (!list) return;
  free(list->items);
  list->items = NULL;
  list->n = list->cap = 0;
}
