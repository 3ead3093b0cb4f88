// Package natsbus is the scale-out coordination.Bus: NATS JetStream, shared
// by every replica.
//
// # Stream and subjects
//
// Open creates or updates one stream (Options.Stream, default TRICYCLE) on
// the subjects SubjectPrefix + ".>" (default tricycle.>), with file storage,
// a duplicate window (default 2 minutes) and a maximum age (default 7 days).
// An event of type promotion.approved is published on
// tricycle.promotion.approved as its CloudEvents JSON (structured mode,
// Content-Type application/cloudevents+json).
//
// # Delivery
//
//   - At least once. Publish returns only when the stream has stored the
//     event (it waits for the server's acknowledgement). Each subscription is
//     a pull consumer with explicit acknowledgement: a handler that returns
//     nil acknowledges the event; one that returns an error has it
//     redelivered after Options.NakDelay; one that runs past
//     Options.AckWait is reminded to the server as in progress while it runs;
//     an event of a subscriber that crashed is redelivered after AckWait.
//     After Options.MaxDeliver deliveries the server gives up on the event
//     for that consumer (and publishes a max-deliveries advisory).
//   - Idempotency by event ID. Publish sets Nats-Msg-Id to the event ID, so
//     the server drops a second publish of one event within the duplicate
//     window (the outbox relay republishing after a crash between publish
//     and mark). Beyond the window, and for redeliveries, consumers must
//     deduplicate by event ID themselves (Store.ConsumerMarkProcessed).
//   - Durable, shared consumers. SubscribeOptions.Name is the durable
//     consumer name: a restarted replica resumes where the consumer left off
//     (events published while it was down included), and replicas
//     subscribing under one name share the events, each delivered to one of
//     them. A name the server does not accept as a consumer name (it holds
//     "/", ".", spaces …) is escaped, so any name works. A consumer created
//     for the first time starts with the events published after it; one
//     nobody has subscribed to for Options.InactiveConsumer (default 72
//     hours) is deleted by the server. An empty Name makes a private
//     consumer that is deleted on Close.
//   - Order. One subscription receives events in stream order, which for a
//     single publisher is publish order, and runs its handler for one event
//     at a time. An event whose handler failed is redelivered later, after
//     events that followed it; consumers that need order across a failure
//     must compare versions (every state event carries its object's version)
//     or fail closed. Replicas sharing a consumer each see an ordered subset.
//   - Backpressure. At most Options.MaxAckPending events of one consumer are
//     delivered and unacknowledged at a time, across its replicas; the server
//     holds the rest in the stream (bounded by MaxAge and the stream's
//     limits), so a slow consumer never makes Publish block or fail.
//   - Filters. SubscribeOptions.Types become the consumer's filter subjects
//     ("promotion.*" → tricycle.promotion.>). A server older than 2.10 takes
//     one filter subject per consumer, so several types are then filtered
//     under their common prefix on the server and exactly in the client.
//
// # Production settings
//
// Run JetStream with file storage on a persistent volume; on a cluster, set
// Options.Replicas to 3 so that the stream survives the loss of a server.
// Set the server's jetstream sync_interval to "always" (nats-server 2.10 and
// later) so that an acknowledged publish is on disk before Publish returns;
// with the default periodic sync, a power loss of every replica at once can
// lose the last acknowledged events (the outbox does not, since it marks an
// event published only after the acknowledgement). Keep the duplicate window
// longer than the relay's worst restart time.
//
// # Closing
//
// Subscription.Close stops fetching, cancels the handler's context, waits
// for a running handler to return and hands events it had fetched but not
// yet handled back to the server for redelivery. Bus.Close closes every
// subscription, then drains the connection: publishes in flight complete
// before it returns.
package natsbus
