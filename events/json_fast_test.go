package events

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The JSON codec's shortcuts read what encoding/json reads, by which the
// rest of the codec is written: these fuzz tests hold each shortcut
// against the general path, on any input where the shortcut is taken.

// jsonSeeds returns the JSON encodings of an event of each built-in type,
// with metadata, Extra and a customer of unknown members, as seeds.
func jsonSeeds(t testing.TB) [][]byte {
	c := NewJSONCodec(nil)
	contact := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")
	data := []Data{
		&Opened{Customer: Customer{ID: "c-1", Keys: []string{"phone:+358401234567"}, Extra: Extra{"tier": "gold"}}, Channel: "phone", Topic: "billing", Contact: contact},
		&Routed{Contact: contact, Queue: "billing", Agent: "a-1", Skills: []string{"fi"}, Wait: 1500 * time.Millisecond},
		&Consulted{Contact: contact, Agent: "a-1", Expert: "e-1", Duration: time.Minute},
		&Resolved{Contact: contact, Agent: "a-1", Code: "refund", Handle: time.Minute, Extra: Extra{"crm": map[string]any{"case": "CS-1"}}},
		&Reopened{Contact: contact, Channel: "chat", Reason: "not fixed"},
		&Contacted{Contact: contact, Channel: "email"},
		&Abandoned{Contact: contact, Wait: time.Second},
		&Rated{Survey: SurveyNPS, Score: 0, Contact: contact},
		&Classified{Topic: "billing/refund", Topics: []string{"orders"}},
	}
	var out [][]byte
	for i, d := range data {
		e := Envelope{ID: uuid.New(), Issue: uuid.New(), Version: uint64(i + 1), At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC), Data: d}
		if i%2 == 0 {
			e.Meta = Meta{MetaCorrelationID: "c-1"}
		}
		b, err := c.Append(nil, e)
		require.NoError(t, err)
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"id":"x","issue":null,"version":18446744073709551615,"schema":0,"type":"","at":"","data":null,"meta":{"a":null},"other":[1,"\u00e9"]}`),
		[]byte(`{"id":"a\"b","Version":1,"version":1,"data":{"score":null,"Score":2,"survey":"csat"}}`),
		[]byte(`{"version":1.0,"schema":"1","data":[],"meta":{"a":1}}`),
		[]byte(`{"data":{"customer":{"id":"c","ID":"d"},"channel":"chat","channel":null}} `),
	)
}

// An envelope that readSimpleEnvelope reads is read by encoding/json
// without an error, to the same fields, and has no name that Decode
// would have to read exactly.
func FuzzJSONSimpleEnvelope(f *testing.F) {
	for _, s := range jsonSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		j, ok := readSimpleEnvelope(src)
		if !ok {
			return
		}
		var want jsonEnvelope
		require.NoError(t, json.Unmarshal(src, &want), "encoding/json reads what the shortcut read")
		require.False(t, hasAmbiguousName(src, envelopeNames))
		assert.Equal(t, want.ID, j.ID, "id")
		assert.Equal(t, want.Issue, j.Issue, "issue")
		assert.Equal(t, want.Version, j.Version, "version")
		assert.Equal(t, want.Type, j.Type, "type")
		assert.Equal(t, want.Schema, j.Schema, "schema")
		assert.Equal(t, want.At, j.At, "at")
		assert.Equal(t, string(want.Data), string(j.Data), "data")
		assert.Equal(t, want.Meta, j.Meta, "meta")
	})
}

// dataReaders are the built-in types' decodings of their data objects:
// the known members and a new value to read them into.
var dataReaders = []struct {
	known []string
	new   func() any
}{
	{openedFields, func() any { return new(openedIn) }},
	{routedFields, func() any { return new(routedJSON) }},
	{consultedFields, func() any { return new(consultedJSON) }},
	{resolvedFields, func() any { return new(resolvedJSON) }},
	{reopenedFields, func() any { return new(reopenedJSON) }},
	{contactedFields, func() any { return new(contactedJSON) }},
	{abandonedFields, func() any { return new(abandonedJSON) }},
	{ratedFields, func() any { return new(ratedJSON) }},
	{classifiedFields, func() any { return new(classifiedJSON) }},
	{customerNames, func() any { return new(customerJSON) }},
}

// decodeData reads any valid data object as decodeMembers does, the
// member lookup of Rated included; and a built-in type reads valid JSON
// by its UnmarshalJSON as json.Unmarshal does (unmarshalValid).
func FuzzJSONDataShortcut(f *testing.F) {
	for _, s := range jsonSeeds(f) {
		var j jsonEnvelope
		if json.Unmarshal(s, &j) == nil && len(j.Data) > 0 {
			f.Add([]byte(j.Data))
		}
	}
	f.Add([]byte(`{"score":0,"survey":"nps"}`))
	f.Add([]byte(`{"keys":["a"],"id":"c"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		for i, r := range dataReaders {
			v, want := r.new(), r.new()
			var x, wantX Extra
			all, err := decodeData(b, v, &x, r.known)
			wantAll, wantErr := decodeMembers(b, want, &wantX, r.known)
			if wantErr != nil {
				require.Error(t, err, "reader %d", i)
				assert.Equal(t, wantErr.Error(), err.Error(), "reader %d", i)
				continue
			}
			require.NoError(t, err, "reader %d", i)
			assert.Equal(t, want, v, "reader %d", i)
			assert.Equal(t, wantX, x, "reader %d", i)
			for _, name := range r.known {
				raw, ok := member(b, all, name)
				wantRaw, wantOK := wantAll[name]
				assert.Equal(t, wantOK, ok, "reader %d, member %s", i, name)
				assert.Equal(t, string(wantRaw), string(raw), "reader %d, member %s", i, name)
			}
		}
		reg := NewRegistry()
		for _, typ := range reg.Types() {
			d, err := reg.New(typ)
			require.NoError(t, err)
			want, err := reg.New(typ)
			require.NoError(t, err)
			err, wantErr := unmarshalValid(b, d), json.Unmarshal(b, want)
			assert.Equal(t, want, d, "%s", typ)
			if wantErr != nil || err != nil {
				require.Error(t, err, "%s", typ)
				require.Error(t, wantErr, "%s", typ)
				assert.Equal(t, wantErr.Error(), err.Error(), "%s", typ)
			}
		}
	})
}

// The codec's own encodings take the shortcuts, which the fuzz tests
// above hold to the general path: the envelope's, and the data's where it
// has no Extra.
func TestJSONShortcutsAreTaken(t *testing.T) {
	seeds := jsonSeeds(t)[:9]
	for i, s := range seeds {
		j, ok := readSimpleEnvelope(s)
		require.True(t, ok, "seed %d: %s", i, s)
		r := dataReaders[i]
		all, err := decodeData(j.Data, r.new(), new(Extra), r.known)
		require.NoError(t, err)
		if i == 0 || i == 3 { // with Extra (the opening's is its customer's)
			assert.Equal(t, i == 3, all != nil, "seed %d", i)
			continue
		}
		assert.Nil(t, all, "seed %d read member by member", i)
	}
}
