// Package scale holds the scalers behind the health monitor's scale-up
// remediation: the gateway Deployment's scale subresource in Kubernetes
// (Kubernetes) and a signed HTTP webhook (Webhook). Both implement
// coordination.Scaler; the embedded default, which only logs, is
// coordination.LogScaler.
//
// # Responsibilities
//
// A scaler reads and sets a replica count and nothing else. The health
// monitor decides when to scale: it applies the cooldown between two
// scale-ups and the replica ceiling before it calls Scale, and records the
// reason in the audit log and the system.auto_remediation event whatever
// the scaler does with it.
//
// # Kubernetes
//
// Kubernetes reads and updates the scale subresource of one Deployment
// (apps/v1 deployments/scale), so the role it runs under needs get and
// update (or patch) on deployments/scale for that Deployment's name and
// nothing else. An update carries the resource version it read and is
// retried a few times on a conflict; a scale to the current count changes
// nothing. With KubernetesOptions.RecordEvents it also creates a Normal
// Event on the Deployment whose message carries the reason, which needs
// create on events as well; an Event that cannot be created is logged and
// does not fail the scale, which has already happened.
//
// # Webhook
//
// Webhook speaks a small JSON protocol to one URL:
//
//	GET  URL                                       → 200 {"replicas": 3}
//	POST URL {"replicas": 4, "reason": "alr-…"}    → 200 {"replicas": 4}
//
// Every request carries SignatureHeader, "sha256=" and the hex HMAC-SHA256
// of the request body (empty for GET) under the shared secret; receivers
// check it with Verify. Responses are read strictly: status 200 only (a
// redirect is not followed), Content-Type application/json, at most
// MaxResponseBytes, exactly one JSON object with the single field
// "replicas", and for POST the count that was asked for. Anything else is
// an error wrapping ErrBadResponse. Each request is bounded by
// WebhookOptions.Timeout as well as by the caller's context.
//
// # Errors
//
// Errors name the Deployment or the webhook (its URL with any password
// redacted) and wrap coordination's sentinels where one applies:
// ErrInvalidInput for a replica count below 1, ErrNotFound for a missing
// Deployment, ErrForbidden for a denied API call, ErrConflict for an update
// that kept conflicting. Kubernetes API errors stay inspectable with
// k8s.io/apimachinery's errors.IsNotFound and friends.
package scale
