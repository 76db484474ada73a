/* dist.c: see dist.h. The only caller of MPI.
 *
 * MPI takes int counts: longer arrays go in chunks of at most INT_MAX / 2 elements (the
 * whole-gradient all-reduce of a large network stays one call in practice).
 */
#include "lab/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#define CHUNK ((size_t)(INT_MAX / 2))

lab_dist lab_dist_single(void) { return (lab_dist){.rank = 0, .size = 1, .mpi = 0}; }

/* LAB_ERR_STATE naming the call and MPI's own message. */
static lab_status mpi_fail(lab_error *err, const char *call, int code) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len] = '\0';
  return lab_error_set(err, LAB_ERR_STATE, "dist: %s failed: %s", call, len ? msg : "(no message)");
}

lab_status lab_dist_init(lab_dist *d, int *argc, char ***argv, lab_error *err) {
  *d = lab_dist_single();
  const char *env = getenv("OMPI_COMM_WORLD_SIZE");
  if (!env || !*env) return LAB_STATUS_OK;
  /* OpenMP and the loader run threads, but only the main thread calls MPI (the BN hook runs
   * between parallel regions): "funneled" */
  int provided = 0;
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Init_thread", rc);
  d->mpi = 1;
  /* errors come back as codes (lab_status), not MPI's default abort */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_FUNNELED) {
    lab_dist_finalize(d);
    return lab_error_set(err, LAB_ERR_STATE, "dist: this MPI offers no MPI_THREAD_FUNNELED (level %d)", provided);
  }
  if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &d->rank)) != MPI_SUCCESS ||
      (rc = MPI_Comm_size(MPI_COMM_WORLD, &d->size)) != MPI_SUCCESS) {
    lab_status st = mpi_fail(err, "MPI_Comm_rank/size", rc);
    lab_dist_finalize(d);
    return st;
  }
  return LAB_STATUS_OK;
}

void lab_dist_finalize(lab_dist *d) {
  if (d->mpi) MPI_Finalize();
  *d = lab_dist_single();
}

static lab_status sum(const lab_dist *d, void *x, size_t n, size_t elem, MPI_Datatype type, lab_error *err) {
  if (d->size <= 1) return LAB_STATUS_OK;
  char *p = x;
  for (size_t done = 0; done < n;) {
    size_t cnt = n - done < CHUNK ? n - done : CHUNK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, p + done * elem, (int)cnt, type, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Allreduce", rc);
    done += cnt;
  }
  return LAB_STATUS_OK;
}

lab_status lab_dist_sum_float(const lab_dist *d, float *x, size_t n, lab_error *err) {
  return sum(d, x, n, sizeof(float), MPI_FLOAT, err);
}

lab_status lab_dist_sum_double(const lab_dist *d, double *x, size_t n, lab_error *err) {
  return sum(d, x, n, sizeof(double), MPI_DOUBLE, err);
}

lab_status lab_dist_broadcast(const lab_dist *d, void *buf, size_t bytes, int root, lab_error *err) {
  if (d->size <= 1) return LAB_STATUS_OK;
  LAB_ASSERT(root >= 0 && root < d->size, "broadcast root %d of %d ranks", root, d->size);
  char *p = buf;
  for (size_t done = 0; done < bytes;) {
    size_t cnt = bytes - done < CHUNK ? bytes - done : CHUNK;
    int rc = MPI_Bcast(p + done, (int)cnt, MPI_BYTE, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, "MPI_Bcast", rc);
    done += cnt;
  }
  return LAB_STATUS_OK;
}

lab_status lab_dist_barrier(const lab_dist *d, lab_error *err) {
  if (d->size <= 1) return LAB_STATUS_OK;
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? LAB_STATUS_OK : mpi_fail(err, "MPI_Barrier", rc);
}

void lab_dist_sum_hook(void *user, double *x, size_t n) {
  lab_error err;
  lab_status st = lab_dist_sum_double(user, x, n, &err);
  LAB_ASSERT(st == LAB_STATUS_OK, "batch-norm synchronisation: %s", err.msg);
}
