// Package conf is the configuration machinery every component uses: sizes,
// durations and file modes written as people write them, errors that carry
// key paths, the decoder from a YAML tree into Config structs (koanf tags,
// defaults, enumerations, unknown keys with suggestions), and the loader that
// layers a file, CAPSTAN_* environment variables and flags, with ${VAR}
// interpolation. It imports nothing of capstan.
package conf
