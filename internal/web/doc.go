// Package web is tricycle's operator dashboard: one server-rendered page at
// / with V2 production (release, SLO compliance, error budget, alerts), the
// active promotion (phase, weights, durable timer, checks, history), V1
// experiments (evaluation progress and live criteria), V3 quarantine (root
// causes, reviews, blacklist), proposals, the audit log with its
// verification, and charts of V1 against V2 drawn as SVG on the server.
//
// # Authentication and roles
//
// /login takes a token and keeps it in an HttpOnly, SameSite=Strict cookie
// (Secure over TLS); a bearer header works too. Every page resolves it with
// the coordinator's Authenticate and calls the coordinator on the actor's
// behalf (coordination.WithActor), so the domain's RBAC decides what is
// shown: a section the role may not read says so instead of failing the
// page. Tokens are never rendered or logged.
//
// # Security headers
//
// Every response carries a Content-Security-Policy that allows no script at
// all, only the embedded stylesheet and images, forms posting to the
// dashboard and no framing; X-Content-Type-Options, Referrer-Policy and
// X-Frame-Options. Templates are html/template, so every value is escaped;
// the SVG charts escape their text for XML. The page reloads itself with a
// meta refresh rather than a script.
//
// # Wiring
//
// Dashboard(opts) has the shape app.Options.Dashboard takes. Options.History
// feeds the charts from the data plane's recorder and Options.Measurements
// the live looks at running experiments; without them the charts say "no
// data" and the criteria show the last evaluation, if any.
package web
