// Package gateway is tricycle's review data plane: the V2 gateway that
// answers users, the canary split, shadow copies to V1 experiments over the
// event bus, the experiments worker, golden probes, and the reviews and
// OpenAI-compatible HTTP endpoints.
//
// # Variants and the registry
//
// A Registry turns a coordination.Variant into a review.Reviewer: builtin,
// simulated (seeded; the builtin reviewer is its ground truth), openai and
// anthropic (each variant with a provider.Caller of its own: timeouts,
// retries on 429/5xx/timeouts and a circuit breaker that one variant's
// failures cannot trip for another). Strategies: single; cascade (the
// "cheap" route, escalating to "escalate" when a changed file is
// security-sensitive — then without calling the cheap one — or when the
// cheap review reports a high or critical finding or fails); by_language
// (each file by Routes[language], else Routes["default"], merged). Unknown
// providers, strategies, routes and parameters are errors when the variant
// is built, never silent defaults. API keys are read through an injected
// lookup and never logged.
//
// # Routing
//
// The Gateway keeps a snapshot of coordination.Routing, read at Start, after
// every promotion.*, experiment.* and quarantine.* event and periodically.
// The canary takes its TrafficPercent of routing keys (repository, else
// client, else request ID) by flags.Bucket("canary:"+promotion, key), so one
// repository always sees one variant during a promotion; the rest goes to
// production. Right before a canary or an experiment variant is called, the
// newest snapshot and the set of experiments and promotions seen quarantined
// or rolled back are checked again: a quarantined variant is never invoked.
//
// # Shadow traffic
//
// For each running experiment, production requests whose routing key falls
// in flags.Bucket("shadow:"+experiment, key) < ShadowPercent×100 are copied,
// with V2's outcome, into a bounded queue that one goroutine drains into
// EventShadowRequested events. Requests answered by the canary are not
// copied: the experiments are compared with V2; nor are experiments without a
// variant (a bare hypothesis has nothing to run). When the queue is full the
// copy is dropped and counted (ShadowStats); the user's answer never waits
// on shadow work. The copy carries the request as submitted: the bus is
// inside the trust boundary like the store, and every provider redacts
// secrets before a call leaves the process.
//
// # The experiments worker
//
// Worker subscribes to EventShadowRequested as the durable consumer
// "experiments", drops events it has seen (by event ID), and queues the rest
// without blocking into a bounded queue served by a fixed number of
// goroutines. Each runs the experiment's variant only while the experiment
// is running and within its budget, records the candidate as exp/<id> and
// V2's outcome from the event as exp/<id>/v2, and publishes
// EventShadowCompleted. A provider that hangs holds at most Concurrency
// goroutines until its timeout; the queue never grows past QueueSize.
//
// Agreement with V2 is the Jaccard similarity of the two sets of
// (file, line, category) keys; a shadow result agrees when it is at least
// 0.5 (AgreementThreshold), and two empty sets agree. Results where either
// side failed are not compared.
//
// # Delivery
//
// The bus delivers at least once; the worker is idempotent by event ID (the
// store's ConsumerMarkProcessed across replicas, an in-memory set
// otherwise). Shadow copies are samples: dropping one under load loses a
// data point, never a user's answer.
//
// # Concurrency
//
// Gateway, Worker, Prober, Registry and MemoryStore are safe for concurrent
// use. Start and Stop are idempotent.
package gateway
