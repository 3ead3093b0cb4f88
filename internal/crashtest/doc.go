// Package crashtest holds the process-level crash tests of `tricycle
// serve`: the binary is built into a temporary directory and run as a
// subprocess on SQLite and on PostgreSQL, killed with SIGKILL at random
// points of a canary and restarted, and the store is checked afterwards for
// durable phase timers, exactly-once phase changes, no lost event, no
// duplicate promotion and an intact audit chain.
//
// The tests take minutes, so they run only when TRICYCLE_CRASHTEST=1 and
// -short is not given:
//
//	TRICYCLE_CRASHTEST=1 go test -count=1 ./internal/crashtest/
//
// The PostgreSQL run needs TRICYCLE_TEST_POSTGRES (a server on which the
// test may create and drop databases); without it that run is skipped,
// unless TRICYCLE_REQUIRE_SERVICES=1. TRICYCLE_CRASHTEST_SEED picks the
// seed of the random kill points (default 1).
package crashtest
