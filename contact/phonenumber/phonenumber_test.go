package phonenumber_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/phonenumber"
)

func TestNormalizerNormalizes(t *testing.T) {
	tests := []struct {
		name, country, number, want string
	}{
		{"national with trunk 0", "358", "(040) 123-4567", "+358401234567"},
		{"no-break spaces", "33", "01\u00a023\u00a045\u202f67 89", "+33123456789"},
		{"other dashes", "358", "040\u2013123\u2011456\u22127", "+358401234567"},
		{"national without trunk 0", "358", "40 123 4567", "+358401234567"},
		{"trunk 0 after the default country", "358", "+358 040 123 4567", "+358401234567"},
		{"trunk 0 after another country", "44", "+358 040 123 4567", "+358401234567"},
		{"(0) after a country code", "358", "+44 (0)20 7946 0958", "+442079460958"},
		{"00 introduces the country code", "1", "00358 40 123 4567", "+358401234567"},
		{"Rome keeps its 0", "39", "06 1234 5678", "+390612345678"},
		{"Italian (0) is a digit", "358", "+39 (0)6 1234 5678", "+390612345678"},
		{"Italian mobile", "39", "347 123 4567", "+393471234567"},
		{"North American trunk 1", "1", "1 (212) 555-0100", "+12125550100"},
		{"North American ten digits", "1", "(212) 555-0100", "+12125550100"},
		{"Russian trunk 8", "7", "8 (812) 123-45-67", "+78121234567"},
		{"Russian area code starting with 8", "7", "812 123-45-67", "+78121234567"},
		{"Hungarian trunk 06", "36", "06 1 234 5678", "+3612345678"},
		{"Argentine mobile: trunk 0 and 15", "54", "011 15 2345-6789", "+5491123456789"},
		{"without a default country", "", "+358401234567", "+358401234567"},
		{"trunk 0 twice after the country code", "358", "+358 0 040 123 4567", "+358401234567"},
		{"trunk 0 after +49", "49", "+49 0 0151 12345678", "+4915112345678"},
		{"00 where the international prefix is 011", "1", "00358 40 123 4567", "+358401234567"},
		{"North America's international prefix", "1", "011 44 20 7946 0958", "+442079460958"},
		{"Australia's international prefix", "61", "0011 44 20 7946 0958", "+442079460958"},
		// 00 where the international prefix is another: libphonenumber
		// reads most such numbers as possible national ones.
		{"00 in Russia", "7", "00358 40 123 4567", "+358401234567"},
		{"00 in Brazil", "55", "0049 30 123456", "+4930123456"},
		{"00 in Australia", "61", "00 1 212 555 0123", "+12125550123"},
		{"00 in Japan", "81", "0044 20 7946 0018", "+442079460018"},
		{"Brazilian number as written there", "55", "(49) 3012-3456", "+554930123456"},
		// International prefixes that start with 00 stay theirs.
		{"Australia's 0011 before +32", "61", "0011 32 2 123 45 67", "+3221234567"},
		{"Australia's 0011 before +64", "61", "0011 64 9 345 6789", "+6493456789"},
		{"Singapore's 001", "65", "001 32 2 123 45 67", "+3221234567"},
		{"Brazil's 00 and a carrier", "55", "0021 32 2 123 45 67", "+3221234567"},
		// 00 and a country code that a prefix of the default country's,
		// longer than 00, would read otherwise.
		{"00 +86 in Korea", "82", "0086 10 1234 5678", "+861012345678"},
		{"00 +7 in Hong Kong", "852", "00 7 495 123 45 67", "+74951234567"},
		{"00 +33 in Singapore", "65", "0033 1 23 45 67 89", "+33123456789"},
		{"00 +55 in Brazil", "55", "0055 11 91234 5678", "+5511912345678"},
		{"00 +41 in Brazil", "55", "0041 44 668 18 00", "+41446681800"},
		{"00 +1 in Australia", "61", "00 1 416 555 0123", "+14165550123"},
		{"00 +44 in Thailand", "66", "0044 20 7946 0018", "+442079460018"},
		{"00 +49 run together in Singapore", "65", "004915123456789", "+4915123456789"},
		// 00 and a country code as long as one of the default country's
		// own prefixes with the trunk 0 that its reading drops.
		{"00 +224 in Brazil", "55", "00224 601 12 34 56", "+224601123456"},
		{"00 +212 in Brazil", "55", "00212 5 20 12 34 56", "+212520123456"},
		{"00 +254 in Brazil", "55", "00254 900 223 456", "+254900223456"},
		{"00 +44 in Cambodia", "855", "0044 901 810 5678", "+449018105678"},
		{"00 +91 in Colombia", "57", "0091 1860 345 1200", "+9118603451200"},
		// A trunk 0 that libphonenumber reads as part of a carrier code
		// (Colombia's 03), leaving a number assigned to no one.
		{"Colombian mobile with a trunk 0", "57", "0 333 611 6272", "+573336116272"},
		{"Colombian mobile, trunk 0 after +57", "57", "+57 0 333 611 6272", "+573336116272"},
		{"Colombian mobile, (0) after +57", "1", "+57 (0) 333 611 6272", "+573336116272"},
		{"Colombian mobile", "57", "333 611 6272", "+573336116272"},
		// The same after 00, read nationally: what it reads as normalises
		// to itself.
		{"Colombian mobile after 00", "57", "00 333 611 6272", "+573336116272"},
		{"Korean mobile after 00", "82", "00 10 2000 0000", "+821020000000"},
		// Countries whose numbers start with 0 without a trunk prefix.
		{"Burkinabe mobile", "226", "01 23 45 67", "+22601234567"},
		{"Tajik mobile of 00", "992", "+992 00 507 9437", "+992005079437"},
		{"Rwandan number of 06", "250", "06 05 12 95", "+25006051295"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := phonenumber.Normalizer{}
			got, err := n.NormalizePhone(tt.number, tt.country)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := n.NormalizePhone(got, tt.country)
			require.NoError(t, err)
			assert.Equal(t, got, again, "an E.164 number normalises to itself")
		})
	}
}

func TestNormalizerRefuses(t *testing.T) {
	tests := []struct {
		name, country, number, why string
		strict                     bool
	}{
		{"too short for its country", "358", "0401", "not a possible number in the plan of country +358", false},
		{"too long for its country", "44", "020 7946 0958 1234", "not a possible number", false},
		{"letters", "358", "040 CALL ME", "contains letters", false},
		{"an extension", "44", "020 7946 0958 ext. 12", "contains letters", false},
		{"an extension after ;", "44", "+44 20 7946 0958;123", `contains ';'`, false},
		{"a pause and an extension", "44", "+44 20 7946 0958,,123", `contains ','`, false},
		{"an extension after #", "44", "+44 20 7946 0958 #123", `contains '#'`, false},
		{"a local number without its area code", "1", "555 0100", "only locally", false},
		{"a country code nobody has", "358", "+999 123 4567", "not a phone number", false},
		{"national without a default country", "", "040 123 4567", "no country code (+ or 00) and no default country", false},
		{"a default country nobody has", "999", "040 123 4567", "default country +999", false},
		{"possible but unassigned, strict", "1", "(212) 055-0100", "no range assigned", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := phonenumber.Normalizer{Strict: tt.strict}.NormalizePhone(tt.number, tt.country)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.why)
		})
	}
	// What strict refuses, the default accepts.
	got, err := phonenumber.Normalizer{}.NormalizePhone("(212) 055-0100", "1")
	require.NoError(t, err)
	assert.Equal(t, "+12120550100", got)
}

// Whatever is written, what the Normalizer returns it returns again when
// given it back: libphonenumber alone does not (it reads "+358 0 040…" as
// +3580401234567, and that as +358401234567).
func TestNormalizerIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	starts := []string{"", "0", "00", "+", "0 0", "8", "8 0", "1", "06", "011", "+39 (0)", "+358 0", "+49 0", "+375 8"}
	countries := []string{"", "358", "44", "39", "1", "7", "36", "370", "375", "49", "61", "241"}
	n, checked := phonenumber.Normalizer{}, 0
	for range 3000 {
		b := []byte(starts[rng.IntN(len(starts))])
		for range 6 + rng.IntN(8) {
			if rng.IntN(5) == 0 {
				b = append(b, ' ')
			}
			b = append(b, byte('0'+rng.IntN(10)))
		}
		country := countries[rng.IntN(len(countries))]
		got, err := n.NormalizePhone(string(b), country)
		if err != nil {
			continue
		}
		again, err := n.NormalizePhone(got, country)
		require.NoError(t, err, "%s with default country %q gave %s", b, country, got)
		require.Equal(t, got, again, "%s with default country %q", b, country)
		checked++
	}
	assert.Greater(t, checked, 500, "enough generated numbers are possible ones")
}

// The Normalizer plugs into contact.KeyRules: keys carry its E.164 form, and
// a refused number is a *contact.KeyError that quotes the key.
func TestKeyRulesWithNormalizer(t *testing.T) {
	rules := contact.KeyRules{DefaultCountry: "+39", Phone: phonenumber.Normalizer{}}
	got, err := rules.NormalizeAll([]string{"phone:06 1234 5678", "email:Anna@Example.com", "phone:+39 06 12345678"})
	require.NoError(t, err)
	assert.Equal(t, []string{"phone:+390612345678", "email:anna@example.com"}, got, "the two writings of one number are one key")

	_, err = rules.Normalize("phone:061")
	var ke *contact.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "phone:061", ke.Key)
	assert.Contains(t, ke.Reason, "not a possible number")
	assert.True(t, errors.Is(err, contact.ErrInvalidKey))
}

// A default country that no country has is refused when the rules are
// validated, as a Service is made, rather than with every national number.
func TestKeyRulesWithNormalizerValidateTheCountry(t *testing.T) {
	for _, cc := range []string{"358", "+1", "44"} {
		assert.NoError(t, contact.KeyRules{DefaultCountry: cc, Phone: phonenumber.Normalizer{}}.Validate(), cc)
	}
	err := contact.KeyRules{DefaultCountry: "999", Phone: phonenumber.Normalizer{}}.Validate()
	assert.ErrorIs(t, err, contact.ErrInvalidConfig)
	assert.ErrorContains(t, err, "default country +999: no country has that calling code")
	err = contact.KeyRules{DefaultCountry: "999"}.Validate()
	assert.ErrorContains(t, err, "default country +999: no country has that calling code", "the built-in rules too")
}

// On the numbers that both know, the built-in rules and the Normalizer
// agree, so that a deployment can move from one to the other. The
// built-in rules are more lenient with what is written wrongly: they read
// "+36 0 30…" and "+(0)44…" as a trunk written by habit, which
// libphonenumber refuses, and "0 040…" as a trunk written twice, which it
// reads as Finland's international prefix 00.
func TestNormalizerAgreesWithBuiltInRules(t *testing.T) {
	for _, c := range []struct{ country, number string }{
		{"358", "040 123 4567"}, {"358", "+358 040 123 4567"}, {"358", "+44 (0)20 7946 0958"},
		{"44", "020 7946 0958"}, {"39", "06 1234 5678"}, {"39", "+39 06 1234 5678"}, {"358", "+39 (0)6 1234 5678"},
		{"1", "1 (212) 555-0100"}, {"1", "212.555.0100"}, {"7", "8 (812) 123-45-67"}, {"7", "812 123 45 67"},
		{"36", "06 1 234 5678"}, {"49", "030 1234567"},
		{"33", "01 23 45 67 89"}, {"46", "08-123 456 78"}, {"370", "8 612 34567"}, {"370", "0 612 34567"},
		{"375", "8 029 123 45 67"}, {"225", "01 23 45 67 89"}, {"242", "06 123 4567"}, {"358", "+39 (0)347 123 4567"},
		{"375", "801 123 4567"}, {"375", "+375 801 123 4567"}, {"375", "8 801 123 4567"}, {"375", "+375 800 123 4567"},
		{"241", "0 77 88 99 88"}, {"241", "06 03 12 34"}, {"241", "+241 06 03 12 34"}, {"241", "01 44 12 34"},
		{"692", "1 247 1234"}, {"993", "8 66 123456"}, {"375", "8 902 123 4567"}, {"227", "+227 08 12 34 56"},
	} {
		key := "phone:" + c.number
		builtIn, err := contact.KeyRules{DefaultCountry: c.country}.Normalize(key)
		require.NoError(t, err, key)
		plan, err := contact.KeyRules{DefaultCountry: c.country, Phone: phonenumber.Normalizer{}}.Normalize(key)
		require.NoError(t, err, key)
		assert.Equal(t, builtIn, plan, "%s with default country %s", c.number, c.country)
	}
}

// A normaliser that breaks the contract is refused with what it returned.
func TestKeyRulesCheckTheNormalizersResult(t *testing.T) {
	rules := contact.KeyRules{Phone: brokenNormalizer{}}
	_, err := rules.Normalize("phone:+358401234567")
	var ke *contact.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Contains(t, ke.Reason, `normalised to "358401234567", which does not start with +`)
}

// A normaliser whose result normalises to something else is refused: the
// key would not be the customer's once normalised again.
func TestKeyRulesRefuseAnUnstableNormalizer(t *testing.T) {
	rules := contact.KeyRules{Phone: unstableNormalizer{}}
	_, err := rules.Normalize("phone:+35800401234567")
	var ke *contact.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Contains(t, ke.Reason, "normalised to +3580401234567, which does not normalise to itself")
}

// A normaliser that refuses its own result is refused with its reason.
func TestKeyRulesSayWhyTheNormalizerRefusesItsResult(t *testing.T) {
	rules := contact.KeyRules{Phone: selfRefusingNormalizer{}}
	_, err := rules.Normalize("phone:040 123 4567")
	var ke *contact.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "normalised to +358401234567, which it then refuses: is in no range assigned", ke.Reason)
}

// selfRefusingNormalizer turns every number into +358401234567 and then
// refuses that one.
type selfRefusingNormalizer struct{}

func (selfRefusingNormalizer) NormalizePhone(number, _ string) (string, error) {
	if number == "+358401234567" {
		return "", errors.New("is in no range assigned")
	}
	return "+358401234567", nil
}

// unstableNormalizer drops one 0 after the country code 358 at a time.
type unstableNormalizer struct{}

func (unstableNormalizer) NormalizePhone(number, _ string) (string, error) {
	if rest, ok := strings.CutPrefix(number, "+3580"); ok {
		return "+358" + rest, nil
	}
	return number, nil
}

type brokenNormalizer struct{}

func (brokenNormalizer) NormalizePhone(number, _ string) (string, error) {
	return number[1:], nil
}

// The built-in rules read the example numbers of every country and type
// in libphonenumber's metadata, written in E.164 and as that country
// writes them nationally, as libphonenumber does, with the country as the
// default: their table of trunk prefixes, and of the countries whose
// numbers start with 0, is that of the metadata. Two kinds of number are
// left out, as the package's documentation says: short numbers (of up to
// 5 digits without the country code: 02000 in Norway), which the built-in
// rules refuse or read as a national number with a trunk 0, and
// Argentine mobiles written nationally (0 11 15 2345-6789), whose 15 only
// a plan knows to drop.
func TestBuiltInRulesFollowEveryCountrysPlan(t *testing.T) {
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	regions := slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions()))
	checked := 0
	for _, region := range regions {
		for _, typ := range types {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil {
				continue
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if len(phonenumbers.GetNationalSignificantNumber(num)) < 6 {
				continue // a short number: 02000 in Norway, 9601 in Iran
			}
			rules := contact.KeyRules{DefaultCountry: strconv.Itoa(int(num.GetCountryCode()))}
			got, err := rules.Normalize("phone:" + e164)
			require.NoError(t, err, "%s %v %s", region, typ, e164)
			assert.Equal(t, "phone:"+e164, got, "%s %v in E.164", region, typ)
			if region == "AR" && typ == phonenumbers.MOBILE {
				continue
			}
			national := phonenumbers.Format(num, phonenumbers.NATIONAL)
			got, err = rules.Normalize("phone:" + national)
			require.NoError(t, err, "%s %v %q", region, typ, national)
			assert.Equal(t, "phone:"+e164, got, "%s %v written nationally: %q", region, typ, national)
			checked++
		}
	}
	assert.Greater(t, checked, 1000, "example numbers read")
}

// The built-in rules and a Normalizer read the valid numbers of every
// country and length of libphonenumber's metadata as it does: random ones,
// half of them starting with 0, written in E.164, with 00, as the country
// writes them nationally and internationally, and as the bare national
// number, each with the country as the default; numbers of the types a
// customer calls from (customerTypes), of up to 15 digits. A written form that
// libphonenumber itself does not read back as the number (Gabon's older
// numbers written nationally, Argentine mobiles written nationally) is
// left out. The example numbers (TestBuiltInRulesFollowEveryCountrysPlan)
// have one number of each type, which missed Burkina Faso's mobiles of 0.
func TestBuiltInRulesReadValidNumbersOfEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	coll, err := phonenumbers.MetadataCollection()
	require.NoError(t, err)
	numbers := 0
	for _, md := range coll.GetMetadata() {
		region, code := md.GetId(), int(md.GetCountryCode())
		if phonenumbers.GetRegionCodeForCountryCode(code) == phonenumbers.UNKNOWN_REGION || region == "001" {
			continue
		}
		cc := strconv.Itoa(code)
		for _, length := range md.GetGeneralDesc().GetPossibleLength() {
			if length < 6 || len(cc)+int(length) > 15 {
				continue // a short number (see TestBuiltInRulesFollowEveryCountrysPlan), or more digits than E.164's 15
			}
			for _, first := range []string{"0", ""} {
				found := 0
				for try := 0; try < 300 && found < 2; try++ {
					nsn := first
					for len(nsn) < int(length) {
						nsn += strconv.Itoa(rng.IntN(10))
					}
					num, err := phonenumbers.Parse("+"+cc+nsn, "ZZ")
					if err != nil || !phonenumbers.IsValidNumberForRegion(num, region) || phonenumbers.GetNationalSignificantNumber(num) != nsn ||
						!slices.Contains(customerTypes, phonenumbers.GetNumberType(num)) {
						continue
					}
					found++
					numbers++
					e164 := phonenumbers.Format(num, phonenumbers.E164)
					for _, form := range []string{e164, "00" + cc + nsn, phonenumbers.Format(num, phonenumbers.INTERNATIONAL),
						phonenumbers.Format(num, phonenumbers.NATIONAL), nsn} {
						if back, err := phonenumbers.Parse(form, region); err != nil || phonenumbers.Format(back, phonenumbers.E164) != e164 {
							continue
						}
						for name, rules := range map[string]contact.KeyRules{
							"built-in rules": {DefaultCountry: cc},
							"a Normalizer":   {DefaultCountry: cc, Phone: phonenumber.Normalizer{}},
						} {
							got, err := rules.Normalize("phone:" + form)
							if assert.NoError(t, err, "%s, %s %q", name, region, form) {
								assert.Equal(t, "phone:"+e164, got, "%s, %s %q", name, region, form)
							}
						}
					}
				}
			}
		}
	}
	assert.Greater(t, numbers, 500, "valid numbers read")
}

// customerTypes are the types of number that a customer calls or writes
// from; service numbers (toll-free, premium rate, shared cost, UAN), some
// of which start with 00 (0066… in Japan, 0004… in Uruguay), are not.
var customerTypes = []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE,
	phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER}

// The built-in rules accept as the default country exactly the calling
// codes of libphonenumber's metadata, as a Normalizer does.
func TestBuiltInRulesKnowEveryCallingCode(t *testing.T) {
	known := phonenumbers.GetSupportedCallingCodes()
	for code := 1; code <= 999; code++ {
		cc := strconv.Itoa(code)
		err := contact.KeyRules{DefaultCountry: cc}.Validate()
		_, parseErr := contact.KeyRules{DefaultCountry: cc}.Normalize("phone:210 123 4567")
		if _, ok := known[code]; ok {
			assert.NoError(t, err, "+%s", cc)
		} else {
			assert.ErrorIs(t, err, contact.ErrInvalidConfig, "+%s", cc)
			assert.ErrorContains(t, parseErr, "no country has that calling code", "+%s: rules never validated refuse it too", cc)
		}
		assert.Equal(t, err == nil, contact.KeyRules{DefaultCountry: cc, Phone: phonenumber.Normalizer{}}.Validate() == nil, "+%s", cc)
	}
}
