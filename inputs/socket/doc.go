// Package socket is capstan's socket input: it listens on TCP (optionally
// TLS), UDP and unix stream and datagram sockets, frames and optionally parses
// syslog messages, and appends them to the spool in batches per partition.
// See docs/inputs-socket.md.
package socket
