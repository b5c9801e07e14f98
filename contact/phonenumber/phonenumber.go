// Package phonenumber normalises the phone numbers of identity keys with
// every country's numbering plan, through libphonenumber's metadata
// (github.com/nyaruka/phonenumbers): set contact.KeyRules.Phone to a
// Normalizer.
//
// contact's built-in rules know the trunk prefixes of a few countries and
// accept any 7 to 15 digits; a Normalizer knows every country's trunk and
// international prefixes and number lengths, and refuses a number that its
// country's plan does not allow (too short or too long for it, without the
// area code it needs, a country code that does not exist). The two give
// the same E.164 form of most numbers. They differ where the built-in
// rules know no plan: a trunk 0 written after a foreign country code
// ("+358 040…" with another default country), an Argentine mobile written
// nationally with its 15, a short number, a local number without its area
// code; and with what is written
// wrongly, which the built-in rules read as a habit ("+36 0 30…",
// "+(0)44…", "0 040…" as a trunk written twice) and libphonenumber
// refuses or reads otherwise ("0 040…" in Finland dials abroad). Keys
// already stored keep the form they were stored in.
//
// It is a package of its own so that libphonenumber's metadata, megabytes
// of it, is compiled only into programs that ask for it.
package phonenumber

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

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

var (
	_ contact.PhoneNormalizer = Normalizer{}
	_ contact.CountryChecker  = Normalizer{}
)

// CheckCountry reports an error when no country has the calling code
// (digits, without "+"), as KeyRules.Validate asks.
func (Normalizer) CheckCountry(code string) error {
	_, err := regionOf(code)
	return err
}

// errNoRegion: a default country code that no country has.
var errNoRegion = errors.New("no country has that calling code")

// NormalizePhone returns number in E.164. A number without a country code
// takes defaultCountry's. "+" introduces a country code, and so does the
// default country's international prefix ("00" in most countries, "011"
// in North America, "8 10" in Russia, "0011" in Australia) and "00" in
// every country: a number that starts with 00 is read with 00 as the
// international prefix unless only the default country's reading (a
// national number, or one behind its own prefix that starts with 00) is
// an assigned number, or that prefix is written apart ("0011 44 20…")
// and the other reading is not an assigned number. A trunk prefix written
// before the national number ("0 333 611 6272", "+57 0 333…") is dropped
// where libphonenumber keeps it as part of the number (Colombia's 0
// before a carrier code) and only the reading without it is an assigned
// number. Numbers that can be dialled only locally (without their
// area code) are refused, as are letters and any character but digits,
// spaces (no-break ones too), dashes (en dashes, minus signs…), dots and
// parentheses: "ext. 12",
// ";12" or "#12" would otherwise be left out of the E.164 form and make
// two extensions of a line one key.
func (n Normalizer) NormalizePhone(number, defaultCountry string) (string, error) {
	number = strings.Map(plainSeparator, strings.TrimSpace(number))
	body := strings.TrimPrefix(number, "+")
	if i := strings.IndexFunc(body, notPhoneRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(body[i:])
		if unicode.IsLetter(r) {
			return "", errors.New("contains letters")
		}
		return "", fmt.Errorf("contains %q", r)
	}
	// A number with "+" is read without a region: libphonenumber reads
	// an unknown country code after "+" within a region's plan otherwise.
	region := "ZZ"
	if defaultCountry != "" && !strings.HasPrefix(number, "+") {
		var err error
		if region, err = regionOf(defaultCountry); err != nil {
			return "", err
		}
	}
	e164, err := n.parse(number, region)
	if rest, ok := strings.CutPrefix(number, "00"); ok {
		// "00" dials abroad from most countries, and is read so unless
		// only libphonenumber's reading is an assigned number: it calls
		// most digits after a 0 a possible national number ("00358…" in
		// Russia, whose prefix is 8 10, would be +700358…, and "0049 30…"
		// in Brazil a number of Santa Catarina), and it takes a region's
		// own prefix that starts with 00 wherever the digits allow it
		// ("0086 10…" in Korea, whose prefixes include 008, would be
		// +61…). Where that own prefix is written apart from the number
		// ("0011 32 2…" in Australia, "001 32 2…" in Singapore, "0021 32
		// 2…" in Brazil), libphonenumber's reading stands unless only the
		// other is assigned.
		if intl, err2 := n.parse("+"+rest, "ZZ"); err2 == nil && intl != e164 {
			take := err != nil || !assigned(e164) || assigned(intl)
			if ownPrefixApart(number, region) {
				take = err != nil || !assigned(e164) && assigned(intl)
			}
			if take {
				e164, err = intl, nil
			}
		}
	}
	if err != nil {
		if region == "ZZ" && !strings.HasPrefix(number, "+") && !strings.HasPrefix(number, "00") {
			return "", errors.New("has no country code (+ or 00) and no default country is set")
		}
		return "", err
	}
	// libphonenumber does not always read its own E.164 form back as the
	// same number (a trunk prefix kept after the country code comes off
	// the second time), and a reading assigned to no one may keep a trunk
	// prefix that withoutTrunk drops: go on until the number reads as
	// itself, so that a key normalises to itself.
	for range 3 {
		again, err := n.parse(e164, "ZZ")
		if err != nil {
			return "", fmt.Errorf("reads as %s, which then %w", e164, err)
		}
		if !assigned(again) {
			if alt, ok := n.withoutTrunk(again); ok {
				again = alt
			}
		}
		if again == e164 {
			return e164, nil
		}
		e164 = again
	}
	return "", fmt.Errorf("reads as a different number each time (%s)", e164)
}

// parse returns number, read in region, in E.164, or why it is no number.
func (n Normalizer) parse(number, region string) (string, error) {
	num, err := phonenumbers.Parse(number, region)
	if err != nil {
		return "", fmt.Errorf("is not a phone number: %w", err)
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "", fmt.Errorf("can be dialled only locally in the plan of country +%d: its area code is missing", num.GetCountryCode())
	default:
		return "", fmt.Errorf("is not a possible number in the plan of country +%d", num.GetCountryCode())
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if n.Strict && !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("is in no range assigned in the plan of country +%d (%s)", num.GetCountryCode(), e164)
	}
	return e164, nil
}

// withoutTrunk reads e164, a reading assigned to no one, again without
// the trunk prefix of its country written after the country code
// (+5703336116272, from "0 333 611 6272" or "+57 0 333 611 6272"), and
// returns that reading if it is an assigned number. libphonenumber keeps
// such a prefix where it reads it as part of another (Colombia's 0 before
// a carrier code).
func (n Normalizer) withoutTrunk(e164 string) (string, bool) {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return "", false
	}
	code := strconv.Itoa(int(num.GetCountryCode()))
	trunk := phonenumbers.GetNddPrefixForRegion(phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())), true)
	rest, ok := strings.CutPrefix(strings.TrimPrefix(e164, "+"), code)
	if !ok || trunk == "" {
		return "", false
	}
	if rest, ok = strings.CutPrefix(rest, trunk); !ok {
		return "", false
	}
	alt, err := n.parse("+"+code+rest, "ZZ")
	if err != nil || !assigned(alt) {
		return "", false
	}
	return alt, true
}

// ownPrefixApart reports whether libphonenumber reads number, in region,
// through an international prefix of the region longer than "00" that is
// written apart from the rest of the number: its first group of digits is
// one of the region's prefixes. (Counting the digits that the reading
// left out would count a trunk 0 it dropped after the prefix too.)
func ownPrefixApart(number, region string) bool {
	first := strings.IndexFunc(number, func(r rune) bool { return r < '0' || r > '9' })
	if first <= 2 {
		return false
	}
	idd := internationalPrefixes()[region]
	if idd == nil || !idd.MatchString(number[:first]) {
		return false
	}
	num, err := phonenumbers.ParseAndKeepRawInput(number, region)
	return err == nil && num.GetCountryCodeSource() == phonenumbers.PhoneNumber_FROM_NUMBER_WITH_IDD
}

// internationalPrefixes holds, by region, the pattern of the whole of an
// international prefix of the region, from libphonenumber's metadata.
var internationalPrefixes = sync.OnceValue(func() map[string]*regexp.Regexp {
	out := make(map[string]*regexp.Regexp)
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return out // no region's prefix is told apart: the 00 rule decides
	}
	for _, md := range coll.GetMetadata() {
		if p := md.GetInternationalPrefix(); p != "" {
			if re, err := regexp.Compile("^(?:" + p + ")$"); err == nil {
				out[md.GetId()] = re
			}
		}
	}
	return out
})

// assigned reports whether e164, which parse returned, lies in a range
// that its country's plan assigns (libphonenumber's "valid").
func assigned(e164 string) bool {
	num, err := phonenumbers.Parse(e164, "ZZ")
	return err == nil && phonenumbers.IsValidNumber(num)
}

// plainSeparator returns r, or ' ' for any other space (a no-break space, as
// French numbers are often written), and '-' for any other dash (an en
// dash, a non-breaking hyphen, a minus sign), which libphonenumber may not
// drop.
func plainSeparator(r rune) rune {
	switch {
	case unicode.IsSpace(r):
		return ' '
	case unicode.Is(unicode.Pd, r) || r == '\u2212':
		return '-'
	}
	return r
}

// notPhoneRune reports whether r may not appear in a phone number as
// written: anything but digits, spaces, dashes, dots and parentheses (a
// leading "+" is let through by the caller).
func notPhoneRune(r rune) bool {
	return !(r >= '0' && r <= '9' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')')
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
