package contact_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
)

func TestKeyRulesNormalize(t *testing.T) {
	fi := contact.KeyRules{DefaultCountry: "358"}
	it := contact.KeyRules{DefaultCountry: "39"}
	us := contact.KeyRules{DefaultCountry: "1"}
	ru := contact.KeyRules{DefaultCountry: "7"}
	hu := contact.KeyRules{DefaultCountry: "36"}
	lt := contact.KeyRules{DefaultCountry: "370"}
	by := contact.KeyRules{DefaultCountry: "375"}
	tests := []struct {
		name  string
		rules contact.KeyRules
		key   string
		want  string
	}{
		{"phone with + and spaces", fi, "phone:+358 40 123 4567", "phone:+358401234567"},
		{"phone with 00", fi, "phone:00358401234567", "phone:+358401234567"},
		{"national phone with trunk 0", fi, "phone:(040) 123-4567", "phone:+358401234567"},
		{"national phone without trunk 0", fi, "phone:40 123 4567", "phone:+358401234567"},
		{"phone with dots", fi, "phone:040.123.4567", "phone:+358401234567"},
		{"phone with no-break spaces", contact.KeyRules{DefaultCountry: "33"}, "phone:01\u00a023\u00a045\u202f67 89", "phone:+33123456789"},
		{"phone with other dashes", fi, "phone:040\u2013123\u2011456\u22127", "phone:+358401234567"},
		{"trunk 0 after the default country", fi, "phone:+358 040 123 4567", "phone:+358401234567"},
		{"(0) after a country code", fi, "phone:+44 (0)20 7946 0958", "phone:+442079460958"},
		// Countries without a trunk prefix whose toll-free numbers start
		// with 0: a 0 by habit goes, theirs stays.
		{"(0) in Botswana", contact.KeyRules{DefaultCountry: "44"}, "phone:+267 (0)71 123 456", "phone:+26771123456"},
		{"0 by habit in Botswana", contact.KeyRules{DefaultCountry: "267"}, "phone:071 123 456", "phone:+26771123456"},
		{"Botswana's toll-free 0", contact.KeyRules{DefaultCountry: "267"}, "phone:0800 012 345", "phone:+2670800012345"},
		{"0 by habit in Niger", contact.KeyRules{DefaultCountry: "227"}, "phone:0 93 12 34 56", "phone:+22793123456"},
		{"Niger's premium 0", contact.KeyRules{DefaultCountry: "227"}, "phone:09 12 34 56", "phone:+22709123456"},
		{"0 by habit in Fiji", contact.KeyRules{DefaultCountry: "679"}, "phone:0 701 2345", "phone:+6797012345"},
		{"0 by habit in Macau", contact.KeyRules{DefaultCountry: "853"}, "phone:0 6612 3456", "phone:+85366123456"},
		{"Macau's toll-free 0", contact.KeyRules{DefaultCountry: "853"}, "phone:0800 501", "phone:+8530800501"},
		{"foreign number keeps its digits", fi, "phone:+1 (212) 555-0100", "phone:+12125550100"},
		{"default country with +", contact.KeyRules{DefaultCountry: "+44"}, "phone:020 7946 0958", "phone:+442079460958"},
		{"international without default", contact.KeyRules{}, "phone:+358401234567", "phone:+358401234567"},
		{"15 digits", fi, "phone:+123456789012345", "phone:+123456789012345"},
		{"padded key", fi, "  phone: +358401234567 ", "phone:+358401234567"},
		{"email lower-cased", fi, "email: Anna.Virtanen@Example.COM ", "email:anna.virtanen@example.com"},
		{"email with plus", fi, "email:anna+fcr@mail.example.fi", "email:anna+fcr@mail.example.fi"},
		{"email with the root's dot", fi, "email:anna@example.com.", "email:anna@example.com"},
		{"email with odd but valid characters", fi, "email:o'brien!#$%&*/=?^_`{|}~-x@ex-ample.co.uk", "email:o'brien!#$%&*/=?^_`{|}~-x@ex-ample.co.uk"},
		{"internationalised email", fi, "email:Jürgen@Bücher.DE", "email:jürgen@bücher.de"},
		{"email a carrier handed out", fi, "email:taro..yamada.@docomo.ne.jp", "email:taro..yamada.@docomo.ne.jp"},
		{"email to a host with an underscore", fi, "email:anna@mail_srv.example.com", "email:anna@mail_srv.example.com"},
		{"Italian national number keeps its 0", it, "phone:06 1234 5678", "phone:+390612345678"},
		{"Italian number after its country keeps its 0", it, "phone:+39 06 1234 5678", "phone:+390612345678"},
		{"Italian (0) is a digit", fi, "phone:+39 (0)6 1234 5678", "phone:+390612345678"},
		{"Italian number abroad keeps its 0", fi, "phone:0039 02 1234 5678", "phone:+390212345678"},
		{"Italian mobile", it, "phone:347 123 4567", "phone:+393471234567"},
		{"San Marino keeps its 0", contact.KeyRules{DefaultCountry: "378"}, "phone:0549 123456", "phone:+3780549123456"},
		{"North American trunk 1", us, "phone:1 (212) 555-0100", "phone:+12125550100"},
		{"North American ten digits", us, "phone:(212) 555-0100", "phone:+12125550100"},
		{"Russian trunk 8", ru, "phone:8 (812) 123-45-67", "phone:+78121234567"},
		{"Russian area code starting with 8", ru, "phone:812 123-45-67", "phone:+78121234567"},
		{"Russian toll-free", ru, "phone:8 800 123-45-67", "phone:+78001234567"},
		{"Hungarian trunk 06", hu, "phone:06 1 234 5678", "phone:+3612345678"},
		{"Hungarian trunk 06 after the country", hu, "phone:+36 06 1 234 5678", "phone:+3612345678"},
		{"Hungarian 0 after the country", hu, "phone:+36 0 30 123 4567", "phone:+36301234567"},
		{"Hungarian trunk written twice", hu, "phone:0606 30 123 4567", "phone:+36301234567"},
		{"Hungarian lone 0 before an area code of 6", hu, "phone:0 62 123 456", "phone:+3662123456"},
		{"Hungarian trunk 06 before an area code of 6", hu, "phone:06 62 123 456", "phone:+3662123456"},
		{"Hungarian lone 0 before 66 after the country", hu, "phone:+36 0 66 123 456", "phone:+3666123456"},
		{"trunk 0 written twice", fi, "phone:0 040 123 4567", "phone:+358401234567"},
		{"two zeros after the default country", fi, "phone:+358 00 40 123 4567", "phone:+358401234567"},
		{"(0) before the country code", fi, "phone:+(0)44 20 7946 0958", "phone:+442079460958"},
		{"Italian (0) before a mobile is a digit, as libphonenumber reads it", fi, "phone:+39 (0)347 123 4567", "phone:+3903471234567"},
		{"Lithuanian trunk 8", lt, "phone:8 612 34567", "phone:+37061234567"},
		{"Lithuanian trunk 0", lt, "phone:0 612 34567", "phone:+37061234567"},
		{"Lithuanian 800 without trunk", lt, "phone:800 12345", "phone:+37080012345"},
		{"Belarusian trunk 8 0", by, "phone:8 029 123 45 67", "phone:+375291234567"},
		{"Ivorian number keeps its 0", contact.KeyRules{DefaultCountry: "225"}, "phone:01 23 45 67 89", "phone:+2250123456789"},
		{"a trunk after +1", us, "phone:+1 1 212 555 0100", "phone:+12125550100"},
		{"North American trunk written twice", us, "phone:1 1 212 555 0100", "phone:+12125550100"},
		{"Russian trunk after +7", ru, "phone:+7 8 800 123 45 67", "phone:+78001234567"},
		{"Lithuanian trunk after +370", lt, "phone:+370 8 5 212 3456", "phone:+37052123456"},
		{"Belarusian trunk after +375", by, "phone:+375 8 029 123 45 67", "phone:+375291234567"},
		{"Belarusian trunk 8", by, "phone:8 17 123 45 67", "phone:+375171234567"},
		{"Belarusian toll-free keeps its 8", by, "phone:801 123 4567", "phone:+3758011234567"},
		{"Belarusian toll-free keeps its 8 after +375", by, "phone:+375 801 123 4567", "phone:+3758011234567"},
		{"Belarusian toll-free with the trunk 8", by, "phone:8 801 123 4567", "phone:+3758011234567"},
		{"Belarusian toll-free 800 keeps its 8", by, "phone:+375 800 123 4567", "phone:+3758001234567"},
		{"Gabonese trunk 0 before 8 digits", contact.KeyRules{DefaultCountry: "241"}, "phone:0 77 88 99 88", "phone:+24177889988"},
		{"Gabonese number of 8 digits keeps its 0", contact.KeyRules{DefaultCountry: "241"}, "phone:06 03 12 34", "phone:+24106031234"},
		{"Gabonese number of 8 digits keeps its 0 after +241", contact.KeyRules{DefaultCountry: "241"}, "phone:+241 06 03 12 34", "phone:+24106031234"},
		{"Burkinabe mobile keeps its 0", contact.KeyRules{DefaultCountry: "226"}, "phone:01 23 45 67", "phone:+22601234567"},
		{"Burkinabe mobile keeps its 0 after +226", contact.KeyRules{DefaultCountry: "226"}, "phone:+22601234567", "phone:+22601234567"},
		{"Tajik mobile of 00 written nationally", contact.KeyRules{DefaultCountry: "992"}, "phone:00 507 9437", "phone:+992005079437"},
		{"Tajik mobile of 00 after +992", contact.KeyRules{DefaultCountry: "992"}, "phone:+992 00 507 9437", "phone:+992005079437"},
		{"Tajik mobile of 00 after 00 992", contact.KeyRules{DefaultCountry: "992"}, "phone:00 992 00 507 9437", "phone:+992005079437"},
		{"00 dials abroad from Tajikistan", contact.KeyRules{DefaultCountry: "992"}, "phone:00 44 20 7946 0958", "phone:+442079460958"},
		{"Burkinabe trunk 0 written by habit", contact.KeyRules{DefaultCountry: "226"}, "phone:0 20 49 12 34", "phone:+22620491234"},
		{"Burkinabe (0) after +226", contact.KeyRules{DefaultCountry: "358"}, "phone:+226 (0) 20 49 12 34", "phone:+22620491234"},
		{"Tajik trunk 0 written by habit", contact.KeyRules{DefaultCountry: "992"}, "phone:0 37 212 3456", "phone:+992372123456"},
		{"Ascension number of 0 keeps it", contact.KeyRules{DefaultCountry: "247"}, "phone:071854", "phone:+247071854"},
		{"Rwandan trunk 0 before 9 digits", contact.KeyRules{DefaultCountry: "250"}, "phone:0 78 123 4567", "phone:+250781234567"},
		{"Rwandan number of 06 keeps its 0", contact.KeyRules{DefaultCountry: "250"}, "phone:06 05 12 95", "phone:+25006051295"},
		{"Rwandan number of 06 keeps its 0 after +250", contact.KeyRules{DefaultCountry: "250"}, "phone:+250 06 05 12 95", "phone:+25006051295"},
		{"Rwandan trunk 0 before a number of 06", contact.KeyRules{DefaultCountry: "250"}, "phone:+250 0 06 05 12 95", "phone:+25006051295"},
		{"a trunk after another country's code stays", fi, "phone:+46 08 123 456 78", "phone:+460812345678"},
		{"account trimmed", fi, "account:  A-1001 ", "account:A-1001"},
		// What shows as nothing is padding too, as an export leaves it.
		{"account trimmed of zero-width characters", fi, "account:\u200bA-1001\u00ad\u2060", "account:A-1001"},
		{"byte-order mark before the kind", fi, "\ufeffaccount:A-1001", "account:A-1001"},
		{"email trimmed of zero-width characters", fi, "email:Anna@Example.com\u200b", "email:anna@example.com"},
		{"phone trimmed of zero-width characters", fi, "phone:\ufeff040 123 4567\u200c", "phone:+358401234567"},
		{"zero-width characters inside a value stay", fi, "account:A\u200b1001", "account:A\u200b1001"},
		{"account keeps case", fi, "account:a-1001", "account:a-1001"},
		{"custom kind", fi, "twitter_id: 12345 ", "twitter_id:12345"},
		{"custom kind with dash and digits", fi, "crm-2:X 9", "crm-2:X 9"},
		{"value with a colon", fi, "ticket:ZD:42", "ticket:ZD:42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rules.Normalize(tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := tt.rules.Normalize(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "a normalised key normalises to itself")
		})
	}
}

func TestKeyRulesNormalizeRefuses(t *testing.T) {
	fi := contact.KeyRules{DefaultCountry: "358"}
	tests := []struct {
		name  string
		rules contact.KeyRules
		key   string
		why   string
	}{
		{"no colon", fi, "anna@example.com", "no colon"},
		{"empty kind", fi, ":anna", "no kind"},
		{"upper-case kind", fi, "Email:anna@example.com", "not a lower-case token"},
		{"kind starting with a digit", fi, "1phone:123", "not a lower-case token"},
		{"kind with a space", fi, "e mail:x", "not a lower-case token"},
		{"kind followed by a space", fi, "account :x", "not a lower-case token"},
		{"domain with a Hangul filler before the root's dot", fi, "email:anna@example.com\u3164.", `contains '\u3164'`},
		{"domain with a combining grapheme joiner", fi, "email:anna@exa\u034fmple.com", `contains '\u034f'`},
		{"kind followed by a zero-width joiner", fi, "account\u200d:x", "not a lower-case token"},
		{"empty value", fi, "account:", "no value"},
		{"blank value", fi, "account:   ", "no value"},
		{"empty key", fi, "", "no colon"},
		{"phone with letters", fi, "phone:040 CALL ME", "letters"},
		{"phone with a slash", fi, "phone:040/1234567", `contains '/'`},
		{"phone with a character of several bytes", fi, "phone:040 123 ☎ 4567", `contains '☎'`},
		{"phone with + inside", fi, "phone:040+1234567", "+ that does not start"},
		{"phone too short", fi, "phone:+3581", "too few"},
		{"phone national too short", fi, "phone:0401", "is +358401 with its country code: 6 digits, too few"},
		{"phone too long", fi, "phone:+1234567890123456", "more than the 15"},
		{"phone national without default", contact.KeyRules{}, "phone:040 123 4567", "no default country"},
		{"phone + then 0", fi, "phone:+0401234567", "no country code"},
		{"phone only 00", fi, "phone:00", "no country code"},
		{"bad default country", contact.KeyRules{DefaultCountry: "35a"}, "phone:0401234567", "default country"},
		{"email without @", fi, "email:anna.example.com", "no @"},
		{"email with two @", fi, "email:anna@x@example.com", "more than one @"},
		{"email without local part", fi, "email:@example.com", "nothing before the @"},
		{"email domain without dot", fi, "email:anna@localhost", "with a dot"},
		{"email domain ending in dot", fi, "email:anna@example.", "with a dot"},
		{"email with space", fi, "email:anna virtanen@example.com", "white space"},
		{"email with a no-break space", fi, "email:anna\u00a0virtanen@example.com", "white space"},
		{"email with an em space in the domain", fi, "email:anna@exa\u2003mple.com", "white space"},
		{"email in angle brackets", fi, "email:<anna@example.com>", "contains '<' before the @"},
		{"email with a display name", fi, "email:anna<anna@example.com>", "contains '<' before the @"},
		{"email followed by a semicolon", fi, "email:anna@example.com;", "contains ';'"},
		{"email with a NUL", fi, "email:an\x00na@example.com", "holds the control character U+0000"},
		{"email with a byte that is not UTF-8", fi, "email:\xffanna@example.com", "is not UTF-8"},
		{"email with a quoted local part", fi, "email:\"anna v\"@example.com", "white space"},
		{"email with a quote", fi, "email:\"anna\"@example.com", "contains '\"'"},
		{"email with an address literal", fi, "email:anna@[192.0.2.1]", "contains '['"},
		{"account not UTF-8", fi, "account:\xff\xfe", "is not UTF-8"},
		{"account with a NUL", fi, "account:A\x00B", "holds the control character U+0000"},
		{"account with a tab", fi, "account:A\tB", "holds the control character U+0009"},
		{"account with a line separator", fi, "account:A\u2028B", "value holds the line separator U+2028"},
		{"account with a right-to-left override", fi, "account:A\u202eB", "value holds the control of the direction of text U+202E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rules.Normalize(tt.key)
			require.Error(t, err, "got %q", got)
			assert.ErrorIs(t, err, contact.ErrInvalidKey)
			var ke *contact.KeyError
			require.True(t, errors.As(err, &ke))
			assert.Equal(t, tt.key, ke.Key)
			assert.Contains(t, err.Error(), strconv.Quote(tt.key), "the error quotes the key")
			assert.Contains(t, err.Error(), tt.why)
		})
	}
}

// A key longer than MaxText is refused, and the error quotes only its
// start.
func TestKeyRulesNormalizeRefusesALongKey(t *testing.T) {
	key := "account:" + strings.Repeat("a", contact.MaxText)
	_, err := contact.KeyRules{}.Normalize(key)
	require.ErrorIs(t, err, contact.ErrInvalidKey)
	assert.Contains(t, err.Error(), `identity key "account:aaaaaaaaaaaaaaaaaaaaaaaa"…: is 1032 bytes long, more than 1024`)
	_, err = contact.KeyRules{}.Normalize(key[:contact.MaxText])
	assert.NoError(t, err, "a key of MaxText bytes")
	n, err := contact.KeyRules{}.Normalize("account:A-1" + strings.Repeat(" ", 1100))
	require.NoError(t, err, "a key padded beyond MaxText, which trimming takes away")
	assert.Equal(t, "account:A-1", n)
}

// A key whose value grows when lower-cased ("Ⱥ", 2 bytes, is "ⱥ", 3) is
// measured once normalised too: the key stored is one that Parse takes.
func TestKeyRulesMeasureTheNormalisedKey(t *testing.T) {
	key := "email:" + strings.Repeat("\u023a", 500) + "@example.com" // 1018 bytes
	_, err := contact.KeyRules{}.Normalize(key)
	require.ErrorIs(t, err, contact.ErrInvalidKey)
	assert.Contains(t, err.Error(), "is 1518 bytes long once normalised, more than 1024")
	n, err := contact.KeyRules{}.Normalize("email:" + strings.Repeat("\u023a", 300) + "@example.com")
	require.NoError(t, err)
	again, err := contact.KeyRules{}.Normalize(n)
	require.NoError(t, err, "the normalised key is taken again")
	assert.Equal(t, n, again)
}

// A key whose value is invisible characters only would link every
// customer who has it: Parse refuses it, saying so, and NormalizeAll, and
// so an Open, drops it as it drops a withheld number.
func TestKeyRulesDropAKeyOfInvisibleCharacters(t *testing.T) {
	rules := contact.KeyRules{DefaultCountry: "358"}
	for key, shown := range map[string]string{"account:\u200b": `"\u200b"`, "account: \ufeff\u00ad ": `"\ufeff\u00ad"`} {
		_, err := rules.Parse(key)
		require.ErrorIs(t, err, contact.ErrInvalidKey, "%+q", key)
		assert.NotErrorIs(t, err, contact.ErrWithheld)
		assert.ErrorContains(t, err, "has a value of invisible characters only ("+shown+"), which identifies no one")
		var ke *contact.KeyError
		require.ErrorAs(t, err, &ke)
		assert.True(t, ke.Invisible)
		got, err := rules.NormalizeAll([]string{key, "phone:040 123 4567"})
		require.NoError(t, err, "%+q", key)
		assert.Equal(t, []string{"phone:+358401234567"}, got)
	}
}

func TestKeyRulesParse(t *testing.T) {
	k, err := contact.KeyRules{}.Parse("email:Anna@Example.com")
	require.NoError(t, err)
	assert.Equal(t, contact.Key{Kind: "email", Value: "anna@example.com"}, k)
	assert.Equal(t, "email:anna@example.com", k.String())
}

func TestKeyRulesNormalizeAll(t *testing.T) {
	rules := contact.KeyRules{DefaultCountry: "358"}
	got, err := rules.NormalizeAll([]string{"phone:040 123 4567", "email:ANNA@example.com", "phone:+358401234567"})
	require.NoError(t, err)
	assert.Equal(t, []string{"phone:+358401234567", "email:anna@example.com"}, got, "duplicates after normalising are dropped")

	_, err = rules.NormalizeAll([]string{"email:anna@example.com", "Phone:1"})
	assert.ErrorIs(t, err, contact.ErrInvalidKey)
}

// A withheld number identifies no one: Parse refuses it with ErrWithheld,
// and NormalizeAll drops it, so that the callers who withheld theirs do not
// become one customer.
func TestKeyRulesWithheldNumbers(t *testing.T) {
	rules := contact.KeyRules{DefaultCountry: "358"}
	for _, k := range []string{"phone:anonymous", "phone:Anonymous", "phone: WITHHELD ", "phone:private", "phone:Private Number",
		"phone:restricted", "phone:unavailable", "phone:unknown", "phone:blocked", "phone:no caller id", "phone:No-Caller-ID"} {
		_, err := rules.Parse(k)
		require.ErrorIs(t, err, contact.ErrWithheld, k)
		require.ErrorIs(t, err, contact.ErrInvalidKey, k)
		var ke *contact.KeyError
		require.ErrorAs(t, err, &ke)
		assert.True(t, ke.Withheld)
		assert.Contains(t, err.Error(), "withheld number, which identifies no one")

		got, err := rules.NormalizeAll([]string{k, "email:anna@example.com"})
		require.NoError(t, err, k)
		assert.Equal(t, []string{"email:anna@example.com"}, got, k)
	}
	// Not a phone key, or a number: not withheld.
	_, err := rules.Parse("account:anonymous")
	require.NoError(t, err)
	_, err = rules.Parse("phone:anonymous1")
	assert.NotErrorIs(t, err, contact.ErrWithheld)
	assert.ErrorIs(t, err, contact.ErrInvalidKey)
}

func TestKeyRulesValidate(t *testing.T) {
	for _, cc := range []string{"", "1", "358", "+44"} {
		assert.NoError(t, contact.KeyRules{DefaultCountry: cc}.Validate(), cc)
	}
	for _, cc := range []string{"0", "1234", "3x", "+"} {
		assert.ErrorIs(t, contact.KeyRules{DefaultCountry: cc}.Validate(), contact.ErrInvalidConfig, cc)
	}
	// A code that no country has, with the built-in rules or a phone
	// normaliser that does not say which codes it knows.
	for _, rules := range []contact.KeyRules{{DefaultCountry: "3"}, {DefaultCountry: "999", Phone: asWritten{}}} {
		err := rules.Validate()
		assert.ErrorIs(t, err, contact.ErrInvalidConfig, rules.DefaultCountry)
		assert.ErrorContains(t, err, "no country has that calling code")
		_, err = rules.Normalize("phone:210 123 4567")
		assert.ErrorContains(t, err, "no country has that calling code", "rules never validated")
	}
}

// asWritten is a PhoneNormalizer that is no CountryChecker.
type asWritten struct{}

func (asWritten) NormalizePhone(number, cc string) (string, error) { return "+" + cc + number, nil }

// Whatever is written, a phone key that normalises normalises again to
// itself, whatever the default country: a key stored normalised is the
// key of the same customer when it comes back.
func TestKeyRulesPhoneIsIdempotent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	starts := []string{"", "0", "00", "+", "0 0", "8", "1", "06", "+39 (0)", "+36 0", "+358 0", "+(0)"}
	countries := []string{"", "358", "44", "39", "1", "7", "36", "370", "375", "225", "378", "49"}
	checked := 0
	for range 20000 {
		b := []byte(starts[rng.IntN(len(starts))])
		for range 4 + rng.IntN(10) {
			if rng.IntN(5) == 0 {
				b = append(b, " -.()"[rng.IntN(5)])
			}
			b = append(b, byte('0'+rng.IntN(10)))
		}
		rules := contact.KeyRules{DefaultCountry: countries[rng.IntN(len(countries))]}
		key := "phone:" + string(b)
		got, err := rules.Normalize(key)
		if err != nil {
			continue
		}
		again, err := rules.Normalize(got)
		require.NoError(t, err, "%s with default country %q gave %s", key, rules.DefaultCountry, got)
		require.Equal(t, got, again, "%s with default country %q", key, rules.DefaultCountry)
		checked++
	}
	assert.Greater(t, checked, 5000, "most generated numbers normalise")
}

// emailFunc adapts a function to a contact.EmailNormalizer.
type emailFunc func(string) (string, error)

func (f emailFunc) NormalizeEmail(addr string) (string, error) { return f(addr) }

// KeyRules.Email normalises an address before the built-in rules, which
// still apply to what it returns; its refusal, and a result that does not
// normalise to itself, refuse the key and say why.
func TestKeyRulesEmailNormalizer(t *testing.T) {
	upper := contact.KeyRules{Email: emailFunc(func(a string) (string, error) { return strings.ToUpper(a) + ".", nil })}
	got, err := upper.Normalize("email: anna@example.com ")
	require.NoError(t, err)
	assert.Equal(t, "email:anna@example.com", got, "lower-cased and the root's dot dropped after it")

	refuses := contact.KeyRules{Email: emailFunc(func(string) (string, error) { return "", errors.New("no such mailbox") })}
	_, err = refuses.Normalize("email:anna@example.com")
	require.ErrorIs(t, err, contact.ErrInvalidKey)
	assert.EqualError(t, err, `identity key "email:anna@example.com": no such mailbox`)

	unstable := contact.KeyRules{Email: emailFunc(func(a string) (string, error) { return "x" + a, nil })}
	_, err = unstable.Normalize("email:anna@example.com")
	require.ErrorIs(t, err, contact.ErrInvalidKey)
	assert.ErrorContains(t, err, `normalised to "xanna@example.com", which does not normalise to itself but to "xxanna@example.com"`)

	// A normaliser that drops the dots before the @, as Gmail's addresses
	// allow, may leave a character that shows as nothing first, which
	// Parse would trim the next time: another key.
	dots := contact.KeyRules{Email: emailFunc(func(a string) (string, error) {
		local, domain, _ := strings.Cut(a, "@")
		return strings.ReplaceAll(local, ".", "") + "@" + domain, nil
	})}
	for _, key := range []string{"email:.\u3164anna@gmail.com", "email:.\u034fanna@gmail.com", "email:.\uffa0anna@gmail.com"} {
		_, err = dots.Normalize(key)
		require.ErrorIs(t, err, contact.ErrInvalidKey, "%+q", key)
		assert.ErrorContains(t, err, "which starts or ends with a character that shows as nothing", "%+q", key)
	}
	got, err = dots.Normalize("email:a.nna@gmail.com")
	require.NoError(t, err)
	assert.Equal(t, "email:anna@gmail.com", got)

	bad := contact.KeyRules{Email: emailFunc(func(string) (string, error) { return "not an address", nil })}
	_, err = bad.Normalize("email:anna@example.com")
	require.ErrorIs(t, err, contact.ErrInvalidKey, "the built-in rules check what it returns")

	// Other kinds do not ask it.
	got, err = refuses.Normalize("account:A-1")
	require.NoError(t, err)
	assert.Equal(t, "account:A-1", got)
}
