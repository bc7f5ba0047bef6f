// Package esfake is a test double of an Elasticsearch 8/9 or OpenSearch 2
// node for the bulk API: an http.Handler (New) or a server on 127.0.0.1
// (Start) that stores documents per index, answers as the real node does,
// and fails on demand (Script, SetItemRule, CloseIndex). It is written from
// the servers' documented and observed behaviour, strict where they are.
//
// What it implements:
//
//   - GET / (cluster info: version.number, tagline; version.distribution
//     "opensearch" for OpenSearch) and X-Elastic-Product: Elasticsearch on
//     every Elasticsearch answer; 405 for a wrong method, 400 "no handler
//     found" for other paths.
//   - POST|PUT /_bulk and /{index}/_bulk with Content-Type application/json,
//     application/x-ndjson (or the vnd.elasticsearch compatible types), else
//     406; Content-Encoding gzip or deflate; the body, decompressed, over
//     MaxContentLength (default 100mb) → 413 with an empty body and the
//     connection closed, as Netty's aggregator answers.
//   - The bulk parser of Elasticsearch 9 (strict): the body must end with a
//     newline; blank lines are skipped; an action is create, index, update
//     or delete, else the whole request is 400 "Malformed action/metadata
//     line [N], expected field [create], [delete], [index] or [update] but
//     found [x]"; unknown metadata (_type included) and query parameters,
//     a second key or trailing data on an action line, update bodies with
//     unknown fields are request errors; BulkRequest validation (index/id
//     missing, empty or >512-byte ids, update without doc) is one numbered
//     action_request_validation_exception. A final action without its
//     document line is dropped, as the real parser drops it.
//   - Per item, in the answer shape of the flavor (errors/took order, _index,
//     _id, _version, result, _shards, _seq_no, _primary_term, status, error
//     with type/reason/caused_by/index_uuid/shard/index): create of a live
//     _id → 409 version_conflict_engine_exception "[id]: version conflict,
//     document already exists (current version [v])"; index overwrites
//     (200 updated); delete (200 deleted, 404 not_found without an error);
//     update merges "doc" (noop detection, upsert, doc_as_upsert,
//     document_missing_exception); if_seq_no/if_primary_term; auto ids of 20
//     base64url characters; index names checked as auto-creation checks
//     them (invalid_index_name_exception); pipeline other than _none →
//     "pipeline with id [x] does not exist"; require_alias, require_data_stream.
//   - Document lines checked as DocumentParser checks them: one JSON object
//     (strict RFC 8259, invalid UTF-8 refused as Jackson refuses it), not
//     empty, no metadata fields, no empty or ambiguous dotted names; then
//     dynamic mapping: long, float, boolean, date (strict_date_optional_time
//     detection), text (+keyword) and object fields, default coercions, type
//     conflicts → document_parsing_exception (mapper_parsing_exception on
//     OpenSearch) with Elasticsearch's reason text, and
//     index.mapping.total_fields.limit (default 1000).
//   - Data streams: a name matching Options.DataStreams takes only create
//     (others → "only write ops with an op_type of create are allowed in
//     data streams"), needs @timestamp, and answers with its backing index
//     .ds-<name>-<yyyy.MM.dd>-000001 in _index; Documents takes the stream name.
//   - Security: basic, ApiKey base64(id:secret) and Bearer, each refused with
//     Elasticsearch's 401 security_exception body and WWW-Authenticate
//     headers (OpenSearch: the security plugin's text "Unauthorized").
//   - filter_path on the bulk answer (names, '*', '**', '-' exclusions;
//     emptied objects and arrays dropped).
//   - Faults, deterministic: whole-request statuses with the real bodies
//     (429 es_rejected_execution_exception, 503 cluster_block_exception,
//     413), per-item 429/400/500/503 and closed indices, an exact fraction of
//     items (FailFraction), slow answers, hung requests, TCP resets before or
//     after the writes are applied.
//   - Counters (Stats, DocCount) and accessors (Documents, Document, Indices);
//     StorageOff keeps only 64-bit hashes of live ids per index so a replay
//     is still a 409, for benchmarks.
//
// What differs from the real servers, plainly:
//
//   - One node, one shard per index, one replica never assigned (_shards is
//     always total 2, successful 1); _primary_term is always 1; no refresh,
//     search, aliases, templates other than data stream patterns, ingest
//     pipelines, scripts (an update script is refused per item), external
//     versioning (refused per item) or routing (accepted, ignored).
//   - Reason texts are the real ones for every refusal above; the
//     [line:column] of a JSON syntax error and the wording of the JSON
//     syntax messages follow Jackson's style but are not guaranteed to be
//     byte for byte what Jackson prints; columns count bytes, not characters.
//     Clients should branch on status and error.type, as they should with
//     the real servers.
//   - Dynamic mapping knows the types above only (no ip, geo, numeric
//     detection, dynamic templates or explicit mappings). OpenSearch is held
//     to Elasticsearch 9's strict bulk parser, which may be stricter than an
//     OpenSearch 2 node.
//   - Expect: 100-continue is answered by Go's server, not with 417. An
//     update's merged source is re-serialized with its keys sorted.
//   - With StorageOff, documents are only checked to be one JSON object
//     (no mapping, no @timestamp check), if_seq_no is not checked, versions
//     are reported as 1 (created) and 2 (updated), and two ids whose 64-bit
//     hashes collide count as one (a chance of n²/2⁶⁵: 3 in 10⁸ for a million ids).
package esfake
