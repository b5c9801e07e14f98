// Package natstest finds the NATS server that tests run against.
package natstest

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// HowTo is how to start NATS with JetStream as CI does.
const HowTo = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"

// URL returns the URL of the NATS server, TRUEFCR_NATS_URL or the local
// default, once a connection to it succeeds (read as nats.go reads it: a
// list of servers, a port left out). Without one it skips tb, or fails it
// when the CI environment variable is set: CI must not pass by skipping.
func URL(tb testing.TB) string {
	tb.Helper()
	url := nats.DefaultURL
	if v := os.Getenv("TRUEFCR_NATS_URL"); v != "" {
		url = v
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("NATS with JetStream at %s is required under CI (%v); start it with: %s", Redacted(url), err, HowTo)
		}
		tb.Skipf("NATS with JetStream at %s cannot be reached (%v); start it with: %s, or set TRUEFCR_NATS_URL", Redacted(url), err, HowTo)
	}
	nc.Close()
	return url
}

// Redacted returns servers, a NATS server URL or a comma-separated list
// of them, for a message, with the credentials of each (a user and
// password, or a token) shown as xxxxx: a log must not show them. A
// server written without a scheme ("alice:pw@host:4222") is read as
// nats.go reads it, as nats://, and shown with that scheme when it holds
// credentials.
func Redacted(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		u, err := url.Parse(p)
		switch {
		case err != nil:
			parts[i] = "an unparsable URL"
		case u.User != nil:
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// Stream makes a JetStream stream in memory named name, over the subjects
// name.>, on the server at url, and deletes it when tb ends.
func Stream(tb testing.TB, url, name string) {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatalf("connect to NATS at %s: %v", Redacted(url), err)
	}
	tb.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		tb.Fatalf("JetStream at %s: %v", Redacted(url), err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: nats.MemoryStorage}); err != nil {
		tb.Fatalf("add stream %s: %v", name, err)
	}
	tb.Cleanup(func() { _ = js.DeleteStream(name) })
}
