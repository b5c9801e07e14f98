package emailaddr_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/emailaddr"
)

var rules = contact.KeyRules{Email: emailaddr.Normalizer{}}

// One address is one key, whatever Unicode form it was written in.
func TestOneAddressIsOneKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys []string
		want string
	}{
		{"composed and decomposed accent", []string{"email:jos\u00e9@example.com", "email:jose\u0301@example.com", "email:JOSE\u0301@Example.COM"}, "email:jos\u00e9@example.com"},
		{"domain in Unicode and in ASCII", []string{"email:anna@b\u00fccher.de", "email:anna@xn--bcher-kva.de", "email:Anna@XN--BCHER-KVA.DE", "email:anna@B\u00dcCHER.de."}, "email:anna@b\u00fccher.de"},
		{"decomposed domain", []string{"email:anna@bu\u0308cher.de"}, "email:anna@b\u00fccher.de"},
		{"ASCII as the built-in rules give it", []string{"email:Anna.Virtanen+chat@Example.com."}, "email:anna.virtanen+chat@example.com"},
		{"an underscore in the domain, as the built-in rules take", []string{"email:ops@mail_host.example.com"}, "email:ops@mail_host.example.com"},
		{"sharp s kept (non-transitional)", []string{"email:anna@stra\u00dfe.de"}, "email:anna@stra\u00dfe.de"},
		// Letters whose precomposed form is lower case only: lower case
		// comes before NFC.
		{"a precomposed form in lower case only", []string{"email:\u1e98@example.com", "email:w\u030a@example.com", "email:W\u030a@example.com"}, "email:\u1e98@example.com"},
		{"J with caron", []string{"email:J\u030c@example.com", "email:\u01f0@example.com"}, "email:\u01f0@example.com"},
		// An ASCII domain is taken as the built-in rules take it, whatever
		// comes before the @.
		{"hyphens in an ASCII domain", []string{"email:jos\u00e9@ab--cd.example.com", "email:jose\u0301@AB--CD.example.com"}, "email:jos\u00e9@ab--cd.example.com"},
		{"hyphens in an ASCII domain, ASCII before the @", []string{"email:jose@ab--cd.example.com"}, "email:jose@ab--cd.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range tt.keys {
				got, err := rules.Normalize(k)
				require.NoError(t, err, k)
				assert.Equal(t, tt.want, got, k)
				again, err := rules.Normalize(got)
				require.NoError(t, err)
				assert.Equal(t, got, again, "a key normalises to itself")
			}
		})
	}
}

// What IDNA refuses, or the built-in rules after it, is refused and says
// why.
func TestRefusesWhatIsNoAddress(t *testing.T) {
	for _, tt := range []struct{ key, reason string }{
		{"email:anna@xn--a.de", `domain "xn--a.de" is not an internationalised domain name`},
		// The ASCII form of an ASCII label names another domain than
		// "abc.com": refused, whatever the version of IDNA's tables.
		{"email:anna@xn--abc-.com", `"xn--abc-"`},
		{"email:anna@b\u00fccher..de", `is not a domain name with a dot`},
		{"email:no-at-sign", "email:no-at-sign"},
	} {
		_, err := rules.Normalize(tt.key)
		require.ErrorIs(t, err, contact.ErrInvalidKey, tt.key)
		assert.ErrorContains(t, err, tt.reason)
	}
}
