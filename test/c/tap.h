/*
 * tap.h: a minimal TAP producer for the C unit tests.
 *
 * Each test program includes this header, calls the ok()/is_*() helpers and
 * ends with `return tap_done();`, which prints the plan and returns non-zero
 * when any assertion failed.  `skip_all(reason)` ends a program that cannot
 * run here (for example when ../shared/ is absent).
 */
#ifndef EMBED_TEST_TAP_H
#define EMBED_TEST_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((unused))
static int is_close(double got, double want, double tol, const char *what)
{
	int cond = fabs(got - want) <= tol;

	if (!ok(cond, "%s", what))
		diag("got %.9g, want %.9g (tolerance %g)", got, want, tol);
	return cond;
}

__attribute__((noreturn, unused))
static void skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(0);
}

__attribute__((unused))
static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
