package events

import (
	"fmt"
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
				if got := c.intern(s); got != s {
					t.Errorf("intern(%q) = %q", s, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	long := string(make([]byte, maxName+1))
	assert.Same(t, unsafe.StringData(long), unsafe.StringData(c.intern(long)), "a long string is returned as it is")
}

// Every byte of a name counts in its hash, at every length the cache
// holds: names that differ in one byte only (agent-0417, agent-0418) do
// not share a slot by construction.
func TestNameHashUsesEveryByte(t *testing.T) {
	for n := 1; n <= maxName; n++ {
		name := []byte(fmt.Sprintf("%0*d", n, 0))[:n]
		for i := range name {
			for _, c := range []byte{'1', 'a', 0x80} {
				other := append([]byte{}, name...)
				other[i] = c
				if nameHash(string(name)) == nameHash(string(other)) {
					t.Fatalf("%q and %q hash alike", name, other)
				}
			}
		}
	}
}
