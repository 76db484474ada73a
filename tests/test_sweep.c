/* test_sweep.c: lab/sweep: the resume logic (finished, diverged, resumable, fresh), stale
 * folders moved aside and never mixed, the worker pool with a fake training (skips, failures,
 * a killed worker, progress and ETA lines), workers stopped with a killed sweep, the Open MPI
 * environment, and a tiny real training through lab_train_run: interrupted -> resumed ->
 * finished -> a changed configuration moves it aside. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blocks/network.h"
#include "lab/config.h"
#include "lab/rng.h"
#include "lab/sweep.h"
#include "lab/train.h"
#include "testutil.h"

typedef struct fixture {
  char dir[64];
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (lab_test_mkdtemp(fx->dir, sizeof fx->dir, "test_sweep")) return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  int rc = lab_test_rmtree(fx->dir);
  free(fx);
  return rc == 0 ? 0 : -1;
}

static void put(const char *dir, const char *name, const char *text) {
  char path[1200];
  mkdir(dir, 0777);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void summary(const char *dir, const char *status, const char *hash) {
  char text[512];
  snprintf(text, sizeof text, "{\"status\": \"%s\", \"config_hash\": \"%s\", \"test_top1_error\": 10.5}\n", status,
           hash);
  put(dir, "summary.json", text);
}

static void config_yaml(const char *dir, const char *hash) {
  char text[512];
  snprintf(text, sizeof text, "# experiment: demo\n# variant: row\n# seed: 0\n# config_hash: %s\ntrain:\n  epochs: 2\n",
           hash);
  put(dir, "config.yaml", text);
}

static void make_run(lab_sweep_run *r, const fixture *fx, const char *sub, const char *hash) {
  memset(r, 0, sizeof *r);
  snprintf(r->dir, sizeof r->dir, "%s/%s", fx->dir, sub);
  snprintf(r->hash, sizeof r->hash, "%s", hash);
  snprintf(r->name, sizeof r->name, "%s", sub);
  r->weight = 1.0;
}

#define H_NOW "1111111111111111"
#define H_OLD "2222222222222222"

static void test_inspect_states(void **state) {
  fixture *fx = *state;
  lab_sweep_run r;
  lab_error err;
  char moved[1200];
  /* no folder: train */
  make_run(&r, fx, "fresh", H_NOW);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  assert_string_equal(moved, "");
  /* finished with this configuration: skipped */
  make_run(&r, fx, "done", H_NOW);
  config_yaml(r.dir, H_NOW);
  summary(r.dir, "finished", H_NOW);
  put(r.dir, "checkpoint.bin", "x");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_DONE);
  /* diverged: kept, not retrained */
  make_run(&r, fx, "nan", H_NOW);
  summary(r.dir, "nan", H_NOW);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_DIVERGED);
  /* interrupted (config + checkpoint, no summary): resume */
  make_run(&r, fx, "interrupted", H_NOW);
  config_yaml(r.dir, H_NOW);
  put(r.dir, "metrics.tsv", "epoch\n1\n");
  put(r.dir, "checkpoint.bin", "x");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_RESUME);
  assert_string_equal(moved, "");
  /* failed with a checkpoint: resume; failed without: train again */
  summary(r.dir, "failed", H_NOW);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_RESUME);
  make_run(&r, fx, "failed-early", H_NOW);
  config_yaml(r.dir, H_NOW);
  summary(r.dir, "failed", H_NOW);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  /* a folder with nothing of a run (a log only): trained in place, not moved */
  make_run(&r, fx, "log-only", H_NOW);
  put(r.dir, "log.txt", "started\n");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  assert_true(exists(r.dir));
  /* a malformed summary is an error naming it, not a silent retrain */
  make_run(&r, fx, "broken", H_NOW);
  config_yaml(r.dir, H_NOW);
  put(r.dir, "summary.json", "{\"status\": \"finished\",");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_ERR_DATA);
  if (!strstr(err.msg, "broken/summary.json:1:23")) print_error("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "broken/summary.json:1:23"));
  /* a file where the folder should be */
  make_run(&r, fx, "afile", H_NOW);
  put(fx->dir, "afile", "x");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_ERR_IO);
}

static void test_stale_moved_aside(void **state) {
  fixture *fx = *state;
  lab_sweep_run r;
  lab_error err;
  char moved[1200], want[1200], hash[80];
  make_run(&r, fx, "row/seed-0", H_NOW);
  char row[600];
  snprintf(row, sizeof row, "%s/row", fx->dir);
  mkdir(row, 0777);
  /* finished under the OLD configuration: never counted as done */
  config_yaml(r.dir, H_OLD);
  summary(r.dir, "finished", H_OLD);
  put(r.dir, "metrics.tsv", "epoch\n1\n2\n");
  assert_int_equal(lab_sweep_folder_hash(r.dir, hash, sizeof hash), 1);
  assert_string_equal(hash, H_OLD);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  snprintf(want, sizeof want, "%s.stale-%s", r.dir, H_OLD);
  assert_string_equal(moved, want);
  assert_false(exists(r.dir));
  snprintf(want, sizeof want, "%s.stale-%s/metrics.tsv", r.dir, H_OLD);
  assert_true(exists(want)); /* the old results are kept whole */
  /* the same stale hash again: a new name, the first one untouched */
  config_yaml(r.dir, H_OLD);
  put(r.dir, "checkpoint.bin", "x");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  snprintf(want, sizeof want, "%s.stale-%s.1", r.dir, H_OLD);
  assert_string_equal(moved, want);
  /* the hash only in config.yaml (interrupted before any summary) */
  config_yaml(r.dir, "3333333333333333");
  assert_int_equal(lab_sweep_folder_hash(r.dir, hash, sizeof hash), 1);
  assert_string_equal(hash, "3333333333333333");
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  snprintf(want, sizeof want, "%s.stale-3333333333333333", r.dir);
  assert_string_equal(moved, want);
  /* results of unknown configuration: moved aside too, never resumed */
  put(r.dir, "metrics.tsv", "epoch\n1\n");
  assert_int_equal(lab_sweep_folder_hash(r.dir, hash, sizeof hash), 0);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  snprintf(want, sizeof want, "%s.stale-unknown", r.dir);
  assert_string_equal(moved, want);
  /* summary.json wins over config.yaml */
  config_yaml(r.dir, H_OLD);
  summary(r.dir, "finished", H_NOW);
  assert_int_equal(lab_sweep_folder_hash(r.dir, hash, sizeof hash), 1);
  assert_string_equal(hash, H_NOW);
}

/* === the worker pool with a fake training === */

typedef struct fake_ctx {
  const char *root;
} fake_ctx;

/* Writes a summary like the trainer does; seed 2 fails, seed 3 is killed, seed 4 diverges. */
static int fake_train(const lab_sweep_run *r, int threads, void *vctx) {
  fake_ctx *c = vctx;
  char marker[1200];
  snprintf(marker, sizeof marker, "%s/ran-%s-t%d", c->root, r->name, threads);
  put(c->root, marker + strlen(c->root) + 1, "1");
  if (r->seed == 2) return 1;
  if (r->seed == 3) raise(SIGKILL); /* a crash: uncatchable, like a segfault outside cmocka */
  summary(r->dir, r->seed == 4 ? "nan" : "finished", r->hash);
  return r->seed == 4 ? LAB_SWEEP_EXIT_NAN : 0;
}

static void test_execute(void **state) {
  fixture *fx = *state;
  lab_sweep_run runs[6];
  lab_error err;
  for (int i = 0; i < 6; i++) {
    char sub[32];
    snprintf(sub, sizeof sub, "s%d", i);
    make_run(&runs[i], fx, sub, H_NOW);
    runs[i].seed = i;
  }
  /* run 5 is already finished: it must not run again */
  summary(runs[5].dir, "finished", H_NOW);
  for (int i = 0; i < 6; i++) assert_int_equal(lab_sweep_inspect(&runs[i], NULL, 0, &err), LAB_STATUS_OK);
  assert_int_equal(runs[5].state, LAB_SWEEP_DONE);
  char *log = NULL;
  size_t log_len = 0;
  FILE *progress = open_memstream(&log, &log_len);
  fake_ctx ctx = {fx->dir};
  lab_sweep_opts o = {2, 4, progress};
  int bad = lab_sweep_execute(runs, 6, &o, fake_train, &ctx);
  fclose(progress);
  assert_int_equal(bad, 3); /* failed, killed, diverged */
  assert_int_equal(runs[0].exit_code, 0);
  assert_int_equal(runs[1].exit_code, 0);
  assert_int_equal(runs[2].exit_code, 1);
  assert_int_equal(runs[3].exit_code, 128 + SIGKILL);
  assert_int_equal(runs[4].exit_code, LAB_SWEEP_EXIT_NAN);
  char path[1200];
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/ran-s%d-t2", fx->dir, i); /* 4 threads / 2 jobs */
    assert_true(exists(path));
  }
  snprintf(path, sizeof path, "%s/ran-s5-t2", fx->dir);
  assert_false(exists(path));
  /* progress: which run, ETA, failures named */
  assert_non_null(strstr(log, "start  s0"));
  assert_non_null(strstr(log, "ETA"));
  assert_non_null(strstr(log, "FAILED s2"));
  assert_non_null(strstr(log, "killed by signal"));
  assert_non_null(strstr(log, "NaN    s4"));
  assert_null(strstr(log, "s5"));
  free(log);
  /* a second pass: the finished ones are skipped, the failed ones retried */
  for (int i = 0; i < 6; i++) assert_int_equal(lab_sweep_inspect(&runs[i], NULL, 0, &err), LAB_STATUS_OK);
  assert_int_equal(runs[0].state, LAB_SWEEP_DONE);
  assert_int_equal(runs[1].state, LAB_SWEEP_DONE);
  assert_int_equal(runs[2].state, LAB_SWEEP_TRAIN);
  assert_int_equal(runs[4].state, LAB_SWEEP_DIVERGED);
  char b[32];
  assert_string_equal(lab_sweep_fmt_duration(3725, b, sizeof b), "1h02m");
  assert_string_equal(lab_sweep_fmt_duration(185, b, sizeof b), "3m05s");
  assert_string_equal(lab_sweep_fmt_duration(NAN, b, sizeof b), "?");
}

/* A worker that records its pid (file pid-<name>) and waits to be killed. */
static int sleepy_train(const lab_sweep_run *r, int threads, void *vctx) {
  (void)threads;
  fake_ctx *c = vctx;
  char name[200], pid[32];
  snprintf(name, sizeof name, "pid-%s", r->name);
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  put(c->root, name, pid);
  while (pause() == -1) {
  }
  return 1;
}

static void sleep_10ms(void) {
  const struct timespec t = {0, 10000000L};
  nanosleep(&t, NULL);
}

static long read_pid(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/pid-%s", dir, name);
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
  }
  return pid;
}

/* A sweep killed outright (SIGKILL: no handler can run) takes its workers with it: each gets
 * SIGTERM. This process adopts the orphans (child subreaper) to see how they ended. */
static void test_killed_sweep_stops_workers(void **state) {
  fixture *fx = *state;
  lab_sweep_run runs[2];
  lab_error err;
  for (int i = 0; i < 2; i++) {
    char sub[32];
    snprintf(sub, sizeof sub, "w%d", i);
    make_run(&runs[i], fx, sub, H_NOW);
    assert_int_equal(lab_sweep_inspect(&runs[i], NULL, 0, &err), LAB_STATUS_OK);
    assert_int_equal(runs[i].state, LAB_SWEEP_TRAIN);
  }
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L), 0);
  fflush(NULL);
  pid_t sweep = fork();
  assert_true(sweep >= 0);
  if (sweep == 0) {
    fake_ctx ctx = {fx->dir};
    lab_sweep_opts o = {2, 2, NULL};
    lab_sweep_execute(runs, 2, &o, sleepy_train, &ctx);
    _exit(0);
  }
  long workers[2] = {0, 0};
  for (int tries = 0; tries < 1000 && (!workers[0] || !workers[1]); tries++) { /* up to 10 s */
    for (int i = 0; i < 2; i++) workers[i] = read_pid(fx->dir, runs[i].name);
    sleep_10ms();
  }
  assert_true(workers[0] > 0 && workers[1] > 0);
  assert_int_equal(kill(sweep, SIGKILL), 0);
  int reaped = 0, terminated = 0;
  for (int tries = 0; tries < 1000 && reaped < 3; tries++) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) {
      sleep_10ms();
      continue;
    }
    reaped++;
    if ((p == workers[0] || p == workers[1]) && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) terminated++;
  }
  for (int i = 0; i < 2 && terminated < 2; i++) kill((pid_t)workers[i], SIGKILL); /* do not leave them behind */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L), 0);
  assert_int_equal(terminated, 2);
}

static void test_mpi_env(void **state) {
  (void)state;
  int rank, size;
  lab_error err;
  unsetenv("OMPI_COMM_WORLD_RANK");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  assert_int_equal(lab_sweep_mpi_env(&rank, &size, &err), LAB_STATUS_OK);
  assert_int_equal(rank, 0);
  assert_int_equal(size, 1);
  setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  assert_int_equal(lab_sweep_mpi_env(&rank, &size, &err), LAB_STATUS_OK);
  assert_int_equal(rank, 2);
  assert_int_equal(size, 3);
  setenv("OMPI_COMM_WORLD_RANK", "3", 1);
  assert_int_equal(lab_sweep_mpi_env(&rank, &size, &err), LAB_ERR_USAGE);
  setenv("OMPI_COMM_WORLD_RANK", "x", 1);
  assert_int_equal(lab_sweep_mpi_env(&rank, &size, &err), LAB_ERR_USAGE);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  assert_int_equal(lab_sweep_mpi_env(&rank, &size, &err), LAB_ERR_USAGE);
  unsetenv("OMPI_COMM_WORLD_RANK");
}

/* === a tiny real training through lab_train_run === */

static const char *const k_row =
    "network:\n"
    "  input_size: 8\n"
    "  input_channels: 1\n"
    "  classes: 3\n"
    "  blocks:\n"
    "    - {block: conv, name: conv, out: 6, kh: 3, kw: 3}\n"
    "    - {block: head, name: head, dropout: 0}\n"
    "data: {pad: 1}\n"
    "train: {epochs: 2, batch: 16, threads: 1, lr: 0.05, ema_decay: 0.99, log_every: 1000}\n";

typedef struct real_ctx {
  lab_cfg_node *row;
  lab_dataset train, test;
  int stop_after;
} real_ctx;


static int real_train(const lab_sweep_run *r, int threads, void *vctx) {
  real_ctx *c = vctx;
  lab_error err = {0};
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  blk_network net;
  if (blk_network_build(lab_cfg_get(c->row, "network"), &ov, &net, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  lab_train_job job;
  memset(&job, 0, sizeof job);
  job.graph = net.g;
  job.row = c->row;
  job.experiment = "demo";
  job.variant = "row";
  job.seed = r->seed;
  job.out_dir = r->dir;
  job.resume = 1;
  job.quiet = 1;
  job.threads = threads;
  job.stop_after_epochs = c->stop_after;
  job.train_set = &c->train;
  job.test_set = &c->test;
  lab_train_result res;
  lab_status st = lab_train_run(&job, &res, &err);
  blk_network_free(&net);
  if (st) fprintf(stderr, "%s\n", err.msg);
  return st ? 1 : res.finished ? 0 : 2;
}

static void test_real_resume(void **state) {
  fixture *fx = *state;
  lab_error err = {0};
  real_ctx c;
  memset(&c, 0, sizeof c);
  assert_int_equal(lab_cfg_parse_string(k_row, "row.yaml", &c.row, &err), LAB_STATUS_OK);
  lab_test_bars_dataset(&c.train, 64, 1);
  lab_test_bars_dataset(&c.test, 32, 2);
  lab_sweep_run r;
  char hash[17], moved[1200], path[1200];
  lab_train_config_hash(c.row, hash);
  make_run(&r, fx, "row/seed-0", hash);
  char row_dir[600];
  snprintf(row_dir, sizeof row_dir, "%s/row", fx->dir);
  mkdir(row_dir, 0777);
  lab_sweep_opts o = {1, 1, NULL};
  /* interrupted after one epoch */
  c.stop_after = 1;
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  assert_int_equal(lab_sweep_execute(&r, 1, &o, real_train, &c), 1);
  assert_int_equal(r.exit_code, 2);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_RESUME);
  /* resumed to the end */
  c.stop_after = 0;
  assert_int_equal(lab_sweep_execute(&r, 1, &o, real_train, &c), 0);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_DONE);
  assert_string_equal(moved, "");
  /* the configuration changes: the finished run is moved aside, never mixed */
  assert_int_equal(lab_cfg_set(c.row, "train.lr=0.02", 0, &err), LAB_STATUS_OK);
  lab_train_config_hash(c.row, r.hash);
  assert_string_not_equal(r.hash, hash);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_TRAIN);
  snprintf(path, sizeof path, "%s.stale-%s/summary.json", r.dir, hash);
  assert_true(exists(path));
  assert_int_equal(lab_sweep_execute(&r, 1, &o, real_train, &c), 0);
  assert_int_equal(lab_sweep_inspect(&r, moved, sizeof moved, &err), LAB_STATUS_OK);
  assert_int_equal(r.state, LAB_SWEEP_DONE);
  lab_dataset_free(&c.train);
  lab_dataset_free(&c.test);
  lab_cfg_free(c.row);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_inspect_states, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stale_moved_aside, setup, teardown),
      cmocka_unit_test_setup_teardown(test_execute, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_sweep_stops_workers, setup, teardown),
      cmocka_unit_test(test_mpi_env),
      cmocka_unit_test_setup_teardown(test_real_resume, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
