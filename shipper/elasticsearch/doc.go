// Package elasticsearch is the elasticsearch output (Elasticsearch 8/9 and
// OpenSearch 2): records as documents created with the _bulk API, each with
// an _id derived from where the record came from, so that a replay is a 409
// and the index holds every record once; bulk answers read item by item.
// docs/output-elasticsearch.md describes it.
package elasticsearch
