// Package contacttest helps test code that drives package contact: a
// settable Clock, a sequential id generator (IDs) and given-when-then
// scenarios that run one command through a contact.Service on an
// in-memory store:
//
//	contacttest.Given(t, &events.Opened{…}, &events.Resolved{…}).
//		When(contact.Resolve{}).
//		ThenError(contact.ErrAlreadyResolved)
//
// Scenarios are deterministic: the given events happen one minute apart
// from Start, the command one minute after the last of them, and new ids
// are ID(1), ID(2)… in the order the Service asks for them.
package contacttest
