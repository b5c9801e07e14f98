package projections

import (
	"cmp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Problem is one live problem as the FCR projection sees it: the issues
// chained into it, its counted contacts and its verdict. It is a drill-down
// behind the rates: which issues came back as one problem, on which
// channels. The FCR keeps no customer names (identity keys are hashed):
// a host finds the customer through the issues in its own records.
type Problem struct {
	// Issues are the problem's issues in the order they were opened.
	Issues []uuid.UUID `json:"issues"`
	// Topic is the current topic of the first issue.
	Topic string `json:"topic"`
	// Contacts are the counted contacts up to the first resolution + W (all
	// of them while unresolved), in time order.
	Contacts []ProblemContact `json:"contacts"`
	// Resolved is the first resolution; zero while unresolved.
	Resolved time.Time `json:"resolved,omitzero"`
	// Verdict is "achieved", "failed", "pending", "unresolved" or
	// "no_contact". A pending problem's Outcome says what it would be if the
	// window closed now: "achieved", "failed" or "no_contact".
	Verdict string `json:"verdict"`
	Outcome string `json:"outcome,omitempty"`
}

// ProblemContact is one counted contact of a problem.
type ProblemContact struct {
	Issue   uuid.UUID `json:"issue"`
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
}

// Switched reports whether the problem's counted contacts came on more than
// one channel: the customer changed channel about the same problem.
func (p Problem) Switched() bool {
	for _, c := range p.Contacts {
		if c.Channel != p.Contacts[0].Channel {
			return true
		}
	}
	return false
}

var verdictNames = [...]string{
	vUnresolved: "unresolved",
	vPending:    "pending",
	vNoContact:  "no_contact",
	vAchieved:   "achieved",
	vFailed:     "failed",
}

// Problems returns the problems that are still live, not yet folded into
// the report's counters, in the order of their first contact. It costs time
// in proportion to the live issues.
func (f *FCR) Problems() []Problem {
	var out []Problem
	for r := range f.ids.nodes {
		n := &f.ids.nodes[r]
		if n.parent != int32(r) || n.issue < 0 {
			continue
		}
		for _, p := range f.problems(int32(r)) {
			out = append(out, f.view(&p))
		}
	}
	slices.SortFunc(out, func(a, b Problem) int {
		var at, bt time.Time
		if len(a.Contacts) > 0 {
			at = a.Contacts[0].At
		}
		if len(b.Contacts) > 0 {
			bt = b.Contacts[0].At
		}
		return cmp.Or(at.Compare(bt), slices.CompareFunc(a.Issues, b.Issues, func(x, y uuid.UUID) int {
			return slices.Compare(x[:], y[:])
		}))
	})
	return out
}

func (f *FCR) view(p *fcrProblem) Problem {
	v := Problem{Topic: f.names.names[f.issues.at(p.rootIx).topic]}
	for _, ix := range p.members {
		v.Issues = append(v.Issues, f.issues.at(ix).id)
	}
	end := int64(1<<63 - 1)
	if p.resolved {
		v.Resolved = time.Unix(0, p.res).UTC()
		end = satAdd(p.res, f.window)
	}
	for _, ix := range p.members {
		is := f.issues.at(ix)
		add := func(r *fcrRec) {
			if r.counted() && r.at < end {
				v.Contacts = append(v.Contacts, ProblemContact{Issue: is.id, At: time.Unix(0, r.at).UTC(), Channel: f.names.names[r.channel]})
			}
		}
		add(&is.first)
		more := is.recs()
		for k := range more {
			add(&more[k])
		}
	}
	slices.SortStableFunc(v.Contacts, func(a, b ProblemContact) int { return a.At.Compare(b.At) })
	verdict := f.verdict(p)
	v.Verdict = verdictNames[verdict]
	if verdict == vPending {
		v.Outcome = verdictNames[p.outcome()]
	}
	return v
}
