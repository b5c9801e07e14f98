// Package phonenumber normalises the phone numbers of identity keys with
// every country's numbering plan, through libphonenumber's metadata
// (github.com/nyaruka/phonenumbers): set contact.KeyRules.Phone to a
// Normalizer.
//
// contact's built-in rules know the trunk prefixes of a few countries and
// accept any 7 to 15 digits; a Normalizer knows every country's trunk
// prefixes and number lengths, and refuses a number that its country's
// plan does not allow (too short or too long for it, a country code that
// does not exist). The two give the same E.164 form of most numbers; they
// differ where the built-in rules do not know a country's plan: a trunk 0
// written after a foreign country code ("+358 040…" with another default
// country), a trunk prefix other than those the built-in rules list. Keys
// already stored keep the form they were stored in.
//
// It is a package of its own so that libphonenumber's metadata, megabytes
// of it, is compiled only into programs that ask for it.
package phonenumber

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/truefcr/truefcr/contact"
)

// Normalizer is a contact.PhoneNormalizer that follows libphonenumber.
type Normalizer struct {
	// Strict also refuses numbers that the plan of their country allows by
	// length but that lie in no range assigned (libphonenumber's "valid"
	// rather than "possible"). Numbering plans change, and the metadata
	// with them: a strict Normalizer may refuse a new range until this
	// module's dependency is updated.
	Strict bool
}

var _ contact.PhoneNormalizer = Normalizer{}

// errNoRegion: a default country code that no country has.
var errNoRegion = errors.New("no country has that calling code")

// NormalizePhone returns number in E.164. A number without a country code
// ("+" or "00") takes defaultCountry's; "00" introduces a country code
// whatever the default country dials abroad.
func (n Normalizer) NormalizePhone(number, defaultCountry string) (string, error) {
	number = strings.TrimSpace(number)
	// libphonenumber reads letters as the digits of their keys
	// ("1-800-FLOWERS") and takes "ext. 12" as an extension, which E.164
	// leaves out: a customer's own number has neither, and two extensions
	// of one line must not become one key.
	if strings.ContainsFunc(number, unicode.IsLetter) {
		return "", errors.New("contains letters")
	}
	if rest, ok := strings.CutPrefix(number, "00"); ok {
		number = "+" + rest
	}
	region := "ZZ" // no default: only numbers with a country code parse
	if defaultCountry != "" && !strings.HasPrefix(number, "+") {
		var err error
		if region, err = regionOf(defaultCountry); err != nil {
			return "", err
		}
	}
	num, err := phonenumbers.Parse(number, region)
	if err != nil {
		if region == "ZZ" && !strings.HasPrefix(number, "+") {
			return "", errors.New("has no country code (+ or 00) and no default country is set")
		}
		return "", fmt.Errorf("is not a phone number: %w", err)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	switch {
	case !phonenumbers.IsPossibleNumber(num):
		return "", fmt.Errorf("is not a possible number in the plan of country +%d", num.GetCountryCode())
	case n.Strict && !phonenumbers.IsValidNumber(num):
		return "", fmt.Errorf("is in no range assigned in the plan of country +%d (%s)", num.GetCountryCode(), e164)
	}
	return e164, nil
}

// regionOf returns libphonenumber's main region of a country calling code.
func regionOf(cc string) (string, error) {
	code, err := strconv.Atoi(cc)
	if err != nil {
		return "", fmt.Errorf("default country %q: %w", cc, err)
	}
	region := phonenumbers.GetRegionCodeForCountryCode(code)
	if region == "ZZ" || region == "" {
		return "", fmt.Errorf("default country +%s: %w", cc, errNoRegion)
	}
	return region, nil
}
