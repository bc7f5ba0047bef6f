// Package config is capstan's configuration: the YAML schema as Go structs,
// loading in layers (file, then CAPSTAN_* environment, then flags) with ${VAR}
// interpolation, defaults in one place, and validation that reports every
// error at once with its key path. The reference is docs/configuration.md.
package config
