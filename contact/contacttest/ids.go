package contacttest

import (
	"encoding/binary"
	"sync"

	"github.com/google/uuid"
)

// Tags that keep the deterministic ids of different roles apart.
const (
	tagGenerated = 0x00
	tagContact   = 0xc0
	tagIssue     = 0x1e
	tagEvent     = 0xee
)

// ID returns the n-th id that an IDs generator makes:
// 00000000-0000-7000-8000-00000000000n for small n.
func ID(n int) uuid.UUID { return makeID(tagGenerated, n) }

// Contact returns a contact id for given events that no IDs generator
// makes: 00000000-0000-7000-80c0-00000000000n for small n.
func Contact(n int) uuid.UUID { return makeID(tagContact, n) }

// IssueID returns the issue that scenarios run on.
func IssueID() uuid.UUID { return makeID(tagIssue, 1) }

// eventID returns the id of the n-th given event of a scenario.
func eventID(n int) uuid.UUID { return makeID(tagEvent, n) }

func makeID(tag byte, n int) uuid.UUID {
	var id uuid.UUID
	id[6] = 0x70 // version 7
	id[8] = 0x80 // RFC 4122 variant
	id[9] = tag
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	copy(id[10:], b[2:])
	return id
}

// IDs is a contact.IDGenerator that makes ID(1), ID(2)… in turn. It is
// safe for concurrent use.
type IDs struct {
	mu sync.Mutex
	n  int
}

// NewIDs returns an IDs whose next id is ID(1).
func NewIDs() *IDs { return &IDs{} }

// NewID returns the next id.
func (g *IDs) NewID() (uuid.UUID, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	return ID(g.n), nil
}

// made returns how many ids g has made.
func (g *IDs) made() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// rewind makes ID(n+1) the next id again.
func (g *IDs) rewind(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n = n
}
