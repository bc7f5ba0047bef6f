package otlp

// DefaultResourceAttributes are the source attributes that make a record's
// Resource by default: the semantic conventions' names of the host, the
// Kubernetes objects, the container, the service, the cloud, and the file
// a record was read from.
var DefaultResourceAttributes = []string{"host.*", "k8s.*", "container.*", "service.*", "cloud.*", "deployment.*", "log.file.path"}

// DefaultSeverityFrom are the attributes a severity is read from: syslog's
// (the socket inputs' severity) and a parsed level field.
var DefaultSeverityFrom = []string{"severity", "level"}
