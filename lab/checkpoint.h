/* checkpoint.h: the training state in one file of named, checksummed sections, written
 * atomically, read with validation (issue 4: resume gives exactly the metrics of an
 * uninterrupted run; DESIGN.md: checkpoints written temp -> fsync -> rename).
 *
 * File layout (format version 1; integers little-endian):
 *   0    magic "LABCKPT\0" (8 bytes)
 *   8    u32 format version
 *   12   u32 n_sections (<= LAB_CKPT_MAX_SECTIONS)
 *   16   table of contents, n_sections x 64 bytes:
 *          name[40] (NUL-padded), u64 offset, u64 nbytes, u32 crc32(payload), u32 zero
 *   16+64n  u32 crc32 of bytes [0, 16+64n) (header and table)
 *   then the payloads, contiguous, in table order; the file ends with the last payload.
 * Floats are stored as the host's IEEE little-endian bytes (writing or reading on a
 * big-endian host is refused); every other integer is encoded explicitly.
 *
 * Writing: "<path>.tmp" in the same folder, fwrite, fflush, fsync, fclose, rename over path,
 * fsync of the folder. If anything fails the temp file is removed and the old file at path is
 * untouched.
 *
 * Reading validates the whole file before copying anything into the caller's memory:
 * magic, version, header checksum, every section's bounds (truncation), every section's
 * CRC, that each expected section exists with exactly the expected size, and that the file
 * has no section the caller did not ask for. Every error names the file and the section.
 */
#ifndef LAB_CHECKPOINT_H
#define LAB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "lab/layer.h"
#include "lab/rng.h"
#include "lab/status.h"

#define LAB_CKPT_VERSION 1
#define LAB_CKPT_NAME_MAX 40 /* section name bytes incl. the NUL */
#define LAB_CKPT_MAX_SECTIONS 64
#define LAB_CKPT_HASH_MAX 128 /* config hash string bytes incl. the NUL */

/* === generic sections === */
typedef struct lab_ckpt_section {
  const char *name; /* at most LAB_CKPT_NAME_MAX - 1 characters */
  void *data;       /* write: source bytes; read: destination */
  size_t nbytes;    /* write: size; read: the exact size expected (capacity if variable) */
  size_t elem;      /* element size for messages (4: floats); 0 or 1: bytes */
  int variable;     /* read: any size <= nbytes is accepted; the size found goes to got */
  size_t got;       /* read: bytes copied */
} lab_ckpt_section;

/* Writes n sections atomically (see above). */
lab_status lab_ckpt_write(const char *path, const lab_ckpt_section *s, int n, lab_error *err);

/* Validates the whole file, then fills the n requested sections. partial = 0: the file must
 * hold exactly these sections; partial = 1: other sections are allowed (still CRC-checked).
 * On error nothing has been written into the destinations, except LAB_ERR_IO when the file
 * changed between validation and copy (the message says so). */
lab_status lab_ckpt_read(const char *path, lab_ckpt_section *s, int n, int partial, lab_error *err);

/* === the training state === */
typedef struct lab_ckpt_position {
  uint64_t epoch;         /* the trainer's meaning: e.g. epochs completed */
  uint64_t step_in_epoch; /* batches of the current epoch already consumed */
  uint64_t global_step;   /* optimizer steps taken (schedule and EMA read this) */
} lab_ckpt_position;

/* What a checkpoint holds. Slabs are borrowed: save reads them, load overwrites them.
 * Section names: config_hash, position, params, param_names, buffers, optim, ema, rng. */
typedef struct lab_ckpt_state {
  char config_hash[LAB_CKPT_HASH_MAX]; /* NUL-terminated; load compares it with the file's */
  lab_ckpt_position pos;               /* save writes it; load fills it */
  float *params;                       /* the parameter slab (lab_graph_param_slab) */
  size_t n_params;
  const lab_param_list *param_list;    /* optional: names and counts saved as 'param_names';
                                          load then reports the first tensor that differs */
  float *buffers;                      /* BN running statistics (lab_graph_buffer_slab) */
  size_t n_buffers;
  float *optim;                        /* lab_optim_state; may be NULL with n_optim = 0 */
  size_t n_optim;
  float *ema;                          /* lab_ema_state; NULL: the run keeps no average */
  size_t n_ema;
  lab_rng *rngs;                       /* every generator the run draws from, in a fixed order */
  int n_rngs;
} lab_ckpt_state;

/* Writes every section of s atomically. */
lab_status lab_ckpt_save(const char *path, const lab_ckpt_state *s, lab_error *err);

/* Validates the file against s (section sizes from s's counts; the ema section must exist iff
 * s->ema != NULL), then: config hash differs from s->config_hash -> LAB_ERR_CONFIG, giving
 * both hashes, nothing loaded (resuming under another configuration is the caller's
 * decision: lab_ckpt_peek shows the file's hash); otherwise fills every slab, the RNGs and
 * s->pos. LAB_ERR_DATA for a corrupt or mismatching file, LAB_ERR_IO when it cannot be read. */
lab_status lab_ckpt_load(const char *path, lab_ckpt_state *s, lab_error *err);

/* Validates the whole file (CRCs included) and returns its config hash and position. */
lab_status lab_ckpt_peek(const char *path, char hash[LAB_CKPT_HASH_MAX], lab_ckpt_position *pos,
                         lab_error *err);

#endif
