// Package leadership elects the one coordinator that acts when several
// replicas share a store: a lease in the store (platform.leader in
// PostgreSQL, platform_leader in SQLite) held by one holder at a time under
// an epoch that increments on every acquisition.
//
// # The elector
//
// An Elector is a coordination.Leader. Its RunOnce acquires the lease when
// it does not hold it (TryAcquire succeeds when the lease was never taken,
// was released, or expired at the now it passes in) and renews it when it
// does; Start runs RunOnce at once and then every Options.RenewEvery (TTL/3
// by default), and Stop releases the lease so that another replica takes
// over at its next attempt instead of after the TTL. Every time comes from
// the injected Clock.
//
// # When a leader stops acting
//
// A leader considers itself deposed, and Acting turns false without any
// I/O, once Margin less than TTL has passed on its own monotonic clock since
// the start of its last successful acquisition or renewal: a leader that
// loses its database connection, or hangs in a renewal, or is paused, stops
// acting by itself. Renewing failing twice in a row is harmless (defaults:
// TTL 15 s, renewal every 5 s, margin 3 s: acting until 12 s after the last
// success). A renewal that finds the lease taken or released deposes the
// leader at once.
//
// # Clock assumptions
//
// The database never reads its own clock: a lease expires at the acquirer's
// now plus TTL as written by the last renewal, and another node may acquire
// once the now it passes in has reached that time. The holder stops acting
// Margin earlier, measured on its monotonic clock from the same instant.
// The holder therefore stops first as long as
//
//   - the wall clocks of the replicas differ by less than Margin (NTP keeps
//     them within milliseconds; the default margin is 3 s), and
//   - a monotonic clock does not lose more than the rest of Margin over one
//     TTL.
//
// Should these assumptions fail anyway, the state stays safe: every write
// of an acting coordinator carries its epoch (coordination.WithEpoch) and
// the store refuses, inside the transaction, an epoch that is no longer
// current (coordination.StaleEpochError). Only effects outside the store,
// such as a call to the scaler, could then overlap for at most the skew.
//
// # Stores
//
// The store side is the Leases seam, implemented by
// internal/store/postgres and internal/store/sqlite (Store.Leases) and
// checked by the conformance suite in leasetest. In PostgreSQL a lease call
// is one statement and the fence is a FOR SHARE read at the start of the
// transaction; SQLite being single-node, the same code runs under the
// database file's write lock, which also serializes two processes sharing
// one file.
package leadership
