#include "clowdr_version.h"
// build_version.h is written by scripts/version.sh (make runs it) and never committed: a build from a fresh clone
// with make names its commit; one without says it does not know.
#if __has_include("build_version.h")
#include "build_version.h"
#endif
#ifndef CLOWDR_BUILD_VERSION
#define CLOWDR_BUILD_VERSION ""
#endif

const char *clowdr_build_version(void) { return CLOWDR_BUILD_VERSION; }
