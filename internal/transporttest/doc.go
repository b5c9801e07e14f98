// Package transporttest proves, against real brokers, that events travel
// from the contact Service through a store and a Watermill transport to a
// projections.Runner without being lost, doubled or changed: for every
// transport (GoChannel, PostgreSQL with watermill-sql, NATS JetStream,
// Redis streams, RabbitMQ) the FCR report at the end of the line equals the
// report of the same events fed straight into an FCR.
//
// It holds tests only. TestTransports plays one simulated log through each
// transport; the fault tests kill and restart runners, duplicate and
// reorder deliveries, close subscriptions mid-stream, make the store refuse
// commits and race two writers on one issue; the scale-out test spreads
// events over NATS subjects by partition key and merges the reports of one
// runner per partition; the outbox test runs the durable line, from the
// Postgres store through its transactional outbox and forwarder to NATS.
// Benchmarks measure events per second and latency through each transport.
//
// A test whose broker cannot be reached is skipped with a message that
// says how to start it, and fails instead when the CI environment variable
// is set. The addresses come from these environment variables, with the
// defaults of a developer machine:
//
//	TRUEFCR_POSTGRES_DSN  postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	TRUEFCR_NATS_URL      nats://127.0.0.1:4222
//	TRUEFCR_REDIS_ADDR    127.0.0.1:6379
//	TRUEFCR_AMQP_URL      amqp://guest:guest@127.0.0.1:5672/
package transporttest
