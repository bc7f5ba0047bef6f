// Package tlsconf is the tls section of listeners (Server) and of
// connections to peers (Client): the YAML keys, their validation, and the
// crypto/tls configuration they make.
package tlsconf
