package httpout

// appendPathEscape appends v escaped as url.PathEscape does (RFC 3986
// unreserved characters as they are, every other byte as %XX), without
// allocating: a field's value may hold '/' or '?', which must not change
// the URL's shape.
func appendPathEscape(dst, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

// appendHeaderValue appends v with the bytes a header value cannot hold
// (control characters: a line break would end the header) as spaces.
func appendHeaderValue(dst, v []byte) []byte {
	for _, c := range v {
		if c < 0x20 && c != '\t' || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
