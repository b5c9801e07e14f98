package projections

import (
	"fmt"
	"time"

	"github.com/truefcr/truefcr/events"
)

// ReportConfig configures a Reporter, one projection at a time. The zero
// value means every default. Lateness, when set, is the allowed lateness of
// every projection whose own config leaves it zero, and MinSample likewise
// the small-sample threshold.
type ReportConfig struct {
	FCR          FCRConfig
	Service      ServiceConfig
	Satisfaction SatisfactionConfig
	Volume       VolumeConfig
	// Lateness is how far behind the latest event time an event may come
	// and still count, for every projection whose own config leaves it
	// zero (24 h then). Events fed in the order of their times need little;
	// a history loaded ticket by ticket, whose events go back and forth in
	// time, needs one as long as the time it spans, or its older events
	// are left out of the figures as late (each section counts them).
	Lateness time.Duration
	// MinSample is the denominator below which a rate is flagged as a
	// small sample, for every projection whose own config leaves it zero.
	MinSample int64
	// MaxFuture is how far after the clock's time an event may be, for
	// every projection at once (the MaxFuture of their own configs is not
	// used in a Reporter): 0 means DefaultMaxFuture, or half the least of
	// their latenesses when that is less; a negative value, no limit. See
	// FCRConfig.MaxFuture.
	MaxFuture time.Duration
}

// Reporter feeds every projection of the full report: true FCR, service
// level, satisfaction and volume. Like each of them it may be fed in any
// order and with duplicates, and each section of its Report is what that
// projection fed alone reports, late, held and tracked counts included.
// When the three KPI projections have the same lateness (the default),
// the Reporter sequences and tracks each issue once for all three. Its
// MarshalBinary saves every projection's state, for a Runner's
// checkpoints or a host's own. It is not safe for concurrent use.
type Reporter struct {
	fcr     *FCR
	service *ServiceLevel
	sat     *Satisfaction
	volume  *Volume
	// kpi sequences and tracks each issue once for the three KPI
	// projections when their lateness is the same (the default); nil
	// otherwise, when each keeps its own horizon.
	kpi *kpiHorizon[kpiState]
	// names are the KPI projections' names, one table for the three.
	names   *kpiNames
	applied int64
	// future refuses events too far after the clock's time, before any
	// projection sees them.
	future futureGuard
}

// NewReporter returns a Reporter with every projection empty. An error
// about a projection's config wraps that projection's (ErrFCRConfig,
// ErrKPIConfig); one about a field of cfg's own, which every projection
// takes (Lateness, MinSample), wraps both.
func NewReporter(cfg ReportConfig) (*Reporter, error) {
	for _, err := range []error{kpiCheckLateness("report", cfg.Lateness), kpiCheckMinSample("report", cfg.MinSample)} {
		if err != nil {
			return nil, fmt.Errorf("%w (%w)", err, ErrFCRConfig)
		}
	}
	if cfg.Lateness > 0 {
		for _, l := range []*time.Duration{&cfg.FCR.Lateness, &cfg.Service.Lateness, &cfg.Satisfaction.Lateness, &cfg.Volume.Lateness} {
			if *l == 0 {
				*l = cfg.Lateness
			}
		}
	}
	if cfg.MinSample > 0 {
		for _, n := range []*int64{&cfg.FCR.MinSample, &cfg.Service.MinSample, &cfg.Satisfaction.MinSample, &cfg.Volume.MinSample} {
			if *n == 0 {
				*n = cfg.MinSample
			}
		}
	}
	fcr, err := NewFCR(cfg.FCR)
	if err != nil {
		return nil, err
	}
	r := &Reporter{fcr: fcr}
	if r.service, err = NewServiceLevel(cfg.Service); err != nil {
		return nil, err
	}
	if r.sat, err = NewSatisfaction(cfg.Satisfaction); err != nil {
		return nil, err
	}
	if r.volume, err = NewVolume(cfg.Volume); err != nil {
		return nil, err
	}
	r.names = newKPINames()
	r.service.names, r.sat.names, r.volume.names = r.names, r.names, r.names
	if l := r.service.cfg.Lateness; l == r.sat.cfg.Lateness && l == r.volume.cfg.Lateness {
		h := newKPIHorizon(l, r.foldKPI)
		r.kpi = &h
	}
	least := min(r.fcr.cfg.Lateness, r.service.cfg.Lateness, r.sat.cfg.Lateness, r.volume.cfg.Lateness)
	r.future = newFutureGuard(maxFutureOr(cfg.MaxFuture, least), "ReportConfig.MaxFuture")
	return r, nil
}

// foldKPI is the in-order path of the three KPI projections: the issue's
// one state takes the event once, between what each projection notes
// before and counts after.
func (r *Reporter) foldKPI(s *kpiState, e events.Envelope) bool {
	if kpiIgnores(s, &e) {
		return false
	}
	var svc svcTouched
	var vol volTouched
	r.service.before(s, &e, &svc)
	sat := r.sat.before(s, &e)
	r.volume.before(s, &e, &vol)
	s.apply(&e, r.names)
	r.service.after(s, &svc)
	r.sat.after(s, &e, sat)
	r.volume.after(s, &e, &vol)
	return true
}

// Apply absorbs one event into every projection. An event that does not
// Validate, or whose time lies outside the years that the codecs
// write (events.InTimeRange: 1678 to 2261), is refused before any projection sees
// it, so that they all stay computed from the same events, with an error
// that wraps events.ErrInvalidEvent; so is one further after the clock's
// time than ReportConfig.MaxFuture, with an error that wraps
// ErrFutureEvent.
func (r *Reporter) Apply(e events.Envelope) error {
	if err := r.check(&e); err != nil {
		return err
	}
	return r.applyChecked(e)
}

// Check reports what would make Apply refuse e, without applying it: an
// error that wraps events.ErrInvalidEvent or ErrFutureEvent, as Apply's
// would. A host that checks events against rules of its own before it
// applies them calls it first, so that an event the Reporter will refuse
// changes nothing of the host's either.
func (r *Reporter) Check(e events.Envelope) error { return r.check(&e) }

// check is the check of Apply, before any projection sees e.
func (r *Reporter) check(e *events.Envelope) error { return kpiCheckEvent("report", e, &r.future) }

// FCR returns the true-FCR projection, for a host that wants its report
// alone or its snapshot.
func (r *Reporter) FCR() *FCR { return r.fcr }

// Report is the full report at this moment.
func (r *Reporter) Report() Report {
	rep := Report{
		FCR:    r.fcr.Report(),
		Events: r.applied - r.fcr.dups,
	}
	if h := r.kpi; h != nil {
		v := h.view()
		rep.Service = r.service.report(v)
		rep.Satisfaction = r.sat.report(v)
		rep.Volume = r.volume.report(v, volBacklog(h, r.names))
	} else {
		rep.Service = r.service.Report()
		rep.Satisfaction = r.sat.Report()
		rep.Volume = r.volume.Report()
	}
	rep.Watermark = rep.FCR.Watermark
	rep.Definition = ReportDefinition{
		FCRDefinition:                  rep.FCR.Definition,
		ServiceLevelThresholdS:         rep.Service.Definition.ThresholdS,
		ServiceLevelChannelThresholdsS: rep.Service.Definition.ChannelThresholdsS,
	}
	return rep
}

// Report gathers the reports of every projection, with one definition of
// what they measured. Its JSON form is stable: "definition", "watermark"
// (left out before any event), "events", "fcr", "service",
// "satisfaction", "volume".
type Report struct {
	Definition ReportDefinition `json:"definition"`
	// Watermark is the latest event time seen.
	Watermark time.Time `json:"watermark,omitzero"`
	// Events counts the events absorbed, less the redeliveries that the
	// FCR recognised as duplicates (see FCR.DuplicatesIgnored): those of
	// an issue it has folded are counted again.
	Events       int64              `json:"events"`
	FCR          FCRReport          `json:"fcr"`
	Service      ServiceReport      `json:"service"`
	Satisfaction SatisfactionReport `json:"satisfaction"`
	Volume       VolumeReport       `json:"volume"`
}

// ReportDefinition states what a Report measured: the FCR rules and the
// service-level threshold, in one flat JSON object. Each section repeats
// its own in full.
type ReportDefinition struct {
	FCRDefinition
	ServiceLevelThresholdS float64 `json:"service_level_threshold_s"`
	// ServiceLevelChannelThresholdsS are the thresholds of the channels
	// that have their own (ServiceConfig.ChannelThresholds).
	ServiceLevelChannelThresholdsS map[string]float64 `json:"service_level_channel_thresholds_s,omitempty"`
}
