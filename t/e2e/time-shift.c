/*
 * time-shift.c - an LD_PRELOAD shim for t/e2e/alerts-e2e.sh: the wall clock of the process
 * runs DW_TIME_SHIFT seconds ahead (time(2) and clock_gettime(2) for CLOCK_REALTIME*), so a
 * restarted dmarcwatchd finds its DNS results expired and looks the records up again.
 * Monotonic clocks are left alone.  Test-only: never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long shift(void)
{
  const char* text = getenv("DW_TIME_SHIFT");
  return text == NULL ? 0 : strtol(text, NULL, 10);
}

int clock_gettime(clockid_t id, struct timespec* ts)
{
  static int (*real)(clockid_t, struct timespec*);
  if (real == NULL) {
    real = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT, "clock_gettime");
  }
  int rc = real(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    ts->tv_sec += shift();
  }
  return rc;
}

time_t time(time_t* out)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != NULL) {
    *out = ts.tv_sec;
  }
  return ts.tv_sec;
}
