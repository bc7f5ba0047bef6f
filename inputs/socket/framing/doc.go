// Package framing cuts a byte stream from a socket into messages: newline
// delimited lines, or RFC 6587 octet-counted frames detected per connection.
// It works in place in one buffer the caller lends it, with no allocation per
// message. See docs/inputs-socket.md.
package framing
