// Package emailaddr normalises the email addresses of identity keys so
// that one address is one key, whatever the Unicode form it was written
// in: set contact.KeyRules.Email to a Normalizer.
//
// contact's built-in rules lower-case an address and compare its
// characters as written: an address with a composed "é" and the same
// address with an "e" and a combining accent, or with its domain in
// Unicode and in its ASCII form ("anna@bücher.de",
// "anna@xn--bcher-kva.de"), are two keys, and so two customers. A
// Normalizer puts the part before the @ in Unicode's normalisation form C
// (NFC) and the domain in the Unicode form that IDNA's lookup gives
// (UTS #46, non-transitional: case folded, NFC, each label checked), so
// that each of those pairs is one key, in the Unicode form. A domain of
// ASCII alone with no label in IDNA's ASCII form ("xn--"), and so an
// address of ASCII alone, comes out as the built-in rules give it; a
// label in that form that decodes to ASCII is refused. Keys already
// stored keep the form they were stored in.
//
// It is a package of its own so that the Unicode tables it needs
// (golang.org/x/text, golang.org/x/net/idna) are compiled only into
// programs that ask for them.
package emailaddr

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Normalizer is a contact.EmailNormalizer: NFC before the @, IDNA's
// Unicode form after it.
type Normalizer struct{}

// lookup is IDNA's lookup profile, but for what the built-in rules take
// in an ASCII label and UTS #46 refuses: underscores (some mail hosts'
// names have them), which a strict domain name refuses, and hyphens in
// the third and fourth places or at either end ("ab--cd"). A label in
// IDNA's ASCII form ("xn--") must still decode to one beyond ASCII
// (NormalizeEmail checks it).
var lookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false),
	idna.StrictDomainName(false), idna.CheckHyphens(false))

// NormalizeEmail implements contact.EmailNormalizer. An address without
// an @ is returned as it is, for the built-in rules to refuse. The part
// before the @ is lower-cased before it is put in NFC: some letters have
// a precomposed form in lower case only ("ẘ"), so that NFC first and the
// built-in rules' lower case after would give a form that is not NFC.
func (Normalizer) NormalizeEmail(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, nil
	}
	local, domain := addr[:at], addr[at+1:]
	if !isASCII(local) {
		local = norm.NFC.String(strings.ToLower(local))
	}
	if isASCII(domain) && !hasACE(domain) {
		return local + "@" + domain, nil // nothing for IDNA to change beyond case
	}
	if strings.HasSuffix(domain, ".") && !strings.HasSuffix(domain, "..") {
		domain = domain[:len(domain)-1] // the root's dot, which IDNA refuses
	}
	u, err := lookup.ToUnicode(domain)
	if err != nil {
		return "", fmt.Errorf("domain %q is not an internationalised domain name: %v", domain, err)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if !isACE(label) {
			continue
		}
		// A label in the ASCII form of one that is ASCII already
		// ("xn--abc-", which some versions of IDNA's tables decode to
		// "abc") names another domain than its decoded form.
		if d, err := lookup.ToUnicode(label); err != nil || isASCII(d) {
			return "", fmt.Errorf("domain %q: label %q is not the ASCII form of a label beyond ASCII", domain, label)
		}
	}
	return local + "@" + u, nil
}

// isASCII reports whether s is ASCII alone.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hasACE reports whether a label of domain is in IDNA's ASCII form
// ("xn--"), which its Unicode form replaces.
func hasACE(domain string) bool {
	for label := range strings.SplitSeq(domain, ".") {
		if isACE(label) {
			return true
		}
	}
	return false
}

// isACE reports whether label is in IDNA's ASCII form: "xn--" in any case.
func isACE(label string) bool { return len(label) >= 4 && strings.EqualFold(label[:4], "xn--") }
