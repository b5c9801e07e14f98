package contact_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
)

// An opening that the Service wrote with an idempotency key before it
// trimmed zero-width characters from customer ids, its id behind a
// byte-order mark as an export leaves it (the event as that Service
// appended it). Retried after the upgrade, the run is the same command and
// returns the recorded event, where its fingerprint, of the id trimmed of
// the mark, differed, and the retry was refused (ErrKeyReused).
func TestRetryAcrossTheUpgradeOfAnOpeningWithAZeroWidthPaddedCustomer(t *testing.T) {
	svc, recorded := withRecorded(t, oldOpen)
	ctx := contact.WithIdempotencyKey(t.Context(), "import:row-7")
	retriedIsRecorded(t, svc, ctx, contact.Open{Customer: events.Customer{ID: "\ufeffC-1"}, Channel: "web", Topic: "orders"}, recorded)
}

// retriedIsRecorded runs cmd again with the idempotency key of ctx, and
// checks that it returns the recorded event, as the same command does.
func retriedIsRecorded(t *testing.T, svc *contact.Service, ctx context.Context, cmd contact.Open, recorded events.Envelope) {
	t.Helper()
	issue, evs, err := svc.Open(ctx, cmd)
	require.NoError(t, err, "the same command with the same key, run again")
	assert.Equal(t, recorded.Issue, issue)
	require.Len(t, evs, 1)
	assert.Equal(t, recorded.ID, evs[0].ID)
}

// withRecorded returns a Service whose store holds the event that raw, in
// JSON, is: one that an earlier Service appended.
func withRecorded(t *testing.T, raw string) (*contact.Service, events.Envelope) {
	t.Helper()
	svc, _, recorded := withStream(t, raw)
	return svc, recorded[0]
}

// withStream returns a Service and its store, which holds the events that
// raws, in JSON, are, in order: a stream that an earlier Service appended.
func withStream(t *testing.T, raws ...string) (*contact.Service, *events.MemoryStore, []events.Envelope) {
	t.Helper()
	svc, store := newService(t, later)
	var recorded []events.Envelope
	for _, raw := range raws {
		e, err := events.NewJSONCodec(nil).Decode([]byte(raw))
		require.NoError(t, err)
		_, err = store.Append(t.Context(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		recorded = append(recorded, e)
	}
	return svc, store, recorded
}

// The event that Service appended.
const oldOpen = "{\"id\":\"00000000-0000-7000-8000-000000000002\",\"issue\":\"e64a788f-7f78-5399-b963-a349f72e3bb4\",\"version\":1,\"type\":\"issue.opened\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"customer\":{\"id\":\"\ufeffC-1\"},\"channel\":\"web\",\"topic\":\"orders\",\"contact\":\"00000000-0000-7000-8000-000000000001\"},\"meta\":{\"idempotency_fingerprint\":\"f3:5745655495b4a30c396db9740d303c2e\",\"idempotency_key\":\"import:row-7\",\"partition_key\":\"\ufeffC-1\"}}"

// An opening that the Service wrote with an idempotency key before it
// trimmed zero-width characters from identity keys, its key ending in a
// zero-width space (the event as that Service appended it, fingerprint
// f4). Retried after the upgrade, the run is the same command and returns
// the recorded event: its fingerprint is compared by the rules that made
// it, under which the key kept its padding.
func TestRetryAcrossTheUpgradeOfAnOpeningWithAZeroWidthPaddedKey(t *testing.T) {
	svc, recorded := withRecorded(t, oldOpenPaddedKey)
	ctx := contact.WithIdempotencyKey(t.Context(), "import:row-8")
	cmd := contact.Open{Customer: events.Customer{Keys: []string{"account:A-1001\u200b"}}, Channel: "web", Topic: "orders"}
	retriedIsRecorded(t, svc, ctx, cmd, recorded)

	// Another command under that key is still refused: another topic, or
	// a key that the rules of f4 refused (a space after the kind), which
	// was no key of that command.
	other := cmd
	other.Topic = "billing"
	_, _, err := svc.Open(ctx, other)
	require.ErrorIs(t, err, contact.ErrKeyReused)
	other = cmd
	other.Customer.Keys = []string{"account :A-1001\u200b"}
	_, _, err = svc.Open(ctx, other)
	require.ErrorIs(t, err, contact.ErrKeyReused)
}

// The event that Service appended.
const oldOpenPaddedKey = "{\"id\":\"00000000-0000-7000-8000-000000000002\",\"issue\":\"bddd0b5b-f622-5cf6-b237-4f2580e63b55\",\"version\":1,\"type\":\"issue.opened\",\"at\":\"2026-03-02T09:10:00Z\",\"data\":{\"customer\":{\"keys\":[\"account:A-1001\u200b\"]},\"channel\":\"web\",\"topic\":\"orders\",\"contact\":\"00000000-0000-7000-8000-000000000001\"},\"meta\":{\"idempotency_fingerprint\":\"f4:30862ae61707c44750c0cddcdebe174d\",\"idempotency_key\":\"import:row-8\",\"partition_key\":\"account:A-1001\u200b\"}}"

// An opening that the Service wrote with an idempotency key before it
// refused a domain with a character that shows as nothing (a Hangul
// filler), as it appended it (fingerprint f4). Retried after the upgrade,
// the run is the same command and returns the recorded event: the rules of
// f4 took the key, and its fingerprint is compared by them.
func TestRetryAcrossTheUpgradeOfAnOpeningWithAFillerInTheDomain(t *testing.T) {
	svc, recorded := withRecorded(t, oldOpenFillerDomain)
	ctx := contact.WithIdempotencyKey(t.Context(), "import:row-9")
	cmd := contact.Open{Customer: events.Customer{Keys: []string{"email:Anna@ex\u3164ample.com"}}, Channel: "web", Topic: "orders"}
	retriedIsRecorded(t, svc, ctx, cmd, recorded)

	// Run anew, the key is refused.
	_, _, err := svc.Open(contact.WithIdempotencyKey(t.Context(), "import:row-10"), cmd)
	require.ErrorIs(t, err, contact.ErrInvalidKey)
}

// The event that Service appended.
const oldOpenFillerDomain = "{\"id\":\"00000000-0000-7000-8000-000000000002\",\"issue\":\"cef01d7a-6b50-5137-b84f-5c237b63413c\",\"version\":1,\"type\":\"issue.opened\",\"at\":\"2026-03-02T09:10:00Z\",\"data\":{\"customer\":{\"keys\":[\"email:anna@ex\u3164ample.com\"]},\"channel\":\"web\",\"topic\":\"orders\",\"contact\":\"00000000-0000-7000-8000-000000000001\"},\"meta\":{\"idempotency_fingerprint\":\"f4:8a703cb4238b680eb3e4b84d6fbea9b2\",\"idempotency_key\":\"import:row-9\",\"partition_key\":\"email:anna@ex\u3164ample.com\"}}"

// An opening by key and a follow-up that an earlier Service recorded with
// idempotency keys padded with characters that show as nothing, which it
// took (the events as that Service appended them). Retried after the
// upgrade, which refuses such keys, each run returns its recorded event;
// a command that no run recorded with such a key is refused, and appends
// nothing.
func TestRetryAcrossTheUpgradeOfACommandWithAPaddedIdempotencyKey(t *testing.T) {
	svc, store, recorded := withStream(t, oldOpenPaddedIdempotencyKey, oldFollowUpPaddedIdempotencyKey)
	opened, followed := recorded[0], recorded[1]

	ctx := contact.WithIdempotencyKey(t.Context(), "\ufeffcrm:7")
	retriedIsRecorded(t, svc, ctx, contact.Open{Customer: events.Customer{ID: "C-7"}, Channel: "email", Topic: "billing"}, opened)
	evs, err := svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "webhook:41\u200b"), opened.Issue, contact.FollowUp{Channel: "chat"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, followed.ID, evs[0].ID)

	for _, run := range []func() error{
		func() error {
			_, err := svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "\ufeffwebhook:42"), opened.Issue, contact.FollowUp{Channel: "chat"})
			return err
		},
		func() error {
			_, _, err := svc.Open(contact.WithIdempotencyKey(t.Context(), "\ufeffcrm:8"), contact.Open{Customer: events.Customer{ID: "C-8"}, Channel: "email", Topic: "billing"})
			return err
		},
	} {
		err := run()
		require.ErrorIs(t, err, contact.ErrInvalidCommand)
		assert.ErrorContains(t, err, "is blank or padded")
	}
	// The recorded key with another command: that event is another
	// command's, as before the upgrade.
	_, err = svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "webhook:41\u200b"), opened.Issue, contact.FollowUp{Channel: "phone"})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	evs, err = store.Load(t.Context(), opened.Issue)
	require.NoError(t, err)
	assert.Len(t, evs, 2, "nothing appended")
	evs, err = store.Load(t.Context(), contact.IssueForKey("\ufeffcrm:8"))
	require.NoError(t, err)
	assert.Empty(t, evs)
}

// The events that Service appended.
const (
	oldOpenPaddedIdempotencyKey     = "{\"id\":\"00000000-0000-7000-8000-000000000002\",\"issue\":\"5cfc1341-d2cc-5478-9cde-cd750afb239d\",\"version\":1,\"type\":\"issue.opened\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"customer\":{\"id\":\"C-7\"},\"channel\":\"email\",\"topic\":\"billing\",\"contact\":\"00000000-0000-7000-8000-000000000001\"},\"meta\":{\"idempotency_fingerprint\":\"f5:bb5cc878e991a218fc039d6bd39d4f3c\",\"idempotency_key\":\"\ufeffcrm:7\",\"partition_key\":\"C-7\"}}"
	oldFollowUpPaddedIdempotencyKey = "{\"id\":\"00000000-0000-7000-8000-000000000004\",\"issue\":\"5cfc1341-d2cc-5478-9cde-cd750afb239d\",\"version\":2,\"type\":\"issue.contacted\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"contact\":\"00000000-0000-7000-8000-000000000003\",\"channel\":\"chat\"},\"meta\":{\"idempotency_fingerprint\":\"f5:c74f534e875082868a4d7f54e2e458b3\",\"idempotency_key\":\"webhook:41\u200b\",\"partition_key\":\"C-7\"}}"
)

// Keys that show as nothing at all, which an earlier Service took too
// (the events as it appended them): a retry returns the recorded event.
func TestRetryAcrossTheUpgradeOfAKeyThatShowsAsNothing(t *testing.T) {
	svc, store, recorded := withStream(t, oldOpenInvisibleKey, oldFollowUpInvisibleKey)
	retriedIsRecorded(t, svc, contact.WithIdempotencyKey(t.Context(), "\u200b"),
		contact.Open{Customer: events.Customer{ID: "C-9"}, Channel: "email", Topic: "billing"}, recorded[0])
	evs, err := svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "\ufeff"), recorded[0].Issue, contact.FollowUp{Channel: "chat"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, recorded[1].ID, evs[0].ID)
	// Another key that shows as nothing is not the same key.
	_, err = svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "\u200b\u200b"), recorded[0].Issue, contact.FollowUp{Channel: "chat"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, `idempotency key "\u200b\u200b" is blank or padded`)
	evs, err = store.Load(t.Context(), recorded[0].Issue)
	require.NoError(t, err)
	assert.Len(t, evs, 2, "nothing appended")
}

// A delivery whose key comes without the padding that an earlier Service
// recorded it with (or with padding that it was recorded without) is the
// same delivery: it returns the recorded event, where the trimmed key
// took effect a second time. Hangul fillers are letters that show as
// nothing: the refusal quotes them with escapes.
func TestADeliveryIsTheSameWithOrWithoutPaddingThatShowsAsNothing(t *testing.T) {
	svc, store, recorded := withStream(t, oldOpenPaddedIdempotencyKey, oldFollowUpPaddedIdempotencyKey)
	issue := recorded[0].Issue
	evs, err := svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "webhook:41"), issue, contact.FollowUp{Channel: "chat"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, recorded[1].ID, evs[0].ID, "recorded with the key and a zero-width space")

	rated, err := svc.Rate(contact.WithIdempotencyKey(t.Context(), "survey:9"), issue, contact.Rate{Survey: events.SurveyCSAT, Score: 5})
	require.NoError(t, err)
	again, err := svc.Rate(contact.WithIdempotencyKey(t.Context(), "survey:9\ufeff"), issue, contact.Rate{Survey: events.SurveyCSAT, Score: 5})
	require.NoError(t, err)
	assert.Equal(t, rated[0].ID, again[0].ID, "recorded without the mark")

	_, err = svc.Rate(contact.WithIdempotencyKey(t.Context(), "\u3164survey:10"), issue, contact.Rate{Survey: events.SurveyCSAT, Score: 5})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, `idempotency key "\u3164survey:10" is blank or padded`)
	evs, err = store.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Len(t, evs, 3, "the follow-up and the rating once each")
}

// The events that Service appended.
const (
	oldOpenInvisibleKey     = "{\"id\":\"00000000-0000-7000-8000-000000000002\",\"issue\":\"0891317e-950c-5550-b920-b8898d1da488\",\"version\":1,\"type\":\"issue.opened\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"customer\":{\"id\":\"C-9\"},\"channel\":\"email\",\"topic\":\"billing\",\"contact\":\"00000000-0000-7000-8000-000000000001\"},\"meta\":{\"idempotency_fingerprint\":\"f5:91fe0d897111dce868fbbc4b994693f4\",\"idempotency_key\":\"\u200b\",\"partition_key\":\"C-9\"}}"
	oldFollowUpInvisibleKey = "{\"id\":\"00000000-0000-7000-8000-000000000004\",\"issue\":\"0891317e-950c-5550-b920-b8898d1da488\",\"version\":2,\"type\":\"issue.contacted\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"contact\":\"00000000-0000-7000-8000-000000000003\",\"channel\":\"chat\"},\"meta\":{\"idempotency_fingerprint\":\"f5:c74f534e875082868a4d7f54e2e458b3\",\"idempotency_key\":\"\ufeff\",\"partition_key\":\"C-9\"}}"
)

// An earlier Service took "webhook:41" followed by a zero-width space and
// "webhook:41" for two keys, and recorded a command under each: a retry
// finds the event of its own key as given before one of the other. A key
// that names another command's event says, with escapes, what it was
// recorded as.
func TestTheKeyAsGivenGoesBeforeTheSameKeyPadded(t *testing.T) {
	svc, store, recorded := withStream(t, oldOpenPaddedIdempotencyKey, oldFollowUpPaddedIdempotencyKey, oldFollowUpOnThePlainKey)
	issue := recorded[0].Issue
	evs, err := svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "webhook:41\u200b"), issue, contact.FollowUp{Channel: "chat"})
	require.NoError(t, err)
	assert.Equal(t, recorded[1].ID, evs[0].ID)
	evs, err = svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "webhook:41"), issue, contact.FollowUp{Channel: "phone"})
	require.NoError(t, err)
	assert.Equal(t, recorded[2].ID, evs[0].ID)

	_, err = svc.FollowUp(contact.WithIdempotencyKey(t.Context(), "\ufeffwebhook:41"), issue, contact.FollowUp{Channel: "email"})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.ErrorContains(t, err, `idempotency key "\ufeffwebhook:41" names version 3 (recorded as "webhook:41"), which another follow up command appended`)

	// Other letters show as they are.
	ctx := contact.WithIdempotencyKey(t.Context(), "tilaus-ä41")
	// (The test's ids start again at 1, as the recorded stream's did.)
	_, err = svc.FollowUp(ctx, issue, contact.FollowUp{Channel: "chat", Contact: uuid.MustParse("00000000-0000-7000-8000-0000000000f1")})
	require.NoError(t, err)
	_, err = svc.FollowUp(ctx, issue, contact.FollowUp{Channel: "phone"})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.ErrorContains(t, err, `idempotency key "tilaus-ä41" names version 4, which another follow up command appended`)
	evs, err = store.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Len(t, evs, 4, "nothing appended but the follow-up of tilaus-ä41")
}

// The event that the earlier Service appended after those of
// oldOpenPaddedIdempotencyKey and oldFollowUpPaddedIdempotencyKey.
const oldFollowUpOnThePlainKey = "{\"id\":\"00000000-0000-7000-8000-000000000006\",\"issue\":\"5cfc1341-d2cc-5478-9cde-cd750afb239d\",\"version\":3,\"type\":\"issue.contacted\",\"at\":\"2026-03-02T09:00:00Z\",\"data\":{\"contact\":\"00000000-0000-7000-8000-000000000005\",\"channel\":\"phone\"},\"meta\":{\"idempotency_fingerprint\":\"f5:d3a256bd10f3c69c74111eed2b4cc61a\",\"idempotency_key\":\"webhook:41\",\"partition_key\":\"C-7\"}}"
