// Package e2e holds the multi-process end-to-end test of a split
// deployment: PostgreSQL, NATS JetStream, two coordinators, two gateways
// and one experiments worker, each a real `tricycle serve --role …`
// process on loopback. Review traffic flows through both gateways while an
// experiment is promoted through every canary phase on a compressed clock;
// the acting coordinator is killed with SIGKILL in the middle of a phase
// and the other takes over within the lease time.
//
// The test runs only with TRICYCLE_E2E=1 and the services of
// TRICYCLE_TEST_POSTGRES and TRICYCLE_TEST_NATS (skipped without them,
// failed under TRICYCLE_REQUIRE_SERVICES=1):
//
//	TRICYCLE_E2E=1 go test -count=1 -timeout 5m ./internal/e2e/
package e2e
