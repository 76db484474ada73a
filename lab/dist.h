/* dist.h: the data-parallel communicator (Open MPI) of `lab train` under mpirun.
 *
 * DESIGN.md "Scale-out": K processes train ONE run as synchronous replicas (the paper's
 * Sect. 8 replicas, without parameter servers): every rank holds the whole network, takes
 * B/K samples of each global batch of B, and the ranks sum their gradients (and, for
 * synchronised batch norm, their per-channel statistics) with MPI_Allreduce, so every rank
 * applies the same update and K x B/K equals one process x B.
 *
 * MPI is used only when the process was launched by mpirun (OMPI_COMM_WORLD_SIZE is set);
 * otherwise lab_dist_init gives a size-1 communicator on which every operation is a no-op and
 * MPI is never called, so plain `lab train` and the unit tests need no MPI runtime. `lab sweep`
 * under mpirun splits runs by the same variables and never calls this module.
 *
 * Every operation is collective: all ranks call it in the same order with the same counts.
 * MPI failures come back as LAB_ERR_STATE with MPI's message (MPI_ERRORS_RETURN).
 */
#ifndef LAB_DIST_H
#define LAB_DIST_H

#include <stddef.h>

#include "lab/status.h"

typedef struct lab_dist {
  int rank, size; /* 0 <= rank < size; size 1 without mpirun */
  int mpi;        /* 1: lab_dist_init called MPI_Init (lab_dist_finalize must follow) */
} lab_dist;

/* Rank 0 of 1, no MPI. */
lab_dist lab_dist_single(void);

/* Initialises MPI when launched by mpirun (the environment says so), else lab_dist_single.
 * argc/argv are passed to MPI_Init (may be NULL). */
lab_status lab_dist_init(lab_dist *d, int *argc, char ***argv, lab_error *err);
/* MPI_Finalize when init started MPI; then d is size 1. Accepts a size-1 d. */
void lab_dist_finalize(lab_dist *d);

/* In-place sums over every rank: x (n), in/out; on return every rank holds the same sums. */
lab_status lab_dist_sum_float(const lab_dist *d, float *x, size_t n, lab_error *err);
lab_status lab_dist_sum_double(const lab_dist *d, double *x, size_t n, lab_error *err);
/* Copies rank root's `bytes` bytes at buf to every rank's buf. */
lab_status lab_dist_broadcast(const lab_dist *d, void *buf, size_t bytes, int root, lab_error *err);
lab_status lab_dist_barrier(const lab_dist *d, lab_error *err);

/* The batch-norm synchronisation hook (lab_ctx_sync.sum) for a lab_dist passed as user:
 * lab_dist_sum_double, aborting on failure (a collective that fails inside a forward pass
 * leaves the replicas out of step, with nothing to recover). */
void lab_dist_sum_hook(void *user, double *x, size_t n);

#endif
