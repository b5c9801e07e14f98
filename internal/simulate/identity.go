package simulate

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/google/uuid"
)

// maxCustomers keeps customer numbers within the nine digits of a phone
// number, so that keys stay unique.
const maxCustomers = 1_000_000_000

// rng is the run's single source of randomness: one PCG, drawn in a fixed
// order, so that a seed gives one log.
type rng struct {
	src *rand.PCG
	r   *rand.Rand
}

func newRNG(seed uint64) *rng {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &rng{src: src, r: rand.New(src)}
}

// uuid returns a random (version 4) UUID from the seeded source.
func (g *rng) uuid() uuid.UUID {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], g.src.Uint64())
	binary.LittleEndian.PutUint64(u[8:], g.src.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func (g *rng) float() float64 { return g.r.Float64() }

func (g *rng) chance(p float64) bool { return g.r.Float64() < p }

func (g *rng) intn(n int) int { return g.r.IntN(n) }

// lognormal returns a value whose median is median and whose logarithm has
// standard deviation sigma: the long-tailed shape of waits and handle times.
func (g *rng) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*g.r.NormFloat64())
}

// exp returns an exponentially distributed value with the given mean.
func (g *rng) exp(mean float64) float64 { return mean * g.r.ExpFloat64() }

// pick returns an index drawn from cumulative weights cum (last = total).
func (g *rng) pick(cum []float64) int {
	x := g.r.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// Identity kinds of customers: how they are known on each contact.
const (
	knownByAccount = iota // logged in everywhere: one account key
	knownByPhone          // one phone key on every channel
	knownByTwo            // a phone and an email, not always together
)

// mix64 is the SplitMix64 finaliser: a fixed hash of a customer number, so
// that a customer's identity does not depend on when they first appear.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// identity gives customers their keys, normalised as the domain wants them
// (phone:+358…, email:lower-case, account:A-…).
type identity struct {
	salt  uint64
	names []string
	buf   []byte
}

func newIdentity(salt uint64) *identity {
	return &identity{salt: salt, names: []string{
		"anna", "mikko", "laura", "jussi", "sara", "ville", "emma", "otto", "aino", "leo", "maria", "juha",
	}}
}

func (id *identity) kind(c int) int {
	switch h := mix64(uint64(c)^id.salt) % 100; {
	case h < 35:
		return knownByAccount
	case h < 60:
		return knownByPhone
	default:
		return knownByTwo
	}
}

// digits returns nine digits unique to customer c: an affine bijection of
// the numbers below 10⁹, so neighbours do not get neighbouring numbers.
func (id *identity) digits(c int) uint64 {
	return (uint64(c)*387420489 + id.salt%maxCustomers) % maxCustomers
}

func (id *identity) phone(c int) string {
	b := append(id.buf[:0], "phone:+3584"...)
	b = appendPadded(b, id.digits(c), 9)
	id.buf = b
	return string(b)
}

func (id *identity) email(c int) string {
	b := append(id.buf[:0], "email:"...)
	b = append(b, id.names[mix64(uint64(c))%uint64(len(id.names))]...)
	b = append(b, '.')
	b = appendPadded(b, id.digits(c), 9)
	b = append(b, "@example.com"...)
	id.buf = b
	return string(b)
}

func (id *identity) account(c int) string {
	b := append(id.buf[:0], "account:A-"...)
	b = strconv.AppendInt(b, int64(c)+1001, 10)
	id.buf = b
	return string(b)
}

// keys returns the keys that one event of customer c on channel carries.
// A two-key customer shows the key of the channel (phone on the phone,
// email elsewhere) and both only on a share of events, so that linking
// their identities has to wait for such an event.
func (id *identity) keys(g *rng, c int, channel string) []string {
	switch id.kind(c) {
	case knownByAccount:
		return []string{id.account(c)}
	case knownByPhone:
		return []string{id.phone(c)}
	}
	both := g.chance(0.2)
	if channel == "phone" {
		if both {
			return []string{id.phone(c), id.email(c)}
		}
		return []string{id.phone(c)}
	}
	if both {
		return []string{id.email(c), id.phone(c)}
	}
	return []string{id.email(c)}
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
