// Package bus holds the implementations of coordination.Bus, the seam that
// carries the cycle's events between components, and their shared
// conformance suite:
//
//   - coordination.NewMemoryBus, the in-process default (one server);
//   - natsbus, NATS JetStream, for several replicas;
//   - bustest, the suite every bus passes (delivery, filters, order,
//     redelivery, duplicate publishes, closing).
//
// Both buses deliver at least once and keep per-subscriber order for one
// publisher; consumers deduplicate by event ID. natsbus's package
// documentation spells out its delivery, backpressure and server settings.
package bus
