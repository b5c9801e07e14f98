package projections

import (
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
)

// volPerIssueBuckets: issues with 0, 1, 2, 3 and 4 or more contacts.
const volPerIssueBuckets = 5

// Report returns the figures as of the events absorbed so far.
func (v *Volume) Report() VolumeReport {
	return v.report(v.h.view(), volBacklog(&v.h, v.names))
}

// report is Report for the horizon the projection was fed through, whose
// open issues make backlog.
func (v *Volume) report(h kpiView, backlog Backlog) VolumeReport {
	r := VolumeReport{
		Definition: VolumeDefinition{
			LatenessS: v.cfg.Lateness.Seconds(),
			MinSample: v.cfg.MinSample,
			Values:    maps.Clone(v.cfg.Values),
			Contacts:  volRule,
		},
		Contacts:         v.contacts,
		ByChannel:        volNonZero(v.byChannel, v.names),
		ByTopic:          volNonZero(v.byTopic, v.names),
		ByDay:            volDays(v.byDay),
		Issues:           v.issues,
		ContactsPerIssue: kpiShare(v.issueContacts, v.issues),
		IssuesByContacts: make(map[string]int64, volPerIssueBuckets),
		Resolutions:      v.resolutions,
		Reopens:          v.reopens,
		Reopen:           kpiRate(v.reopens, v.resolutions, v.cfg.MinSample),
		Backlog:          backlog,
		LateEvents:       h.late,
		HeldEvents:       h.held,
		TrackedIssues:    h.tracked,
	}
	r.ReopenRate = r.Reopen.Value
	for i, n := range v.perIssue {
		key := fmt.Sprint(i)
		if i == volPerIssueBuckets-1 {
			key += "+"
		}
		r.IssuesByContacts[key] = n
	}
	if v.cfg.Values != nil {
		r.ByValue = make(map[Value]int64, len(v.byValue))
		for k, n := range v.byValue {
			if n != 0 {
				r.ByValue[k] = n
			}
		}
	}
	r.Reasons = volReasons(r.ByTopic, v.contacts, v.cfg.MinSample)
	if !h.watermark.IsZero() {
		r.Watermark = h.watermark
	}
	return r
}

// volDays returns the non-zero counts by date, as "2006-01-02".
func volDays(m map[int64]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for d, n := range m {
		if n != 0 {
			out[time.Unix(d*86400, 0).UTC().Format(time.DateOnly)] = n
		}
	}
	return out
}

// volNonZero returns the non-zero counts of segs by their keys.
func volNonZero(segs []int64, names *kpiNames) map[string]int64 {
	out := make(map[string]int64)
	for id, n := range segs {
		if n != 0 {
			out[names.names[id]] = n
		}
	}
	return out
}

// volBacklog returns the backlog of the open issues of h, whose names
// are those of names.
func volBacklog(h *kpiHorizon[kpiState], names *kpiNames) Backlog {
	b := Backlog{ByAge: make([]AgeBucket, volAgeBuckets)}
	for i := range b.ByAge {
		b.ByAge[i].Bucket, b.ByAge[i].FromS, b.ByAge[i].ToS = volAgeBounds(i)
	}
	// In milliseconds: in nanoseconds, 4,000 issues a month old would
	// overflow the sum.
	var totalMS int64
	var oldest uuid.UUID
	h.each(func(id uuid.UUID, is *kpiState, open bool) {
		if !open || is.stray {
			return
		}
		since := time.Unix(0, is.sinceNS).UTC()
		age := h.watermark.Sub(since)
		b.Open++
		totalMS += age.Milliseconds()
		b.ByAge[volAgeBucket(age)].Issues++
		if b.Oldest == nil || since.Before(b.Oldest.Since) ||
			since.Equal(b.Oldest.Since) && id.String() < oldest.String() {
			b.Oldest = &BacklogIssue{Issue: id, Since: since, AgeS: age.Seconds(), Topic: names.names[names.or(is.topic, names.unknown)]}
			oldest = id
		}
	})
	if b.Open > 0 {
		b.MeanAgeS = float64(totalMS) / 1000 / float64(b.Open)
	}
	return b
}

// The backlog age buckets.
const volAgeBuckets = 5

func volAgeBounds(i int) (name string, from, to float64) {
	const h, d = 3600, 24 * 3600
	switch i {
	case 0:
		return "0-4h", 0, 4 * h
	case 1:
		return "4h-1d", 4 * h, d
	case 2:
		return "1d-3d", d, 3 * d
	case 3:
		return "3d-7d", 3 * d, 7 * d
	}
	return "7d+", 7 * d, 0
}

func volAgeBucket(age time.Duration) int {
	switch {
	case age < 4*time.Hour:
		return 0
	case age < 24*time.Hour:
		return 1
	case age < 3*24*time.Hour:
		return 2
	case age < 7*24*time.Hour:
		return 3
	}
	return 4
}

// VolumeReport is the report of a Volume projection.
type VolumeReport struct {
	Definition VolumeDefinition `json:"definition"`
	// Contacts counts the answered inbound contacts.
	Contacts  int64            `json:"contacts"`
	ByChannel map[string]int64 `json:"by_channel"`
	ByTopic   map[string]int64 `json:"by_topic"`
	// ByDay is keyed by UTC date, "2006-01-02".
	ByDay map[string]int64 `json:"by_day"`
	// ByValue is by contact value category (ValueUnknown for the contacts
	// of an issue whose topic is not known); nil when no topic is tagged.
	ByValue map[Value]int64 `json:"by_value,omitempty"`
	// Reasons are the topics by contacts, most first, with their share of
	// all contacts and the cumulative share: the contact reasons Pareto.
	Reasons []Reason `json:"reasons"`
	// Issues counts the issues whose issue.opened was seen, as version 1
	// of their stream (a stream that started with another event is no
	// issue's, in every projection: none of its events counts, an opening
	// included, until it resumes after a lateness of quiet; see FCR);
	// ContactsPerIssue is their mean number of contacts.
	Issues           int64   `json:"issues"`
	ContactsPerIssue float64 `json:"contacts_per_issue"`
	// IssuesByContacts counts those issues by their number of contacts:
	// "0" (only abandoned), "1", "2", "3", "4+". Both count an issue's
	// contacts while the projection holds its state: a contact that comes
	// once the state was forgotten (a reopen more than the lateness after
	// the issue's last event) counts in Contacts and its breakdowns, not
	// here, where the issue keeps the contacts it had. A Lateness as long
	// as the reopens that matter counts them here too.
	IssuesByContacts map[string]int64 `json:"issues_by_contacts"`
	Resolutions      int64            `json:"resolutions"`
	Reopens          int64            `json:"reopens"`
	// ReopenRate is Reopen.Value, reopens over resolutions.
	ReopenRate float64 `json:"reopen_rate"`
	Reopen     Rate    `json:"reopen"`
	Backlog    Backlog `json:"backlog"`
	// Watermark is the latest event time seen.
	Watermark time.Time `json:"watermark,omitzero"`
	// LateEvents counts events that came later than the lateness allows
	// and were not applied.
	LateEvents int64 `json:"late_events"`
	// HeldEvents counts events that wait for an earlier event of their issue.
	HeldEvents int `json:"held_events"`
	// TrackedIssues is how many issues the projection holds in memory.
	TrackedIssues int `json:"tracked_issues"`
}

// VolumeDefinition states the parameters and rules a VolumeReport was
// computed with.
type VolumeDefinition struct {
	LatenessS float64 `json:"lateness_s"`
	// MinSample is the denominator below which a rate is flagged small.
	MinSample int64            `json:"min_sample"`
	Values    map[string]Value `json:"values,omitempty"`
	Contacts  string           `json:"contacts"`
}

// Reason is one topic of the contact reasons Pareto.
type Reason struct {
	Topic    string `json:"topic"`
	Contacts int64  `json:"contacts"`
	// Share is Contacts over all contacts, with its interval.
	Share Rate `json:"share"`
	// Cumulative is the share of this topic and all the larger ones.
	Cumulative float64 `json:"cumulative_share"`
}

// Backlog is the issues open at the watermark and their ages.
type Backlog struct {
	Open     int64   `json:"open"`
	MeanAgeS float64 `json:"mean_age_s"`
	// ByAge counts the open issues by age: 0–4 h, 4 h–1 d, 1–3 d, 3–7 d,
	// 7 d+ (lower bound included).
	ByAge []AgeBucket `json:"by_age"`
	// Oldest is the open issue with the earliest first event; nil when
	// none is open.
	Oldest *BacklogIssue `json:"oldest,omitempty"`
}

// AgeBucket counts the open issues aged between FromS (included) and ToS
// seconds; ToS is 0 for the open-ended last bucket.
type AgeBucket struct {
	Bucket string  `json:"bucket"`
	FromS  float64 `json:"from_s"`
	ToS    float64 `json:"to_s"`
	Issues int64   `json:"issues"`
}

// BacklogIssue is one open issue of the backlog.
type BacklogIssue struct {
	Issue uuid.UUID `json:"issue"`
	Topic string    `json:"topic"`
	// Since is the time of the issue's opening; of its reopen or
	// follow-up contact, for an issue reopened or contacted when its state
	// was forgotten (see Volume), whatever came between.
	Since time.Time `json:"since"`
	AgeS  float64   `json:"age_s"`
}
