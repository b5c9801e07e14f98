package contact_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/internal/text"
)

// Whatever a key is, one that normalises normalises again to itself, to
// UTF-8 of at most MaxText bytes with a value that is not padded: a key
// stored normalised is the key of the same customer when it comes back.
func FuzzKeyRulesNormalize(f *testing.F) {
	for _, k := range []string{
		"phone:+358 40 123 4567", "phone:(040) 123-4567", "phone:8 801 123 4567", "phone:+44 (0)20 7946 0958",
		"email:Anna@Example.com.", "email:anna@bücher.de", "account:  A-1001 ", "\ufeffaccount:A-1001\u200b",
		"ticket:ZD:42", "account:\u200b", "phone:anonymous", "email:ⱥ@x.io", "crm-2:X\u00a09", "email:a@b.c\u3164.",
	} {
		f.Add(k, "358")
		f.Add(k, "")
	}
	f.Add("phone:06 03 12 34", "241")
	f.Add("phone:0 12 34 56 78", "36")
	f.Fuzz(func(t *testing.T, key, country string) {
		rules := contact.KeyRules{DefaultCountry: country}
		if rules.Validate() != nil {
			return
		}
		got, err := rules.Normalize(key)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || len(got) > contact.MaxText {
			t.Fatalf("%+q normalised to %+q: not UTF-8 of at most %d bytes", key, got, contact.MaxText)
		}
		kind, value, ok := strings.Cut(got, ":")
		if !ok || kind == "" || value == "" || text.Trim(value) != value {
			t.Fatalf("%+q normalised to %+q: no kind, or a value that is empty or padded", key, got)
		}
		again, err := rules.Normalize(got)
		if err != nil {
			t.Fatalf("%+q normalised to %+q, which is refused: %v", key, got, err)
		}
		if again != got {
			t.Fatalf("%+q normalised to %+q, which normalises to %+q", key, got, again)
		}
	})
}
