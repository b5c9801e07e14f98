package events

import "unicode/utf8"

// validUTF8 is utf8.ValidString with a fast path for ASCII text, the shape
// of nearly every identity key, skill and reason: it ORs the string's
// bytes eight at a time (the last eight overlapping) and tests the high
// bits once, where utf8.ValidString steps through short strings a byte or
// a word at a time. Text with a byte of 0x80 or more goes to
// utf8.ValidString, so the result is always utf8.ValidString's.
func validUTF8(s string) bool {
	n := len(s)
	var acc uint64
	switch {
	case n >= 8:
		for i := 0; i+8 <= n; i += 8 {
			acc |= le64(s[i:])
		}
		acc |= le64(s[n-8:])
	case n >= 4:
		acc = uint64(le32(s)) | uint64(le32(s[n-4:]))
	case n > 0:
		acc = uint64(s[0]) | uint64(s[n/2]) | uint64(s[n-1])
	}
	if acc&0x8080808080808080 == 0 {
		return true
	}
	return utf8.ValidString(s)
}
