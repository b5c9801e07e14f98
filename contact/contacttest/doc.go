// Package contacttest helps test code that drives package contact: a
// settable Clock, a sequential id generator (IDs) and given-when-then
// scenarios that run commands through a contact.Service on an in-memory
// store, on a history that the lifecycle allows:
//
//	contacttest.Given(t, &events.Opened{…}, &events.Resolved{…}).
//		When(contact.Resolve{}).
//		ThenError(contact.ErrAlreadyResolved)
//
// Scenarios are deterministic: the given events happen one minute apart
// from Start, each command one minute after the event before it, and new
// ids are ID(1), ID(2)… in the order the Service asks for them.
package contacttest
