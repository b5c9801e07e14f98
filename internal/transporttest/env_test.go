package transporttest

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/truefcr/truefcr/internal/natstest"
)

// A broker the tests need: where to find it and how to start it.
type service struct {
	name, env, def, howTo string
}

var (
	postgresService = service{"PostgreSQL", "TRUEFCR_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"}
	natsService  = service{"NATS with JetStream", "TRUEFCR_NATS_URL", "nats://127.0.0.1:4222", natstest.HowTo}
	redisService = service{"Redis", "TRUEFCR_REDIS_ADDR", "127.0.0.1:6379",
		`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log`}
	amqpService = service{"RabbitMQ", "TRUEFCR_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/",
		"rabbitmq-server -detached"}
)

// address returns where the service is: its environment variable or the default.
func (s service) address() string {
	if v := os.Getenv(s.env); v != "" {
		return v
	}
	return s.def
}

// need returns the service's address when something listens there. When
// nothing does, it skips tb, or fails it when the CI environment variable
// is set: CI must not pass by skipping.
func (s service) need(tb testing.TB) string {
	tb.Helper()
	addr := s.address()
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	conn, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err == nil {
		_ = conn.Close()
		return addr
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s at %s is required under CI (%v); start it with: %s", s.name, hostport, err, s.howTo)
	}
	tb.Skipf("%s at %s cannot be reached (%v); start it with: %s, or set %s", s.name, hostport, err, s.howTo, s.env)
	return ""
}
