package events_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

func ExampleNewMemoryStore() {
	ctx := context.Background()
	store := events.NewMemoryStore()
	issue := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	contact := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

	_, err := store.Append(ctx, issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at, Data: &events.Opened{
			Customer: events.Customer{Keys: []string{"phone:+358401234567"}},
			Channel:  "phone", Topic: "billing/invoice-error", Contact: contact,
		}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(4 * time.Minute), Data: &events.Resolved{
			Contact: contact, Agent: "agent-7", Handle: 4 * time.Minute,
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A second writer that still believes the stream is new loses.
	_, err = store.Append(ctx, issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at, Data: &events.Classified{Topic: "billing"}},
	})
	var conflict *events.VersionConflictError
	if errors.As(err, &conflict) {
		fmt.Printf("conflict: expected %d, stream at %d\n", conflict.Expected, conflict.Actual)
	}

	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Position, e.Version, e.Type(), e.At.Format(time.Kitchen))
	}
	// Output:
	// conflict: expected 0, stream at 2
	// 1 1 issue.opened 9:15AM
	// 2 2 issue.resolved 9:19AM
}

func ExampleJSONCodec_Decode() {
	line := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"version":1,"type":"issue.opened","at":"2026-03-02T09:15:00Z",` +
		`"data":{"customer":{"keys":["phone:+358401234567","email:anna@example.com"]},` +
		`"channel":"phone","topic":"billing/invoice-error","contact":"0193a4c2-7a9e-7000-8000-0000000000c1"}}`
	e, err := events.NewJSONCodec(nil).Decode([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	if opened, ok := events.As[*events.Opened](e); ok {
		fmt.Println(opened.Channel, opened.Topic, opened.Customer.Keys)
	}

	_, err = events.NewJSONCodec(nil).Decode([]byte(`{"id":"0193a4c2"}`))
	var de *events.DecodeError
	fmt.Println(errors.As(err, &de), de.Field, errors.Is(err, events.ErrMalformed))
	fmt.Println(err)
	// Output:
	// phone billing/invoice-error [phone:+358401234567 email:anna@example.com]
	// true issue true
	// json decode: at byte 0, field "issue": malformed event: missing
}

func ExampleMsgpackCodec() {
	codec := events.NewMsgpackCodec(nil)
	e := events.Envelope{
		ID:      uuid.MustParse("0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f"),
		Issue:   uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001"),
		Version: 3,
		At:      time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		Data:    &events.Rated{Survey: events.SurveyCSAT, Score: 5},
		Meta:    events.Meta{events.MetaPartitionKey: "C-1001"},
	}
	b, err := codec.Append(nil, e)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := codec.Decode(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	rated, _ := events.As[*events.Rated](got)
	fmt.Println(len(b), "bytes:", got.Type(), rated.Survey, rated.Score, got.Meta[events.MetaPartitionKey])
	// Output:
	// 103 bytes: issue.rated csat 5 C-1001
}

func ExampleRegistry_AddUpcaster() {
	// Contacted moves to schema 2, which calls "medium" what schema 1
	// kept as an unknown field.
	old, err := events.NewJSONCodec(nil).Append(nil, events.Envelope{
		ID: uuid.New(), Issue: uuid.New(), Version: 2, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		Data: &events.Contacted{Contact: uuid.New(), Extra: events.Extra{"medium": "chat"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	reg := events.NewRegistry()
	if err := reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }); err != nil {
		fmt.Println(err)
		return
	}
	if err := reg.AddUpcaster(events.TypeContacted, 1, func(f map[string]any) (map[string]any, error) {
		f["channel"] = f["medium"]
		delete(f, "medium")
		return f, nil
	}); err != nil {
		fmt.Println(err)
		return
	}
	e, err := events.NewJSONCodec(reg).Decode(old)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := events.As[*events.Contacted](e)
	fmt.Printf("channel %q, extra %v\n", c.Channel, c.Extra)
	// Output:
	// channel "chat", extra map[]
}
