// Package httpc holds what the HTTP-based outputs (otlp, http) share: the
// request compressions, the auth and headers sections with their checks, the
// transport (TLS, timeouts, connection counting), Retry-After and the
// classes of transport errors. The outputs keep their own tables of answers.
package httpc
