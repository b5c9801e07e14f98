package events

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Decoded vocabulary comes back as one shared copy, not as a slice of the
// message it came in; other strings are left as they are.
func TestDecodedNamesAreShared(t *testing.T) {
	codec := NewMsgpackCodec(nil)
	decode := func(channel, reason string) *Reopened {
		e := Envelope{ID: [16]byte{1}, Issue: [16]byte{2}, Version: 3, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
			Data: &Reopened{Contact: [16]byte{3}, Channel: channel, Reason: reason}}
		b, err := codec.Append(nil, e)
		require.NoError(t, err)
		d, err := codec.Decode(b)
		require.NoError(t, err)
		return d.Data.(*Reopened)
	}
	a, b := decode("phone", "not fixed"), decode("phone", "not fixed")
	assert.Equal(t, "phone", a.Channel)
	assert.Same(t, unsafe.StringData(a.Channel), unsafe.StringData(b.Channel), "one copy of the channel")
	assert.NotSame(t, unsafe.StringData(a.Reason), unsafe.StringData(b.Reason), "free text is not cached")
}

// The cache gives back the string asked for, whatever else shares its
// slot, from many goroutines at once.
func TestNameCacheIsRightUnderContention(t *testing.T) {
	var c nameCache
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20000 {
				s := fmt.Sprintf("agent-%d", (i*7+g)%(3*nameCacheSize))
				if got, ok := c.intern(s); got != s || !ok {
					t.Errorf("intern(%q) = %q", s, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	long := string(make([]byte, maxName+1))
	got, _ := c.intern(long)
	assert.Same(t, unsafe.StringData(long), unsafe.StringData(got), "a long string is returned as it is")
}

// Every byte of a name counts in its slot of the cache, at every length
// the cache holds: of the 256 names that differ from one in a single byte,
// no more than a few share its slot.
func TestNameHashSlotUsesEveryByte(t *testing.T) {
	for n := 1; n <= maxName; n++ {
		base := []byte(fmt.Sprintf("%0*d", n, 0))[:n]
		slot := nameHash(string(base)) & (nameCacheSize - 1)
		for i := range base {
			same := 0
			for c := range 256 {
				other := append([]byte{}, base...)
				other[i] = byte(c)
				if nameHash(string(other))&(nameCacheSize-1) == slot {
					same++
				}
			}
			if same > 8 {
				t.Fatalf("length %d, byte %d: %d of 256 values share a slot", n, i, same)
			}
		}
	}
}

// A vocabulary of numbered names (agents, queues, tiers) stays in the
// cache: a second pass finds nearly every name shared.
func TestNameCacheHoldsSequentialNames(t *testing.T) {
	for _, format := range []string{"agent-%04d", "queue-%02d", "tier%d", "queue-billing-tier-%d"} {
		var c nameCache
		var vocab []string
		for i := 1; i <= 50; i++ {
			vocab = append(vocab, fmt.Sprintf(format, i))
		}
		first := map[string]*byte{}
		for _, s := range vocab {
			v, _ := c.intern(s)
			first[s] = unsafe.StringData(v)
		}
		kept := 0
		for _, s := range vocab {
			if v, _ := c.intern(strings.Clone(s)); unsafe.StringData(v) == first[s] {
				kept++
			}
		}
		assert.GreaterOrEqual(t, kept, 45, "%s: names still shared after one pass", format)
	}
}

// Only UTF-8 gets into the cache, so that a name it holds needs no check:
// a string that is not UTF-8 is reported, every time it comes.
func TestNameCacheHoldsUTF8Only(t *testing.T) {
	var c nameCache
	for range 2 {
		_, ok := c.intern("ph\xffne")
		assert.False(t, ok)
	}
	_, ok := c.intern("phone")
	assert.True(t, ok)
	_, ok = c.intern("phone")
	assert.True(t, ok, "held")
	_, ok = c.intern(strings.Repeat("\xff", maxName+1))
	assert.False(t, ok, "a string too long for the cache is checked too")
}
