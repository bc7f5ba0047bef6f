// Package lokifake is a test double of Grafana Loki's push API: an
// http.Handler (New) or a server on 127.0.0.1 (Start) that decodes pushes
// as the distributor does, enforces what Loki enforces, stores entries per
// tenant and stream, and fails on demand (Script). It is written from
// Loki's documentation and observed behaviour; no Loki code is used (the
// protobuf schema, written down in proto.go, is decoded by hand).
//
// What it implements:
//
//   - POST /loki/api/v1/push; GET /ready; 405 and 404 otherwise. Answers are
//     Loki's: 204 with no body, or the message and a newline in text/plain.
//   - Bodies: Content-Type application/json (Loki's JSON push, values
//     [ts, line] or [ts, line, {structured metadata}], timestamps as strings
//     of Unix nanoseconds), anything else a snappy block-compressed
//     PushRequest (a missing Content-Type is 400 "mime: no media type", as
//     Loki's mime parse answers). Content-Encoding gzip, deflate or snappy
//     (the last a no-op), others refused. The snappy decoder is strict
//     (golang/snappy's block format: framed snappy or S2 extensions are
//     "snappy: corrupt input"). Over MaxRequestBytes (100MB) → 413 "message
//     size too large than max (n vs max)"; decompressed over
//     MaxDecompressedBytes → 400.
//   - Tenants: with MultiTenant, X-Scope-OrgID is required (401 "no org id")
//     and checked as dskit checks it (length 150, '.' and '..', allowed
//     characters, "multiple org IDs present"); storage is per tenant. Without
//     it every push is tenant "fake".
//   - The distributor's validation, in Loki's order and with its messages and
//     discard reasons: label-set syntax (PromQL's metric grammar: names
//     [a-zA-Z_][a-zA-Z0-9_]*, '=' only, quoted values, trailing comma,
//     empty values dropped), at least one label, max_label_names_per_series
//     (15), label name (1024) and value (2048) lengths, duplicate names;
//     per entry reject_old_samples (168h), creation_grace_period (10m),
//     max_line_size (256KB), structured metadata allowed, size (64KB) and
//     count (128).
//   - The ingester's per-stream checks: max_global_streams_per_user (5000,
//     429 for the new stream); with unordered writes, an entry older than the
//     stream's newest minus OutOfOrderWindow (max_chunk_age/2 = 1h) is
//     refused "entry too far behind, entry timestamp is: …, oldest acceptable
//     timestamp is: …", also when it repeats an entry stored before; within
//     the window an exact repeat of a stored (timestamp, line) is dropped
//     silently (counted in Stats.Duplicates).
//   - Partial semantics: the valid entries of a push are stored; the answer
//     is then 400 (429 for the stream limit). An ingester refusal wins: the
//     body is the first refusing stream's block ("entry with timestamp …
//     ignored, reason: '…',\n" for up to MaxReturnedErrors (10) entries, then
//     "user '…', total ignored: N out of M for stream: {…}"); otherwise the
//     body lists the first distinct validation messages, one per line.
//   - Faults, scripted per push: 429 (Loki's ingestion rate limit answer,
//     after validation, nothing stored), 5xx and any status, slow answers,
//     hung pushes, TCP resets before or after the push is stored.
//   - Counters (Stats: requests, bytes, entries received, stored, duplicates,
//     refused by reason, stored per stream) and accessors (Tenants, Streams,
//     Entries in timestamp order as a forward query returns them, Lines,
//     Count); StorageOff keeps per stream only its newest timestamp and
//     64-bit hashes of (timestamp, line), for benchmarks.
//
// What differs from Loki, plainly:
//
//   - Duplicates: Loki drops a repeat of the last line at once and other
//     repeats in its head block, and queries merge the rest away; the fake
//     keeps every stored (timestamp, line) of a stream and drops any repeat
//     at write time, which is what a reader of Loki sees.
//   - Streams never go idle (chunk_idle_period) and never flush: the window
//     and the stream limit count every stream ever written.
//   - Rate limits apply only when scripted; there is no per-stream rate limit.
//   - Several validation failures: Loki 2 answers with the last one, Loki 3
//     groups them; the fake names the first MaxReturnedErrors distinct
//     messages in request order. Clients must not parse 400 bodies beyond
//     logging them. The label parser's error texts follow PromQL's style;
//     the JSON decoder's errors are the fake's own.
//   - Loki 3 adds a service_name label by default; the fake does so only
//     with DiscoverServiceName. Label names starting with "__" are accepted.
//   - The gateway options (Users, BearerTokens) stand for an authenticating
//     proxy in front of Loki, which has no authentication of its own.
//   - With StorageOff, two entries whose 64-bit hashes collide count as one
//     (a chance of n²/2⁶⁵ per stream).
package lokifake
