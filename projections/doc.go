// Package projections derives the numbers a contact centre is run by from
// the events of package events: true first-contact resolution across
// channels, service level, satisfaction and volume.
//
// A projection absorbs one event at a time and can produce its report at
// any moment. The report is a function of the set of events absorbed:
// delivery order and duplicate deliveries do not change it (within the
// allowed lateness), because every projection puts the events of each issue
// in version order itself (the FCR in its live issues and a Sequencer, the
// KPI projections in a horizon of event time), ignores duplicates, and
// computes from event times, never from arrival times.
package projections
