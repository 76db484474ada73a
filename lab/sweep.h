/* sweep.h: running every row x seed of an experiment, resumably (issue 5, `lab sweep`).
 *
 * A sweep is a list of runs, one per (row, seed), each with its folder
 * <out>/<experiment-slug>/<row-slug>/seed-<s> (run-contract.md) and its configuration hash
 * (lab_train_config_hash of the row's effective configuration). Before anything trains, each
 * folder is inspected (lab_sweep_inspect):
 *   - summary.json "finished" (or "nan": the loss diverged; rerunning is deterministic and
 *     would diverge again) with the current hash: done, skipped;
 *   - a folder written under ANOTHER hash (summary.json, config.yaml's "# config_hash:" line,
 *     or checkpoint.bin says so): never mixed with the new run; renamed to
 *     <folder>.stale-<oldhash> (".1", ".2"... appended if that exists), then trained afresh;
 *   - a checkpoint of the current hash: resumed from it (lab_train_run's resume);
 *   - otherwise trained from the start.
 *
 * Runs then execute in forked worker processes, at most `jobs` at once (each gets
 * threads = total / jobs); a crash in one run cannot take down the sweep or its siblings.
 * Progress lines say which run started or ended and the overall ETA: the mean seconds per
 * unit of `weight` (the caller's cost estimate of a run, e.g. MACs x epochs x images) over
 * the runs finished so far, times the weight still to do, divided by the workers.
 *
 * Scale-out over several machines with Open MPI: `mpirun -np K lab sweep ...` starts K
 * independent sweeps; each reads its rank and size from the environment variables Open MPI
 * sets (OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE; lab_sweep_mpi_env) and takes the runs
 * whose index i satisfies i % size == rank. No MPI library is linked: ranks never talk,
 * the run folders (on a shared file system) are the only shared state, and every run
 * folder has exactly one writer.
 */
#ifndef LAB_SWEEP_H
#define LAB_SWEEP_H

#include <stdio.h>

#include "lab/status.h"

typedef enum lab_sweep_state {
  LAB_SWEEP_TRAIN = 0,     /* train from the start */
  LAB_SWEEP_RESUME = 1,   /* a checkpoint of this configuration exists */
  LAB_SWEEP_DONE = 2,     /* finished with this configuration: skipped */
  LAB_SWEEP_DIVERGED = 3  /* ended in "nan" with this configuration: skipped, reported */
} lab_sweep_state;

typedef struct lab_sweep_run {
  int row, seed_index;
  long seed;
  char name[160];        /* "<row name> seed <s>", for progress lines */
  char dir[1024];        /* the run folder */
  char hash[17];         /* the current configuration's hash */
  double weight;         /* relative cost, for the ETA (> 0) */
  lab_sweep_state state; /* set by lab_sweep_inspect */
  /* set by lab_sweep_execute */
  int exit_code;         /* the worker's: 0 finished, LAB_SWEEP_EXIT_NAN, other: failed */
  double seconds;
} lab_sweep_run;

#define LAB_SWEEP_EXIT_NAN 3

/* Classifies r's folder (r->state) and moves a stale folder aside; `moved_to` (may be NULL)
 * receives the new name of a moved folder or "". LAB_ERR_IO when the folder cannot be read
 * or renamed; LAB_ERR_DATA for a summary.json that is not valid JSON (named). */
lab_status lab_sweep_inspect(lab_sweep_run *r, char *moved_to, size_t moved_size, lab_error *err);

/* The configuration hash a run folder was written under, from summary.json, config.yaml's
 * "# config_hash: HEX" header line or checkpoint.bin, in that order. 0 and "" when none
 * says (an empty or foreign folder). */
int lab_sweep_folder_hash(const char *dir, char *hash, size_t n);

/* Trains one run inside a worker process; returns the process exit code (0 finished,
 * LAB_SWEEP_EXIT_NAN diverged, anything else failed) after printing its own errors. */
typedef int (*lab_sweep_run_fn)(const lab_sweep_run *r, int threads, void *ctx);

typedef struct lab_sweep_opts {
  int jobs;           /* workers at once (>= 1) */
  int threads;        /* total threads; each worker gets max(1, threads / jobs) */
  FILE *progress;     /* progress lines (stderr); NULL: silent */
} lab_sweep_opts;

/* Runs every run whose state is TRAIN or RESUME in forked workers (see above). Fills
 * exit_code and seconds. Returns the number of runs that did not finish (0: all did). A
 * worker receives SIGTERM when the calling process dies (Linux's parent-death signal), so
 * killing a sweep stops its runs too; each resumes from its last checkpoint next time. */
int lab_sweep_execute(lab_sweep_run *runs, int n, const lab_sweep_opts *o, lab_sweep_run_fn fn, void *ctx);

/* Open MPI rank and size from the environment (OMPI_COMM_WORLD_RANK / _SIZE); 0 and 1 when
 * not launched by mpirun. LAB_ERR_USAGE for malformed values. */
lab_status lab_sweep_mpi_env(int *rank, int *size, lab_error *err);

/* "1h02m", "3m05s", "12s" into buf (>= 16 bytes); "?" for a negative or non-finite value. */
const char *lab_sweep_fmt_duration(double seconds, char *buf, size_t n);

#endif
