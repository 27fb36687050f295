#include <sqlite3.h>

/// Turns off SQLite's memory-usage statistics, which take a global mutex on every allocation. Must run before the
/// library is initialised (the first open); sqlite3_config is variadic, which Swift cannot call directly.
static inline int clowdr_sqlite3_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
