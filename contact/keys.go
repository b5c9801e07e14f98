package contact

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/truefcr/truefcr/internal/text"
)

// KeyRules says how identity keys are normalised. The zero value accepts
// phone numbers only with their country code.
type KeyRules struct {
	// DefaultCountry is the country calling code ("358", "1", "44"; a
	// leading "+" is allowed) given to phone numbers written without one.
	DefaultCountry string
	// Phone, when set, normalises phone numbers instead of the built-in
	// rules (see Parse), which know the trunk prefixes of a few countries
	// and no numbering plan: contact/phonenumber offers one with every
	// country's plan (libphonenumber's).
	Phone PhoneNormalizer
	// Email, when set, normalises email addresses before the built-in
	// rules (see Parse), which lower-case an address but know neither
	// Unicode's normalisation forms nor internationalised domain names:
	// contact/emailaddr offers one that does.
	Email EmailNormalizer

	// spacesOnly: trim keys of white space only, as the rules did before
	// they trimmed the characters that show as nothing too; idempotency
	// fingerprints of versions before f5 are compared so.
	spacesOnly bool
}

// PhoneNormalizer turns a phone number as written into E.164. Number is
// the value of a "phone:" key, trimmed; defaultCountry is
// KeyRules.DefaultCountry without its "+", "" when unset. The error says
// why the number is refused. KeyRules refuses the key too when the result
// is not "+" and 7 to 15 digits, or does not normalise to itself (the
// error of that second call says why).
type PhoneNormalizer interface {
	NormalizePhone(number, defaultCountry string) (string, error)
}

// EmailNormalizer turns an email address as written (the value of an
// "email:" key, trimmed) into the form in which keys are compared. The
// error says why the address is refused. KeyRules then applies its own
// rules to the result (see Parse), and refuses the key too when that does
// not normalise to itself (the error of that second call says why).
type EmailNormalizer interface {
	NormalizeEmail(addr string) (string, error)
}

// CountryChecker is a PhoneNormalizer that knows which country calling
// codes exist: KeyRules.Validate asks it about DefaultCountry, so that a
// code that no country has is refused once, not with every national
// number.
type CountryChecker interface {
	CheckCountry(code string) error
}

// Key is a parsed identity key: kind and value, as in "email:anna@example.com".
type Key struct {
	Kind  string
	Value string
}

// String returns the key as "kind:value".
func (k Key) String() string { return k.Kind + ":" + k.Value }

// KeyError reports an identity key that cannot be used: which key and why.
// It matches ErrInvalidKey, and ErrWithheld when the key is a withheld
// phone number.
type KeyError struct {
	Key    string
	Reason string
	// Withheld says that the key is a phone number withheld by the caller
	// ("phone:anonymous"), which identifies no one.
	Withheld bool
	// Invisible says that the key's value is invisible characters only
	// (a zero-width space, a byte order mark), which identify no one
	// either.
	Invisible bool
}

// identifiesNoOne reports whether err is the KeyError of a key that
// identifies no one, which NormalizeAll drops.
func identifiesNoOne(err error) bool {
	var ke *KeyError
	return errors.As(err, &ke) && (ke.Withheld || ke.Invisible)
}

// Error returns the quoted key (its start when it is longer than 32
// bytes) and the reason.
func (e *KeyError) Error() string {
	return fmt.Sprintf("identity key %s: %s", abbreviate(e.Key), e.Reason)
}

// Unwrap returns ErrInvalidKey, and ErrWithheld for a withheld number.
func (e *KeyError) Unwrap() []error {
	if e.Withheld {
		return []error{ErrInvalidKey, ErrWithheld}
	}
	return []error{ErrInvalidKey}
}

// withheldNumbers are what telephony systems send for a caller whose
// number is withheld, lower-cased and without spaces, dashes and
// underscores.
var withheldNumbers = []string{"anonymous", "withheld", "private", "privatenumber", "restricted",
	"unavailable", "unknown", "blocked", "nocallerid", "notavailable"}

// isWithheld reports whether the value of a phone key says that the
// caller withheld the number.
func isWithheld(v string) bool {
	v = strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '_' || isDash(r):
			return -1
		}
		return unicode.ToLower(r)
	}, v)
	return slices.Contains(withheldNumbers, v)
}

// Validate reports whether the rules are usable: DefaultCountry, when set,
// is a country calling code that exists: when Phone is a CountryChecker,
// one that it accepts; otherwise one of the 215 of libphonenumber's
// metadata (Parse refuses a phone key under another too). A
// code that no country has would give numbers that another country's
// code starts with that country's numbers ("3" would make +30 210…,
// Greek, +32 10…, Belgian).
func (r KeyRules) Validate() error {
	cc, err := r.country()
	if err == nil && cc != "" {
		if c, ok := r.Phone.(CountryChecker); ok {
			err = c.CheckCountry(cc)
		}
	}
	if err != nil {
		return fmt.Errorf("key rules: %w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// callingCodes are the country calling codes of libphonenumber's
// metadata (v1.8.1), each between spaces.
const callingCodes = " 1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 " +
	"54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 " +
	"98 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 " +
	"231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 " +
	"247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 " +
	"264 265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 " +
	"355 356 357 358 359 370 371 372 373 374 375 376 377 378 380 381 " +
	"382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 " +
	"507 508 509 590 591 592 593 594 595 596 597 598 599 670 672 673 " +
	"674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 " +
	"691 692 800 808 850 852 853 855 856 870 878 880 881 882 883 886 " +
	"888 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 " +
	"976 977 979 992 993 994 995 996 998 "

func (r KeyRules) country() (string, error) {
	raw := strings.TrimSpace(r.DefaultCountry)
	if raw == "" {
		return "", nil
	}
	cc := strings.TrimPrefix(raw, "+")
	if cc == "" || len(cc) > 3 || cc[0] == '0' || !allDigits(cc) {
		return "", fmt.Errorf("default country %q is not a country calling code of 1 to 3 digits", r.DefaultCountry)
	}
	if _, checks := r.Phone.(CountryChecker); !checks && !strings.Contains(callingCodes, " "+cc+" ") {
		// A CountryChecker says itself which codes it knows (Validate).
		return "", fmt.Errorf("default country +%s: no country has that calling code", cc)
	}
	return cc, nil
}

// Parse parses and normalises one identity key "kind:value". The key and
// its value are trimmed first, of white space and of the characters that
// show as nothing (a byte-order mark, which exports leave in text,
// zero-width spaces and joiners, a soft hyphen…), as the Service trims a
// customer's id: "account:42" and "\ufeffaccount:42\u200b" are one key.
// Then, by kind:
//
//   - phone: to E.164 ("+358401234567"): spaces (no-break ones too), dashes
//     (en dashes, minus signs…), dots and parentheses are dropped, and "00" or "+" introduces the
//     country code. A number without one takes DefaultCountry's, without the
//     trunk prefix that national callers dial before it, as often as it was
//     written: 0 in most countries (with DefaultCountry "358",
//     "040 123 4567" is +358401234567), 1 in North America, 06 (before the
//     8 or 9 digits of a number, as numbers start with 6 too) or 0 in
//     Hungary; 8 in Russia and Kazakhstan, 8 or 0 in Lithuania, 8 0, 8 or 0
//     in Belarus, where a prefix with an 8 is dropped only when the number
//     with it has the length of a national number with a trunk prefix (11
//     digits in Russia), as numbers there start with 8 too (in Belarus,
//     only before a number's first digit: 8 801 123 4567 is
//     +3758011234567, and so are 801 123 4567 and +375 801 123 4567); 0
//     in Gabon before the 8 digits of a number of its newer plan, not in
//     its older numbers of 8, which start with 0 (06 03 12 34 is
//     +24106031234); 0 in Rwanda before the 9 digits of a number, or
//     before one of its older numbers of 8, which start with 0 (06 05 12
//     95 is +25006051295); 1 in the Marshall Islands and 8 in Turkmenistan
//     before a number of their lengths; a 0 written by habit before a
//     number of their lengths in the countries without a trunk prefix
//     whose toll-free numbers or mobiles start with 0 (Niger, Botswana,
//     Eswatini, Belize, Tonga, Fiji, New Caledonia, Macau, Burkina Faso,
//     Tajikistan), whose 0 stays (01 23 45 67 in Burkina Faso is
//     +22601234567; in Tajikistan a number of 9 digits written with 00 is
//     a national one, 00 507 9437 is +992005079437, as its international
//     prefix is 810); and none where numbers start with 0, which stays a
//     digit of the number: Italy and Vatican City (39; with DefaultCountry
//     "39", "06 1234 5678" is +390612345678), San Marino (378), Côte
//     d'Ivoire (225), Benin (229), Congo (242) and Ascension (247).
//     These are the trunk prefixes of libphonenumber's metadata: the rules
//     read its example numbers of every country, and valid numbers of
//     every country and length of the types that customers call from, as
//     it does, but for short numbers (of up to 5 digits) and Argentine
//     mobiles written nationally ("011 15 2345-6789", whose 15 a plan
//     drops). A number written with a country code keeps its digits,
//     but for two habits: "(0)" in it is dropped ("+44 (0)20…") unless its
//     country's numbers start with 0, and after DefaultCountry's own code
//     the trunk prefix is dropped as above ("+358 040…", "+7 8 800…"). These
//     rules know no numbering plan (a local number without its area code,
//     another country's trunk prefix after its code and international
//     prefixes other than 00 are taken as written, and a number written with
//     its country code but neither + nor 00, "358401234567", is taken as a
//     national one and given the code again); KeyRules.Phone replaces them
//     with one;
//   - email: trimmed and lower-cased, a dot ending the domain dropped; an
//     address as RFC 5322 writes it without quotes: before the @, letters,
//     digits, !#$%&'*+-/=?^_`{|}~ and dots (any printable character beyond
//     ASCII too, as internationalised addresses have them, but no byte
//     that is not UTF-8); after it, a domain name of letters, digits,
//     hyphens and underscores with a dot, letters and digits beyond ASCII
//     included (but for those that show as nothing, the Hangul fillers).
//     Quoted local parts, address literals ("[192.0.2.1]") and a display
//     form ("Anna <anna@example.com>") are refused. These rules compare
//     an address's characters as written: a composed "é" and an "e" with
//     a combining accent, or a domain in Unicode and in its ASCII form
//     ("bücher.de", "xn--bcher-kva.de"), make two keys; KeyRules.Email
//     normalises the address first, as contact/emailaddr does;
//   - account: and any other lower-case kind: the value trimmed.
//
// Every key, trimmed and once normalised, is at most MaxText bytes, and
// its value UTF-8 text without control characters (a tab, a NUL), line or
// paragraph separators or controls of the direction of text, whatever its
// kind.
//
// A phone key whose value says that the number was withheld ("anonymous",
// "withheld", "private", "restricted", "unavailable", "unknown",
// "blocked", "no caller id", in any case) is refused with ErrWithheld:
// it identifies no one; so is a key whose value is invisible characters
// only (KeyError.Invisible).
//
// The error is a *KeyError that quotes the key and says why.
func (r KeyRules) Parse(key string) (Key, error) {
	fail := func(format string, args ...any) (Key, error) {
		return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	trim := text.Trim
	trimmed := strings.TrimSpace(key)
	if r.spacesOnly {
		trim = strings.TrimSpace
	} else {
		// The start of the kind; the value's end is trimmed below, where
		// a value of invisible characters only is told from none.
		trimmed = strings.TrimLeftFunc(trimmed, text.Blank)
	}
	if len(trimmed) > MaxText {
		return fail("is %d bytes long, more than %d", len(trimmed), MaxText)
	}
	kind, value, ok := strings.Cut(trimmed, ":")
	if !ok {
		return fail("has no colon; want kind:value")
	}
	if kind == "" {
		return fail("has no kind before the colon")
	}
	if !isToken(kind) {
		return fail("kind %q is not a lower-case token ([a-z][a-z0-9_-]*)", kind)
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return fail("has no value after the colon")
	}
	if text.Trim(value) == "" {
		// A key that shows as nothing would link every customer who has
		// it, as a withheld number would.
		return Key{}, &KeyError{Key: key, Reason: fmt.Sprintf("has a value of invisible characters only (%+q), which identifies no one", value), Invisible: true}
	}
	value = trim(value)
	if problem := textProblem(value); problem != "" {
		return fail("value %s", problem)
	}
	switch kind {
	case "phone":
		if isWithheld(value) {
			return Key{}, &KeyError{Key: key, Reason: "is a withheld number, which identifies no one", Withheld: true}
		}
		cc, err := r.country()
		if err != nil {
			return fail("%v", err)
		}
		if r.Phone == nil {
			v, reason := normalisePhone(value, cc)
			if reason != "" {
				return fail("%s", reason)
			}
			value = v
			break
		}
		v, err := r.Phone.NormalizePhone(value, cc)
		if err != nil {
			return fail("%v", err)
		}
		if reason := checkE164(v); reason != "" {
			return fail("normalised to %q, which %s", v, reason)
		}
		// A key must normalise to itself, or the same customer would be
		// two keys once a stored key is normalised again.
		again, err := r.Phone.NormalizePhone(v, cc)
		switch {
		case err != nil:
			return fail("normalised to %s, which it then refuses: %v", v, err)
		case again != v:
			return fail("normalised to %s, which does not normalise to itself but to %s", v, again)
		}
		value = v
	case "email":
		v, reason := r.email(value)
		if reason != "" {
			return fail("%s", reason)
		}
		if r.Email != nil {
			// As with phone numbers: a key must normalise to itself.
			// Quoted with escapes: two forms of one letter look alike.
			switch again, reason := r.email(v); {
			case reason != "":
				return fail("normalised to %+q, which it then refuses: %s", v, reason)
			case again != v:
				return fail("normalised to %+q, which does not normalise to itself but to %+q", v, again)
			case !r.spacesOnly && text.Trim(v) != v:
				// Parse would trim it the next time: another key.
				return fail("normalised to %+q, which starts or ends with a character that shows as nothing", v)
			}
		}
		value = v
	}
	// Lower case can take more bytes than upper ("Ⱥ", 2, is "ⱥ", 3): the
	// key as stored must be one that Parse takes again.
	if n := len(kind) + 1 + len(value); n > MaxText {
		return fail("is %d bytes long once normalised, more than %d", n, MaxText)
	}
	return Key{Kind: kind, Value: value}, nil
}

// email normalises the email address value, or says why it is refused:
// Email's normalisation first, where set, then the built-in rules.
func (r KeyRules) email(value string) (string, string) {
	if r.Email != nil {
		v, err := r.Email.NormalizeEmail(value)
		if err != nil {
			return "", err.Error()
		}
		value = v
	}
	value = strings.ToLower(value)
	if local, domain, ok := strings.Cut(value, "@"); ok && strings.HasSuffix(domain, ".") && !strings.HasSuffix(domain, "..") {
		value = local + "@" + domain[:len(domain)-1] // the root's dot
	}
	if reason := checkEmail(value, !r.spacesOnly); reason != "" {
		return "", reason
	}
	return value, ""
}

// Normalize returns the normalised form of one identity key; see Parse.
func (r KeyRules) Normalize(key string) (string, error) {
	k, err := r.Parse(key)
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// NormalizeAll normalises keys, dropping the ones that normalise to a key
// already seen and those that identify no one: withheld phone numbers
// ("phone:anonymous", which a telephony system sends for a caller who
// withheld the number, and which would make every such caller one
// customer) and values of invisible characters only; it keeps their
// order: nil when none is left. It fails on the first other bad key.
func (r KeyRules) NormalizeAll(keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		n, err := r.Normalize(k)
		if identifiesNoOne(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// E.164 allows at most 15 digits; fewer than 7 is no real subscriber number.
const (
	minPhoneDigits = 7
	maxPhoneDigits = 15
)

// normalisePhone returns the E.164 form of v, or why there is none. cc is
// the default country calling code, "" for none.
func normalisePhone(v, cc string) (string, string) {
	international := false
	switch {
	case strings.HasPrefix(v, "+"):
		international, v = true, v[1:]
	case strings.HasPrefix(v, "00") && !nationalWithDoubleZero(v, cc):
		international, v = true, v[2:]
	}
	d, reason := phoneDigits(v)
	if reason != "" {
		return "", reason
	}
	switch {
	case international:
		// "+44 (0)20 …": the trunk 0 written for national callers, which
		// is a digit of the number where numbers start with 0.
		if strings.Contains(v, "(0)") {
			if without, _ := phoneDigits(strings.Replace(v, "(0)", "", 1)); !keepsLeadingZero(without) {
				d = without
			}
		}
		if d == "" || d[0] == '0' {
			return "", "has no country code after + or 00"
		}
		// "+358 040 …": the default country's trunk written after it.
		if cc != "" && strings.HasPrefix(d, cc) {
			d = cc + dropTrunks(d[len(cc):], cc)
		}
	case cc == "":
		return "", "has no country code (+ or 00) and no default country is set"
	default:
		d = cc + dropTrunks(d, cc)
	}
	switch n := len(d); {
	case n < minPhoneDigits:
		return "", fmt.Sprintf("is +%s with its country code: %d digits, too few for a phone number", d, n)
	case n > maxPhoneDigits:
		return "", fmt.Sprintf("is +%s with its country code: %d digits, more than the 15 of E.164", d, n)
	}
	return "+" + d, ""
}

// isDash reports whether c is a dash: a hyphen of any kind (an en dash, a
// non-breaking hyphen…) or a minus sign.
func isDash(c rune) bool { return unicode.Is(unicode.Pd, c) || c == '\u2212' }

// phoneDigits returns the digits of v, dropping spaces (a no-break space
// too, as French numbers are often written), dashes of any kind, dots and
// parentheses, or why v is not a phone number.
func phoneDigits(v string) (string, string) {
	digits := make([]byte, 0, len(v))
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, byte(c))
		case unicode.IsSpace(c) || isDash(c) || c == '.' || c == '(' || c == ')':
		case c == '+':
			return "", "has a + that does not start the number"
		case unicode.IsLetter(c):
			return "", "contains letters"
		default:
			return "", fmt.Sprintf("contains %q", c)
		}
	}
	return string(digits), ""
}

// trunk is a prefix that national callers of a country dial before a
// number, and, where numbers may also start with the prefix's digits, how
// many digits a national number has with it: exactly digits (0 when any
// number), and at least least; and the digits that the number after it
// may start with ("" for any).
type trunk struct {
	prefix string
	digits int
	least  int
	next   string
}

// trunks holds, by country calling code, the trunk prefixes of the
// countries where it is not a single 0, the longest first: those of
// libphonenumber's metadata, with the lengths that tell a trunk prefix
// from a number's first digit. Country calling codes are prefix-free: a
// number's digits start with at most one of them.
var trunks = map[string][]trunk{
	"1": {{"1", 0, 0, ""}},  // North America: numbers start with 2-9
	"7": {{"8", 11, 0, ""}}, // Russia, Kazakhstan: numbers start with 8 too (812, 800)
	// Hungary: 06, or a lone 0 by habit; numbers of 8 digits start with 6
	// too (Szeged 62), so 06 is the trunk prefix only before 8 or 9 digits.
	"36":  {{"06", 0, 10, ""}, {"0", 0, 0, ""}},
	"370": {{"8", 9, 0, ""}, {"0", 0, 0, ""}}, // Lithuania: 8 until 2025, then 0; numbers start with 8 too (800)
	// Belarus: 8 0, 8 or 0 before the 9 digits of a number, which starts
	// with 1 to 9; or 8 before the 10 of a number that starts with 8 or 9
	// (8 801 123 4567, 8 902 123 4567), and without which it has 10 digits
	// too.
	"375": {{"80", 11, 0, "123456789"}, {"8", 10, 0, "123456789"}, {"8", 11, 0, "89"}, {"0", 10, 0, ""}},
	// Gabon: 0 before the 8 digits of a number of the newer plan (0 77 88
	// 99 88); those of the older plan, of 8 digits, start with 0 (01 44 12
	// 34), as libphonenumber reads them.
	"241": {{"0", 9, 0, ""}},
	"692": {{"1", 8, 0, ""}, {"0", 8, 0, ""}}, // Marshall Islands: 1, or 0 by habit, before the 7 digits of a number
	"993": {{"8", 9, 0, ""}, {"0", 9, 0, ""}}, // Turkmenistan: 8, or 0 by habit, before the 8 digits of a number
	// Rwanda: 0 before the 9 digits of a number (0 78 123 4567), or before
	// one of its older numbers of 8, which start with 0 (0 06 05 12 95);
	// the 0 of those (06 05 12 95) stays.
	"250": {{"0", 10, 0, ""}, {"0", 9, 0, "0"}},
	// Burkina Faso (8 digits) and Tajikistan (9): no trunk prefix, and
	// numbers that start with 0 (01… to 07…; 00… to 09…), whose 0 stays;
	// a 0 written by habit before a number of their length is dropped.
	"226": {{"0", 9, 0, ""}},
	"992": {{"0", 10, 0, ""}},
	// Countries without a trunk prefix whose toll-free or premium numbers
	// start with 0: a 0 written by habit before a number of the country's
	// lengths is dropped, the 0 of those numbers (of other lengths, or of
	// the same length as a number without the 0) stays.
	"227": {{"0", 9, 0, ""}},                   // Niger: 8 digits; 08…, 09… of 8
	"267": {{"0", 8, 0, ""}, {"0", 9, 0, ""}},  // Botswana: 7 or 8 digits; 0800… of 10
	"268": {{"0", 9, 0, ""}, {"0", 10, 0, ""}}, // Eswatini: 8 or 9 digits; 0800… of 8
	"501": {{"0", 8, 0, ""}},                   // Belize: 7 digits; 0800… of 11
	"676": {{"0", 6, 0, ""}, {"0", 8, 0, ""}},  // Tonga: 5 or 7 digits; 0800… of 7
	"679": {{"0", 8, 0, ""}},                   // Fiji: 7 digits; 0800… of 11
	"687": {{"0", 7, 0, ""}},                   // New Caledonia: 6 digits; 05… of 6
	"853": {{"0", 9, 0, ""}},                   // Macau: 8 digits; 0800… of 7
}

// leadingZero holds the countries without a trunk prefix whose numbers
// start with 0: there a leading 0 is a digit of the number.
var leadingZero = []string{
	"39",  // Italy and Vatican City: Rome 06, Milan 02
	"225", // Côte d'Ivoire
	"229", // Benin
	"242", // Congo
	"247", // Ascension: 0… of 6 digits
	"378", // San Marino: 0549
}

// nationalDoubleZero holds, by country calling code, how many digits the
// national numbers of a country have where they may start with 00, which
// is not its international prefix (Tajikistan's is 810): a number of
// that length written with 00 and no + is a national one of DefaultCountry
// ("00 507 9437" in Tajikistan is +992005079437), where elsewhere 00 dials
// abroad. The international numbers that are as long behind 00 (Niue's
// and Tokelau's, of 4 digits) are then to be written with +.
var nationalDoubleZero = map[string]int{
	"992": 9,
}

// nationalWithDoubleZero reports whether v, which starts with 00, is a
// national number of country cc (nationalDoubleZero).
func nationalWithDoubleZero(v, cc string) bool {
	n, ok := nationalDoubleZero[cc]
	if !ok {
		return false
	}
	d, reason := phoneDigits(v)
	return reason == "" && len(d) == n
}

// keepsLeadingZero reports whether d, a country calling code or an
// international number with its country code first, is of a country whose
// numbers start with 0.
func keepsLeadingZero(d string) bool {
	for _, cc := range leadingZero {
		if strings.HasPrefix(d, cc) {
			return true
		}
	}
	return false
}

// dropTrunks returns the national number d of country cc without the trunk
// prefix written before it, as often as it was written ("0 040…"). What
// comes out starts with no prefix that it drops, and normalises to itself.
func dropTrunks(d, cc string) string {
	if keepsLeadingZero(cc) {
		return d
	}
	ts, ok := trunks[cc]
	if !ok {
		ts = []trunk{{"0", 0, 0, ""}}
	}
	for dropped := true; dropped; {
		dropped = false
		for _, t := range ts {
			if strings.HasPrefix(d, t.prefix) && (t.digits == 0 || len(d) == t.digits) && len(d) >= t.least &&
				(t.next == "" || len(d) > len(t.prefix) && strings.IndexByte(t.next, d[len(t.prefix)]) >= 0) {
				d, dropped = d[len(t.prefix):], true
				break
			}
		}
	}
	return d
}

// checkE164 says why v is not a phone number in E.164, or "".
func checkE164(v string) string {
	d, ok := strings.CutPrefix(v, "+")
	switch {
	case !ok:
		return "does not start with +"
	case d == "" || d[0] == '0':
		return "has no country code after the +"
	case !allDigits(d):
		return "has more than digits after the +"
	case len(d) < minPhoneDigits || len(d) > maxPhoneDigits:
		return fmt.Sprintf("has %d digits, not 7 to 15", len(d))
	}
	return ""
}

// checkEmail says why v is not an address, or "". noBlank refuses a
// domain with a character that shows as nothing (see notDomainRune), which
// the rules of f4 fingerprints and before took.
func checkEmail(v string, noBlank bool) string {
	local, domain, ok := strings.Cut(v, "@")
	switch {
	case !ok:
		return "has no @"
	case strings.Contains(domain, "@"):
		return "has more than one @"
	case local == "":
		return "has nothing before the @"
	case strings.IndexFunc(v, unicode.IsSpace) >= 0:
		return "contains white space"
	case !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return fmt.Sprintf("domain %q is not a domain name with a dot", domain)
	}
	if i := strings.IndexFunc(local, notAtext); i >= 0 {
		r, _ := utf8.DecodeRuneInString(local[i:])
		return fmt.Sprintf("contains %q before the @, which an address does not (write the address alone)", r)
	}
	if i := strings.IndexFunc(domain, notDomainRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(domain[i:])
		return fmt.Sprintf("domain %q contains %q, which a domain name does not", domain, r)
	}
	if i := strings.IndexFunc(domain, text.Blank); noBlank && i >= 0 {
		// Quoted with escapes: it shows as nothing.
		r, _ := utf8.DecodeRuneInString(domain[i:])
		return fmt.Sprintf("domain %+q contains %+q, which shows as nothing and which a domain name does not", domain, r)
	}
	return ""
}

// notAtext reports whether r may not appear in the part of an address
// before the @: RFC 5322's atext and dots (where they stand is not checked:
// carriers have handed out addresses with two dots in a row, or one
// before the @), and any printable character beyond ASCII (RFC 6531).
func notAtext(r rune) bool {
	if r < utf8.RuneSelf {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r))
	}
	return r == utf8.RuneError || !unicode.IsGraphic(r) || unicode.IsSpace(r)
}

// notDomainRune reports whether r may not appear in a domain name: letters,
// digits, hyphens, underscores (which some hosts' names have) and dots,
// letters and digits beyond ASCII included. checkEmail refuses those of
// them that show as nothing too (text.Blank: the Hangul fillers are
// letters, the combining grapheme joiner a mark), which IDNA refuses:
// trimmed from a key's ends, one left at the end by the root's dot would
// make the key normalise to another.
func notDomainRune(r rune) bool {
	if r < utf8.RuneSelf {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

// isToken reports whether s matches [a-z][a-z0-9_-]*.
func isToken(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
