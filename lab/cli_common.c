/* cli_common.c: what every subcommand's argument parsing shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/cli.h"

int lab_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < min || v > max) {
    fprintf(stderr, "lab %s: %s: expected an integer in [%ld, %ld], found '%s'\n", cmd, opt, min, max,
            s ? s : "");
    return 0;
  }
  *out = v;
  return 1;
}

int lab_cli_parse_int(const char *cmd, const char *opt, const char *s, int min, int max, int *out) {
  long v;
  if (!lab_cli_parse_long(cmd, opt, s, min, max, &v)) return 0;
  *out = (int)v;
  return 1;
}

void lab_cli_dir_of(const char *file, char *dir, size_t n) {
  snprintf(dir, n, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, n, ".");
}
