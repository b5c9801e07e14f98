package projections

import (
	"fmt"

	"github.com/truefcr/truefcr/events"
)

// prefetchGroup is how many events ApplyBatch reads ahead at a time.
const prefetchGroup = 16

// ApplyBatch applies evs in order, as Apply would one by one. An event
// that Apply refuses stops the batch there: the events before it are
// applied, it and those after are not, and the error names its index in
// evs. ApplyBatch does not keep evs.
//
// It is faster than Apply in a loop where the live state is larger than
// the processor's caches: before applying a group of events it reads the
// index entries, issues and identifiers that they will need, so that the
// processor waits for those cache misses together rather than one after
// another.
func (f *FCR) ApplyBatch(evs []events.Envelope) error {
	if i, err := f.applyBatch(evs); err != nil {
		return fmt.Errorf("FCR batch: event %d: %w", i, err)
	}
	return nil
}

// applyBatch is ApplyBatch; it returns the index of the event refused with
// Apply's error.
func (f *FCR) applyBatch(evs []events.Envelope) (int, error) {
	return f.applyBatchKeys(evs, nil, false)
}

// applyBatchKeys is applyBatch with the hashes of the openings' identity
// keys computed ahead (keys.hash of evs), or nil to compute them here.
// Keys of another length than evs, such as those of a batch never
// hashed, are not used: the keys are then hashed here. valid says that
// every event of evs passed Validate already.
func (f *FCR) applyBatchKeys(evs []events.Envelope, keys *fcrKeys, valid bool) (int, error) {
	if keys != nil && len(keys.from) != len(evs)+1 {
		keys = nil // not the keys of evs
	}
	pre := &f.scratch.pre
	defer pre.forget()
	for lo := 0; lo < len(evs); lo += prefetchGroup {
		g := evs[lo:min(lo+prefetchGroup, len(evs))]
		f.scratch.sink += f.touchEvents(g, keys, lo)
		for i := range g {
			pre.cur = i
			if err := f.apply(&g[i], pre.tags[i], valid); err != nil {
				return lo + i, err
			}
		}
	}
	return len(evs), nil
}

// fcrPrefetch is what touchEvents computed of a group of events, which
// applying them uses again: the uuidTag of each event's issue, and of each
// issue.opened whose key hashes (identHash) it holds, the event's data in
// opened and the hashes in hashes[keysFrom[i]:keysFrom[i+1]]. cur is the
// event being applied, -1 outside ApplyBatch.
type fcrPrefetch struct {
	tags     [prefetchGroup]uint32
	opened   [prefetchGroup]*events.Opened
	keysFrom [prefetchGroup + 1]uint8
	hashes   [2 * prefetchGroup]uint64
	cur      int
}

// keys returns the hashes of d's keys if the event being applied is the
// issue.opened d and touchEvents holds them, and false otherwise.
func (p *fcrPrefetch) keys(d *events.Opened) ([]uint64, bool) {
	if p.cur < 0 || p.opened[p.cur] != d {
		return nil, false
	}
	return p.hashes[p.keysFrom[p.cur]:p.keysFrom[p.cur+1]], true
}

// forget drops what it knows of the last group, which ApplyBatch does not
// keep.
func (p *fcrPrefetch) forget() {
	p.cur = -1
	clear(p.opened[:])
}

// fcrKeys are the hashes (identHash) of the identity keys of a batch of
// events: the keys of event i, when it is an issue.opened, hash to
// hashes[from[i]:from[i+1]]. Replay into an FCR computes them on the
// goroutine that decodes, where the keys' bytes are still in cache, rather
// than on the one that applies, which would wait for them.
type fcrKeys struct {
	from   []int32
	hashes []uint64
}

// hash computes the key hashes of evs into k.
func (k *fcrKeys) hash(evs []events.Envelope) {
	k.from = append(k.from[:0], 0)
	k.hashes = k.hashes[:0]
	for i := range evs {
		if d, ok := evs[i].Data.(*events.Opened); ok && d != nil {
			for _, key := range d.Customer.Keys {
				k.hashes = append(k.hashes, identHash(key, false))
			}
		}
		k.from = append(k.from, int32(len(k.hashes)))
	}
}

// of returns the key hashes of event j of the batch, and whether they
// were computed; k may be nil.
func (k *fcrKeys) of(j int) ([]uint64, bool) {
	if k == nil {
		return nil, false
	}
	return k.hashes[k.from[j]:k.from[j+1]], true
}

// touchEvents reads the memory that applying g will need and returns a
// sum of what it read, so that the reads are not compiled away: first the
// index entries of the issues and of the identifiers that openings carry,
// which do not depend on each other, then the issues and identifiers that
// those entries point to. The openings' keys are hashed here unless keys,
// the hashes of the batch whose events from lo on are g, holds them.
func (f *FCR) touchEvents(g []events.Envelope, keys *fcrKeys, lo int) int64 {
	var issues [prefetchGroup]int32
	var idents [2 * prefetchGroup]int32
	pre := &f.scratch.pre
	n := 0
	byHash := &f.ids.byHash
	for i := range g {
		e := &g[i]
		tag := uuidTag(e.Issue)
		pre.tags[i], pre.opened[i], pre.keysFrom[i] = tag, nil, uint8(n)
		issues[i] = f.byID.slots[f.byID.home(tag)].ix
		d, ok := e.Data.(*events.Opened)
		if !ok || d == nil || len(byHash.slots) == 0 || n+len(d.Customer.Keys) > len(idents) {
			continue
		}
		pre.opened[i] = d
		hs, hashed := keys.of(lo + i)
		hashed = hashed && len(hs) == len(d.Customer.Keys)
		for j, k := range d.Customer.Keys {
			var h uint64
			if hashed {
				h = hs[j]
			} else {
				h = identHash(k, false)
			}
			pre.hashes[n] = h
			idents[n] = byHash.slots[byHash.home(mixTag(h))].ix
			n++
		}
	}
	pre.keysFrom[len(g)] = uint8(n)
	var sum int64
	for _, ix := range issues[:len(g)] {
		if ix > 0 {
			sum += f.issues.at(ix - 1).first.at
		}
	}
	for _, ix := range idents[:n] {
		if ix > 0 {
			sum += int64(f.ids.nodes[ix-1].parent)
		}
	}
	return sum
}
