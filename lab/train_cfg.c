/* train_cfg.c: strict reading of the `data:` and `train:` sections (see train_cfg.h).
 *
 * One table holds every key: its section, name, type, default (as YAML text, so defaults go
 * through the same reader and bounds as user values) and range. Adding a key = one line here
 * plus the struct field.
 */
#include "lab/train_cfg.h"

#include <stddef.h>
#include <string.h>

typedef enum key_type { KEY_INT = 0, KEY_DOUBLE = 1, KEY_BOOL = 2, KEY_ENUM = 3, KEY_PATH = 4 } key_type;

typedef struct key_def {
  int section;         /* 0 data, 1 train */
  const char *name;
  key_type type;
  const char *def;     /* default, YAML text ("" = null for KEY_PATH) */
  double min, max;     /* KEY_INT / KEY_DOUBLE bounds */
  const char *const *choices; /* KEY_ENUM */
  int n_choices;
  size_t offset;       /* into lab_data_cfg or lab_train_cfg */
} key_def;

const char *const lab_data_names[] = {"fashion-mnist", "mnist", "cifar-10", "cifar-100", "folder"};
static const char *const optim_names[] = {"sgd", "rmsprop"};
static const char *const sched_names[] = {"constant", "exponential"};
static const char *const section_names[] = {"data", "train"};

#define D(f) offsetof(lab_data_cfg, f)
#define T(f) offsetof(lab_train_cfg, f)
#define BIG 1e9

/* The paper's recipe (Sect. 8) for the train defaults; facts card section "training". */
static const key_def KEYS[] = {
    {0, "dataset", KEY_ENUM, "fashion-mnist", 0, 0, lab_data_names, 5, D(dataset)},
    {0, "dir", KEY_PATH, "", 0, 0, NULL, 0, D(dir)},
    {0, "train_subset", KEY_INT, "0", 0, BIG, NULL, 0, D(train_subset)},
    {0, "test_subset", KEY_INT, "0", 0, BIG, NULL, 0, D(test_subset)},
    {0, "val_count", KEY_INT, "0", 0, BIG, NULL, 0, D(val_count)},
    {0, "val_fraction", KEY_DOUBLE, "0.0", 0, 0.9, NULL, 0, D(val_fraction)},
    {0, "pad", KEY_INT, "0", 0, 1000, NULL, 0, D(pad)},
    {0, "hflip", KEY_BOOL, "true", 0, 0, NULL, 0, D(hflip)},
    {0, "random_resized_crop", KEY_BOOL, "false", 0, 0, NULL, 0, D(random_resized_crop)},
    {0, "eval_crop", KEY_DOUBLE, "0.0", 0, 1, NULL, 0, D(eval_crop)},
    {0, "normalize", KEY_BOOL, "true", 0, 0, NULL, 0, D(normalize)},
    {0, "prefetch", KEY_INT, "2", 1, 64, NULL, 0, D(prefetch)},
    {1, "epochs", KEY_INT, "10", 1, 100000, NULL, 0, T(epochs)},
    {1, "batch", KEY_INT, "32", 2, 65536, NULL, 0, T(batch)},
    {1, "threads", KEY_INT, "2", 1, 1024, NULL, 0, T(threads)},
    {1, "optimizer", KEY_ENUM, "rmsprop", 0, 0, optim_names, 2, T(optimizer)},
    {1, "lr", KEY_DOUBLE, "0.045", 0, 100, NULL, 0, T(lr)},
    {1, "lr_schedule", KEY_ENUM, "exponential", 0, 0, sched_names, 2, T(lr_schedule)},
    {1, "lr_decay_rate", KEY_DOUBLE, "0.94", 0, 1, NULL, 0, T(lr_decay_rate)},
    {1, "lr_decay_epochs", KEY_DOUBLE, "2.0", 1e-6, BIG, NULL, 0, T(lr_decay_epochs)},
    {1, "warmup_epochs", KEY_DOUBLE, "0.0", 0, BIG, NULL, 0, T(warmup_epochs)},
    {1, "warmup_start", KEY_DOUBLE, "0.1", 0, 1, NULL, 0, T(warmup_start)},
    {1, "momentum", KEY_DOUBLE, "0.9", 0, 0.999999, NULL, 0, T(momentum)},
    {1, "nesterov", KEY_BOOL, "false", 0, 0, NULL, 0, T(nesterov)},
    {1, "weight_decay", KEY_DOUBLE, "4e-5", 0, 1, NULL, 0, T(weight_decay)},
    {1, "rms_decay", KEY_DOUBLE, "0.9", 0, 0.999999, NULL, 0, T(rms_decay)},
    {1, "rms_eps", KEY_DOUBLE, "1.0", 1e-12, 1e6, NULL, 0, T(rms_eps)},
    {1, "rms_init", KEY_DOUBLE, "1.0", 0, 1e6, NULL, 0, T(rms_init)},
    {1, "clip_norm", KEY_DOUBLE, "2.0", 0, BIG, NULL, 0, T(clip_norm)},
    {1, "label_smoothing", KEY_DOUBLE, "0.1", 0, 1, NULL, 0, T(label_smoothing)},
    {1, "aux_weight", KEY_DOUBLE, "0.4", 0, 100, NULL, 0, T(aux_weight)},
    {1, "ema", KEY_BOOL, "true", 0, 0, NULL, 0, T(ema)},
    {1, "ema_decay", KEY_DOUBLE, "0.9999", 0, 0.999999999, NULL, 0, T(ema_decay)},
    {1, "ema_warmup", KEY_BOOL, "true", 0, 0, NULL, 0, T(ema_warmup)},
    {1, "ema_buffers", KEY_BOOL, "true", 0, 0, NULL, 0, T(ema_buffers)},
    {1, "bn_freeze_epochs", KEY_DOUBLE, "0.0", 0, BIG, NULL, 0, T(bn_freeze_epochs)},
    {1, "bn_recalibrate", KEY_INT, "0", 0, BIG, NULL, 0, T(bn_recalibrate)},
    {1, "eval_every", KEY_INT, "1", 1, 100000, NULL, 0, T(eval_every)},
    {1, "log_every", KEY_INT, "50", 1, BIG, NULL, 0, T(log_every)},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static lab_status read_key(const key_def *k, const lab_cfg_node *n, void *base, lab_error *err) {
  char *p = (char *)base + k->offset;
  switch (k->type) {
  case KEY_INT:
    return lab_cfg_int(n, (long)k->min, (long)k->max, (long *)(void *)p, err);
  case KEY_DOUBLE:
    return lab_cfg_double(n, k->min, k->max, (double *)(void *)p, err);
  case KEY_BOOL:
    return lab_cfg_bool(n, (int *)(void *)p, err);
  case KEY_ENUM:
    return lab_cfg_enum(n, k->choices, k->n_choices, (int *)(void *)p, err);
  case KEY_PATH: {
    char *dst = p;
    if (lab_cfg_is_null(n)) {
      dst[0] = '\0';
      return LAB_STATUS_OK;
    }
    const char *s;
    lab_status st = lab_cfg_string(n, &s, err);
    if (st != LAB_STATUS_OK) return st;
    if (strlen(s) >= sizeof((lab_data_cfg *)0)->dir)
      return lab_cfg_error(err, n, "path longer than %zu characters", sizeof((lab_data_cfg *)0)->dir - 1);
    strcpy(dst, s);
    return LAB_STATUS_OK;
  }
  }
  LAB_ASSERT(0, "key type %d", (int)k->type);
  return LAB_ERR_STATE;
}

static lab_status read_section(const lab_cfg_node *row, int section, void *base, lab_error *err) {
  const char *known[64];
  int n_known = 0;
  lab_status st;
  /* Defaults first, through the same readers (so the table itself is checked). */
  for (int i = 0; i < N_KEYS; i++) {
    if (KEYS[i].section != section) continue;
    known[n_known++] = KEYS[i].name;
    lab_cfg_node *d = lab_cfg_new_scalar(KEYS[i].def, "<default>", 0, 0);
    st = read_key(&KEYS[i], d, base, err);
    lab_cfg_free(d);
    LAB_ASSERT(st == LAB_STATUS_OK, "default of %s.%s does not read", section_names[section], KEYS[i].name);
  }
  const lab_cfg_node *map = row ? lab_cfg_get(row, section_names[section]) : NULL;
  if (!map || lab_cfg_is_null(map)) return LAB_STATUS_OK;
  if ((st = lab_cfg_check_keys(map, known, n_known, err)) != LAB_STATUS_OK) return st;
  for (int i = 0; i < N_KEYS; i++) {
    if (KEYS[i].section != section) continue;
    const lab_cfg_node *n = lab_cfg_get(map, KEYS[i].name);
    if (n && (st = read_key(&KEYS[i], n, base, err)) != LAB_STATUS_OK) return st;
  }
  return LAB_STATUS_OK;
}

lab_status lab_train_cfg_read(const lab_cfg_node *row, lab_data_cfg *data, lab_train_cfg *train,
                              lab_error *err) {
  memset(data, 0, sizeof *data);
  memset(train, 0, sizeof *train);
  lab_status st;
  if (row) {
    static const char *const top[] = {"network", "data", "train"};
    if ((st = lab_cfg_check_keys(row, top, 3, err)) != LAB_STATUS_OK) return st;
  }
  if ((st = read_section(row, 0, data, err)) != LAB_STATUS_OK) return st;
  if ((st = read_section(row, 1, train, err)) != LAB_STATUS_OK) return st;
  if (data->val_count > 0 && data->val_fraction > 0) {
    const lab_cfg_node *n = lab_cfg_find(row, "data.val_fraction");
    return lab_cfg_error(err, n, "give val_count or val_fraction, not both");
  }
  if (train->bn_freeze_epochs >= (double)train->epochs) {
    const lab_cfg_node *n = lab_cfg_find(row, "train.bn_freeze_epochs");
    return lab_cfg_error(err, n, "bn_freeze_epochs %g must be less than epochs %ld (the statistics that frozen "
                                 "batch norm uses come from the epochs before)",
                         train->bn_freeze_epochs, train->epochs);
  }
  return LAB_STATUS_OK;
}

int lab_train_cfg_known(const char *path) {
  for (int i = 0; i < N_KEYS; i++) {
    const char *sec = section_names[KEYS[i].section];
    size_t n = strlen(sec);
    if (!strncmp(path, sec, n) && path[n] == '.' && !strcmp(path + n + 1, KEYS[i].name)) return 1;
  }
  return 0;
}

void lab_train_cfg_print_keys(FILE *f) {
  static const char *const type_names[] = {"integer", "number", "bool", "choice", "path"};
  for (int i = 0; i < N_KEYS; i++) {
    const key_def *k = &KEYS[i];
    char name[64];
    snprintf(name, sizeof name, "%s.%s", section_names[k->section], k->name);
    fprintf(f, "  %-26s %-8s default %-14s", name, type_names[k->type], k->def[0] ? k->def : "null");
    if (k->type == KEY_INT || k->type == KEY_DOUBLE) fprintf(f, " [%g, %g]", k->min, k->max);
    if (k->type == KEY_ENUM) {
      fprintf(f, " one of");
      for (int j = 0; j < k->n_choices; j++) fprintf(f, " %s", k->choices[j]);
    }
    fputc('\n', f);
  }
}

lab_optim_cfg lab_train_optim_cfg(const lab_train_cfg *tc) {
  lab_optim_cfg oc = tc->optimizer == 0 ? lab_optim_cfg_sgd() : lab_optim_cfg_rmsprop_tf();
  oc.momentum = (float)tc->momentum;
  oc.nesterov = tc->nesterov;
  oc.weight_decay = (float)tc->weight_decay;
  oc.rms_decay = (float)tc->rms_decay;
  oc.rms_eps = (float)tc->rms_eps;
  oc.rms_init = (float)tc->rms_init;
  return oc;
}
