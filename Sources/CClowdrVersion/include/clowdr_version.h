#ifndef CLOWDR_VERSION_H
#define CLOWDR_VERSION_H
// clowdr's version as the build stamped it (scripts/version.sh, run by make before every build, writes
// build_version.h beside version.c when the version changes); "" when built without it (a bare `swift build`).
const char *clowdr_build_version(void);
#endif
