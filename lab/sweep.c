/* sweep.c: resume logic and the worker pool of `lab sweep` (see sweep.h). */
#include "lab/sweep.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/checkpoint.h"
#include "lab/json.h"

static int path_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

static int is_hex_hash(const char *s, size_t len) {
  if (len == 0 || len > 64) return 0;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int lab_sweep_folder_hash(const char *dir, char *hash, size_t n) {
  char path[1200];
  hash[0] = '\0';
  /* summary.json: the trainer's own record of the run */
  snprintf(path, sizeof path, "%s/summary.json", dir);
  lab_json *j = NULL;
  if (path_exists(path) && lab_json_load(path, &j, NULL) == LAB_STATUS_OK) {
    const char *h = NULL;
    if (lab_json_string(j, "config_hash", 1, &h, NULL) == LAB_STATUS_OK && is_hex_hash(h, strlen(h))) {
      snprintf(hash, n, "%s", h);
      lab_json_free(j);
      return 1;
    }
    lab_json_free(j);
  }
  /* config.yaml's comment header, written when the run started */
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  FILE *f = fopen(path, "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f) && line[0] == '#') {
      const char *p = strstr(line, "config_hash:");
      if (!p) continue;
      p += strlen("config_hash:");
      while (*p == ' ') p++;
      size_t len = strcspn(p, " \t\r\n");
      if (is_hex_hash(p, len) && len < n) {
        memcpy(hash, p, len);
        hash[len] = '\0';
        fclose(f);
        return 1;
      }
    }
    fclose(f);
  }
  /* the checkpoint records the hash it was trained under */
  snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
  char ck[LAB_CKPT_HASH_MAX];
  lab_ckpt_position pos;
  if (path_exists(path) && lab_ckpt_peek(path, ck, &pos, NULL) == LAB_STATUS_OK && is_hex_hash(ck, strlen(ck))) {
    snprintf(hash, n, "%s", ck);
    return 1;
  }
  return 0;
}

lab_status lab_sweep_inspect(lab_sweep_run *r, char *moved_to, size_t moved_size, lab_error *err) {
  char path[1200], old[80];
  if (moved_to && moved_size) moved_to[0] = '\0';
  r->state = LAB_SWEEP_TRAIN;
  struct stat sb;
  if (stat(r->dir, &sb) != 0) {
    if (errno == ENOENT) return LAB_STATUS_OK;
    return lab_error_set(err, LAB_ERR_IO, "%s: cannot inspect: %s", r->dir, strerror(errno));
  }
  if (!S_ISDIR(sb.st_mode)) return lab_error_set(err, LAB_ERR_IO, "%s exists and is not a folder", r->dir);
  int known = lab_sweep_folder_hash(r->dir, old, sizeof old);
  snprintf(path, sizeof path, "%s/checkpoint.bin", r->dir);
  int has_ckpt = path_exists(path);
  snprintf(path, sizeof path, "%s/metrics.tsv", r->dir);
  int has_results = has_ckpt || path_exists(path);
  if ((known && strcmp(old, r->hash) != 0) || (!known && has_results)) {
    /* Another configuration's results: keep them, out of the way, under their own name. */
    char dst[1200];
    int w = snprintf(dst, sizeof dst, "%s.stale-%s", r->dir, known ? old : "unknown");
    for (int k = 1; w > 0 && (size_t)w < sizeof dst && path_exists(dst) && k < 1000; k++)
      w = snprintf(dst, sizeof dst, "%s.stale-%s.%d", r->dir, known ? old : "unknown", k);
    if (w < 0 || (size_t)w >= sizeof dst || path_exists(dst))
      return lab_error_set(err, LAB_ERR_IO, "%s: no free name to move the stale run aside", r->dir);
    if (rename(r->dir, dst) != 0)
      return lab_error_set(err, LAB_ERR_IO, "cannot move stale run %s aside to %s: %s", r->dir, dst, strerror(errno));
    if (moved_to) snprintf(moved_to, moved_size, "%s", dst);
    return LAB_STATUS_OK;
  }
  snprintf(path, sizeof path, "%s/summary.json", r->dir);
  if (path_exists(path)) {
    lab_json *j;
    lab_status st = lab_json_load(path, &j, err);
    if (st) return st;
    const char *status = NULL;
    st = lab_json_string(j, "status", 1, &status, err);
    if (!st && !strcmp(status, "finished"))
      r->state = LAB_SWEEP_DONE;
    else if (!st && !strcmp(status, "nan"))
      r->state = LAB_SWEEP_DIVERGED;
    lab_json_free(j);
    if (st) return st;
    if (r->state != LAB_SWEEP_TRAIN) return LAB_STATUS_OK;
  }
  if (has_ckpt) r->state = LAB_SWEEP_RESUME;
  return LAB_STATUS_OK;
}

/* === the worker pool === */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *lab_sweep_fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, n, "?");
  } else {
    long t = (long)(s + 0.5);
    if (t >= 3600)
      snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60)
      snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
      snprintf(buf, n, "%lds", t);
  }
  return buf;
}

typedef struct slot {
  pid_t pid;
  int run;
  double start;
} slot;

int lab_sweep_execute(lab_sweep_run *runs, int n, const lab_sweep_opts *o, lab_sweep_run_fn fn, void *ctx) {
  int jobs = o->jobs > 0 ? o->jobs : 1;
  int threads = o->threads / jobs > 0 ? o->threads / jobs : 1;
  slot *slots = lab_xcalloc((size_t)jobs, sizeof *slots);
  int *pending = lab_xcalloc((size_t)n + 1, sizeof *pending), n_pending = 0;
  double weight_left = 0.0, weight_done = 0.0, seconds_done = 0.0;
  for (int i = 0; i < n; i++)
    if (runs[i].state == LAB_SWEEP_TRAIN || runs[i].state == LAB_SWEEP_RESUME) {
      pending[n_pending++] = i;
      weight_left += runs[i].weight > 0 ? runs[i].weight : 1.0;
    }
  int next = 0, running = 0, n_done = 0, n_bad = 0;
  double t0 = now_s();
  char b1[32], b2[32];
  while (next < n_pending || running > 0) {
    /* fill the free slots */
    for (int s = 0; s < jobs && next < n_pending; s++) {
      if (slots[s].pid > 0) continue;
      lab_sweep_run *r = &runs[pending[next]];
      if (o->progress) {
        fprintf(o->progress, "[%d/%d] start  %s%s (%d thread%s) -> %s\n", next + 1, n_pending, r->name,
                r->state == LAB_SWEEP_RESUME ? " (resuming from its checkpoint)" : "", threads, threads > 1 ? "s" : "",
                r->dir);
        fflush(o->progress);
      }
      fflush(NULL); /* the child must not flush the parent's buffered output again */
      const pid_t parent = getpid();
      pid_t pid = fork();
      if (pid == 0) {
        /* A worker must not outlive the sweep: killed by a signal, the sweep takes its run
         * folders' lock with it, and a second sweep would then train the same runs beside
         * the orphans. SIGTERM ends a worker between two checkpoint writes (each atomic). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(128 + SIGTERM);
        int code = fn(r, threads, ctx);
        fflush(NULL);
        _exit(code & 0xff);
      }
      if (pid < 0) {
        if (o->progress) fprintf(o->progress, "lab sweep: fork failed: %s\n", strerror(errno));
        r->exit_code = 1;
        n_bad++;
        next++;
        continue;
      }
      slots[s] = (slot){pid, pending[next], now_s()};
      next++;
      running++;
    }
    if (running == 0) break;
    int wstatus;
    pid_t pid = waitpid(-1, &wstatus, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int s = 0;
    while (s < jobs && slots[s].pid != pid) s++;
    if (s == jobs) continue; /* not one of ours */
    lab_sweep_run *r = &runs[slots[s].run];
    r->seconds = now_s() - slots[s].start;
    if (WIFEXITED(wstatus))
      r->exit_code = WEXITSTATUS(wstatus);
    else
      r->exit_code = 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
    slots[s].pid = 0;
    running--;
    n_done++;
    double w = r->weight > 0 ? r->weight : 1.0;
    weight_left -= w;
    if (r->exit_code == 0) {
      weight_done += w;
      seconds_done += r->seconds;
    } else {
      n_bad++;
    }
    if (o->progress) {
      /* ETA: the remaining weight at the observed seconds per unit of weight, shared by the
       * workers; the runs in flight count with their elapsed time already spent. */
      double eta = NAN;
      if (weight_done > 0) {
        double rate = seconds_done / weight_done, in_flight = 0.0, tnow = now_s();
        for (int k = 0; k < jobs; k++)
          if (slots[k].pid > 0) in_flight += tnow - slots[k].start;
        eta = fmax(0.0, (weight_left * rate - in_flight) / jobs);
      }
      const char *what = r->exit_code == 0                  ? "done  "
                         : r->exit_code == LAB_SWEEP_EXIT_NAN ? "NaN   "
                                                             : "FAILED";
      fprintf(o->progress, "[%d/%d] %s %s in %s", n_done, n_pending, what, r->name,
              lab_sweep_fmt_duration(r->seconds, b1, sizeof b1));
      if (r->exit_code > 128 && r->exit_code != LAB_SWEEP_EXIT_NAN)
        fprintf(o->progress, " (killed by signal %d)", r->exit_code - 128);
      else if (r->exit_code != 0 && r->exit_code != LAB_SWEEP_EXIT_NAN)
        fprintf(o->progress, " (exit %d)", r->exit_code);
      fprintf(o->progress, "; elapsed %s, ETA %s\n", lab_sweep_fmt_duration(now_s() - t0, b1, sizeof b1),
              n_done == n_pending ? "0s" : lab_sweep_fmt_duration(eta, b2, sizeof b2));
      fflush(o->progress);
    }
  }
  free(slots);
  free(pending);
  return n_bad;
}

lab_status lab_sweep_mpi_env(int *rank, int *size, lab_error *err) {
  *rank = 0;
  *size = 1;
  const char *rs = getenv("OMPI_COMM_WORLD_RANK"), *ss = getenv("OMPI_COMM_WORLD_SIZE");
  if (!rs && !ss) return LAB_STATUS_OK;
  if (!rs || !ss)
    return lab_error_set(err, LAB_ERR_USAGE, "OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE must be set together");
  char *e1, *e2;
  errno = 0;
  long r = strtol(rs, &e1, 10), s = strtol(ss, &e2, 10);
  if (errno || e1 == rs || *e1 || e2 == ss || *e2 || s < 1 || s > 1000000 || r < 0 || r >= s)
    return lab_error_set(err, LAB_ERR_USAGE, "bad Open MPI rank/size '%s'/'%s' in the environment", rs, ss);
  *rank = (int)r;
  *size = (int)s;
  return LAB_STATUS_OK;
}
