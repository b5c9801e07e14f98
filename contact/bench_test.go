package contact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

func BenchmarkNormalize(b *testing.B) {
	rules := contact.KeyRules{DefaultCountry: "358"}
	for _, key := range []string{"phone:(040) 123-4567", "email: Anna.Virtanen@Example.COM", "account:A-1001"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rules.Normalize(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServiceExecute measures one command end to end on the memory
// store, on issues with histories of several lengths: load, rebuild,
// decide, append.
func BenchmarkServiceExecute(b *testing.B) {
	for _, history := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			store := events.NewMemoryStore()
			clock := contacttest.NewClock(contacttest.Start())
			clock.SetStep(time.Second)
			svc, err := contact.NewService(contact.Config{Store: store, Clock: clock, IDs: contacttest.NewIDs()})
			require.NoError(b, err)
			ctx := b.Context()
			issue, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing"})
			require.NoError(b, err)
			for range history - 1 {
				_, err := svc.Route(ctx, issue, contact.Route{Queue: "billing", Agent: "maria"})
				require.NoError(b, err)
			}
			// Each iteration works on a copy of the history, so that its
			// length stays what the name says.
			base, err := store.Load(ctx, issue)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := events.NewMemoryStore()
				if _, err := s.Append(ctx, issue, 0, base); err != nil {
					b.Fatal(err)
				}
				svc, _ := contact.NewService(contact.Config{Store: s, Clock: clock, IDs: contacttest.NewIDs()})
				b.StartTimer()
				if _, err := svc.Consult(ctx, issue, contact.Consult{Agent: "maria", Expert: "ella"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRebuildManyReopens rebuilds an issue resolved and reopened
// 5,000 times, as the Service does for every command on it: each reopen
// ends the contacts before it, each contact once.
func BenchmarkRebuildManyReopens(b *testing.B) {
	const reopens = 5000
	evs := []events.Data{&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)}}
	last := contacttest.Contact(1)
	for i := range reopens {
		c := contacttest.Contact(i + 2)
		evs = append(evs, &events.Resolved{Contact: last}, &events.Reopened{Contact: c, Channel: "email"})
		last = c
	}
	benchRebuild(b, evs)
}

// BenchmarkRebuildManyRevived rebuilds an issue that names 20,000
// contacts (routings of an imported log that came first), is reopened,
// and then introduces them: each is found through the contact index.
func BenchmarkRebuildManyRevived(b *testing.B) {
	const n = 20000
	evs := []events.Data{&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)}}
	for i := range n {
		evs = append(evs, &events.Routed{Contact: contacttest.Contact(i + 2), Queue: "q"})
	}
	evs = append(evs, &events.Resolved{Contact: contacttest.Contact(1)}, &events.Reopened{Contact: contacttest.Contact(n + 5), Channel: "phone"})
	for i := range n {
		evs = append(evs, &events.Contacted{Contact: contacttest.Contact(i + 2), Channel: "email"})
	}
	benchRebuild(b, evs)
}

// benchRebuild measures Rebuild of the issue whose stream is data.
func benchRebuild(b *testing.B, data []events.Data) {
	envs := stream(contacttest.IssueID(), data...)
	for b.Loop() {
		if _, err := contact.Rebuild(contacttest.IssueID(), envs); err != nil {
			b.Fatal(err)
		}
	}
}
