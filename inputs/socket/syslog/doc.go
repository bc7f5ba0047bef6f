// Package syslog parses syslog messages (RFC 5424 and RFC 3164, the BSD
// format) into their fields, in place: a Message points into the bytes it
// was parsed from and a Parser reuses its scratch space, so parsing
// allocates nothing. See docs/inputs-socket.md for the attribute names.
package syslog
