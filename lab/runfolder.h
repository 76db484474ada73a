/* runfolder.h: the files of a run folder (see /work/notes/run-contract.md, README "Runs"):
 * folder naming, atomic whole-file writes and the summary.json writer.
 *
 *   <out>/<experiment>/<row-slug>/seed-<s>/{config.yaml, metrics.tsv, summary.json,
 *                                          checkpoint.bin, log.txt}
 *
 * Every file but log.txt is written whole and atomically (temp file in the same folder,
 * fsync, rename, fsync of the folder), so a reader never sees half a file.
 */
#ifndef LAB_RUNFOLDER_H
#define LAB_RUNFOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "lab/status.h"

/* Row name -> folder name: lower case, every run of characters outside [a-z0-9._] becomes one
 * '-', leading and trailing '-' trimmed ("Inception-v2 + RMSProp" -> "inception-v2-rmsprop");
 * "row" when nothing is left. */
void lab_run_slug(const char *name, char *out, size_t n);

/* "<out>/<experiment-slug>/<row-slug>/seed-<seed>". LAB_ERR_USAGE when it does not fit. */
lab_status lab_run_dir(const char *out, const char *experiment, const char *row, long seed, char *dir,
                       size_t n, lab_error *err);

/* mkdir -p (mode 0777 & ~umask). LAB_ERR_IO naming the component that failed. */
lab_status lab_mkdirs(const char *path, lab_error *err);

/* Writes `len` bytes to path atomically: path.tmp, fsync, rename, fsync of the folder. On
 * failure the temp file is removed and the old file (if any) is untouched. */
lab_status lab_write_atomic(const char *path, const void *data, size_t len, lab_error *err);

/* A growable text buffer for building a file before lab_write_atomic. */
typedef struct lab_strbuf {
  char *s;
  size_t len, cap;
} lab_strbuf;
void lab_strbuf_printf(lab_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes); NULL -> null. */
void lab_strbuf_json_string(lab_strbuf *b, const char *s);
/* Appends a JSON number with 17 significant digits (round-trips a double); NaN/Inf -> null. */
void lab_strbuf_json_number(lab_strbuf *b, double v);
void lab_strbuf_free(lab_strbuf *b);

/* summary.json (field meanings: run-contract.md). Strings may be NULL (-> null). */
typedef struct lab_run_summary {
  const char *status;      /* "finished" | "failed" | "nan" */
  const char *experiment, *variant;
  long seed;
  const char *config_hash;
  long epochs;             /* epochs completed */
  double test_top1_error, test_top5_error, ema_test_top1_error, ema_test_top5_error; /* %, NaN: none */
  double val_top1_error, val_top5_error, ema_val_top1_error, ema_val_top5_error;
  double train_seconds, images_per_second;
  int threads, batch;
  int ranks;               /* data-parallel processes (lab train under mpirun); 0 is written as 1 */
  uint64_t params, macs;
  uint64_t peak_memory_bytes;
  const char *error;       /* failure message */
  long long nan_step;      /* -1: none */
  const char *nan_node;
  int input_size;
  const char *dataset;
} lab_run_summary;

lab_status lab_run_summary_write(const char *path, const lab_run_summary *s, lab_error *err);

#endif
