// Package simulate generates realistic, reproducible event logs of a
// contact centre, for tests, examples and benchmarks. A Config and its
// Seed give one log; Generator.Events streams it in event-time order,
// interleaved across issues like a live log, keeping only the issues in
// flight in memory; Truth counts what was generated.
//
// # The model
//
// New problems arrive as a Poisson process whose rate follows the hour of
// the day and the day of the week (UTC), from customers drawn uniformly.
// Each has a first channel and a topic drawn from the mixes of the Config
// (topics Zipf-like by default, in a '/' hierarchy; the top level is the
// queue). Every event of every stream is valid by the lifecycle rules.
//
//   - Identity: 35 % of customers are known by an account key everywhere,
//     25 % by a phone key, 40 % by a phone and an email key, showing the
//     key of the channel and both keys on only a fifth of their issues.
//   - Phone and chat contacts wait in a queue (log-normal wait with a long
//     tail, longer at busy hours, capped at 30 min); a customer gives up
//     when an exponential patience runs out first, so abandonment rises
//     with the wait. Abandoned customers often try again on the same issue
//     (issue.contacted). Email, web and social contacts are picked up
//     after hours or minutes with no measured wait.
//   - Bot sessions resolve the issue themselves (bot=true) about half the
//     time and otherwise hand over to the chat queue.
//   - An answered contact may be transferred (routed again, 8 %) and may
//     see a consultation (7 %); handle times are log-normal per channel.
//   - A contact resolves the issue with a probability per channel. If it
//     does not, the customer chases the open issue (issue.contacted),
//     opens a new issue on another channel (a repeat while the first is
//     open), or the back office resolves it later.
//   - A resolution fails with a probability set by the topic's Repeat,
//     raised for channels other than the phone and for bots (failed
//     containment, mostly followed by a call), and lowered down a chain of
//     repeats. The customer comes back mostly within a day or two and a
//     quarter of the time anywhere within three weeks, so some come back
//     after the repeat window: by an explicit reopen on the same issue, or
//     by a new issue on the same or another channel.
//   - 30 % of the issues resolved by an agent or a bot get a survey on
//     their first resolution (none after an auto-close or a later
//     resolution: about 29 % of all resolutions in a log shorter than the
//     auto-close, 26 % in a long one), CSAT, NPS or CES, whose score
//     follows a latent satisfaction that is lower when the problem was not
//     solved at the first contact and when the customer waited over 90 s
//     and 180 s. 8 % of issues are filed under a topic drawn at random;
//     those it gives a wrong one (about 6 % of all) are classified again
//     once a contact is answered, and about 3 % of the others then get a
//     secondary topic (4 % draw one, which may be their own).
//
// Events after the end of the log are not emitted, so the issues in
// flight then stay open, as in a live system. Random ids (events, issues,
// contacts) come from the seeded source, never from uuid.New. The Skills
// of routed events are shared between events: read them, do not modify
// them.
//
// BenchmarkEvents measures the speed (about 1.5 million events a second
// on one core, 2.3 allocations an event); memory is bounded by the issues
// in flight, which the rate sets, not by the length of the log.
package simulate
