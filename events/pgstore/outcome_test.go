package pgstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// cutProxy stands between a pool and PostgreSQL and, when armed, cuts the
// connection that carries a COMMIT: after the server answered it (the
// answer is lost, the transaction committed) or before the server got it
// (the transaction is rolled back once the server sees the connection go).
type cutProxy struct {
	ln      net.Listener
	target  string
	answer  atomic.Bool // cut the next COMMIT's answer
	request atomic.Bool // cut the next COMMIT before the server gets it
	cuts    atomic.Int32
	wg      sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		cut := func() { _ = client.Close(); _ = server.Close() }
		p.wg.Go(func() { p.pipe(client, server, true, cut) })
		p.wg.Go(func() { p.pipe(server, client, false, cut) })
	}
}

// pipe copies protocol messages from src to dst, and cuts both
// connections instead of passing on a COMMIT (toServer) or its answer.
func (p *cutProxy) pipe(src, dst net.Conn, toServer bool, cut func()) {
	defer cut()
	first := toServer // the startup message has no type byte
	for {
		var msg []byte
		if first {
			var n [4]byte
			if _, err := io.ReadFull(src, n[:]); err != nil {
				return
			}
			msg = make([]byte, binary.BigEndian.Uint32(n[:]))
			copy(msg, n[:])
			if _, err := io.ReadFull(src, msg[4:]); err != nil {
				return
			}
			first = false
		} else {
			var h [5]byte
			if _, err := io.ReadFull(src, h[:]); err != nil {
				return
			}
			msg = make([]byte, 1+binary.BigEndian.Uint32(h[1:]))
			copy(msg, h[:])
			if _, err := io.ReadFull(src, msg[5:]); err != nil {
				return
			}
			commit := toServer && msg[0] == 'Q' && bytes.HasPrefix(bytes.ToLower(msg[5:]), []byte("commit")) ||
				!toServer && msg[0] == 'C' && bytes.HasPrefix(msg[5:], []byte("COMMIT"))
			armed := &p.answer
			if toServer {
				armed = &p.request
			}
			if commit && armed.CompareAndSwap(true, false) {
				p.cuts.Add(1)
				return
			}
		}
		if _, err := dst.Write(msg); err != nil {
			return
		}
	}
}

// proxiedStore returns a store whose connections go through a cutProxy.
func proxiedStore(t *testing.T) (*pgstore.Store, *cutProxy) {
	t.Helper()
	direct := pgtest.Pool(t)
	schema := pgtest.Schema(t, direct)
	cfg, err := pgxpool.ParseConfig(pgtest.DSN())
	require.NoError(t, err)
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		t.Skipf("the server is reached through the socket %s, which the proxy cannot stand in for", cfg.ConnConfig.Host)
	}
	// The proxy reads the protocol's messages: no TLS, and one address.
	cfg.ConnConfig.TLSConfig, cfg.ConnConfig.Fallbacks = nil, nil
	p := newCutProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(p.ln.Addr().(*net.TCPAddr).Port)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: schema})
	require.NoError(t, err)
	return s, p
}

// An append whose COMMIT's answer is lost asks the server how the
// transaction ended: committed, it succeeds; rolled back, it fails with
// an error that says nothing was stored. Neither is events.ErrOutcomeUnknown.
func TestAppendKnowsTheOutcomeOfALostCommit(t *testing.T) {
	s, p := proxiedStore(t)
	ctx := context.Background()

	issue := uuid.New()
	p.answer.Store(true)
	got, err := s.Append(ctx, issue, 0, stream(issue, 0, 2))
	require.NoError(t, err, "the server committed; only its answer was lost")
	require.EqualValues(t, 1, p.cuts.Load(), "the answer was cut")
	assert.Len(t, got, 2)
	assert.NotZero(t, got[1].Position)
	stored, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Equal(t, got, stored)

	other := uuid.New()
	p.request.Store(true)
	_, err = s.Append(ctx, other, 0, stream(other, 0, 2))
	require.Error(t, err)
	require.EqualValues(t, 2, p.cuts.Load(), "the COMMIT was cut")
	assert.NotErrorIs(t, err, events.ErrOutcomeUnknown, "the server rolled it back: %v", err)
	assert.ErrorContains(t, err, "rolled back")
	stored, err = s.Load(ctx, other)
	require.NoError(t, err)
	assert.Empty(t, stored)
	// The stream is free: the same append goes in now.
	_, err = s.Append(ctx, other, 0, stream(other, 0, 2))
	require.NoError(t, err)
}

// Appends whose deadlines expire at random moments, some of them while
// the COMMIT is on its way, each report what happened: a success is
// stored, an error other than ErrOutcomeUnknown stored nothing.
func TestAppendDeadlinesKeepTheirWord(t *testing.T) {
	s, _, _ := newStore(t, pgstore.Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	var ok, failed, unknown []uuid.UUID
	for range 400 {
		issue := uuid.New()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(200+rng.IntN(3000))*time.Microsecond)
		_, err := s.Append(ctx, issue, 0, stream(issue, 0, 1))
		cancel()
		switch {
		case err == nil:
			ok = append(ok, issue)
		case errors.Is(err, events.ErrOutcomeUnknown):
			unknown = append(unknown, issue)
		default:
			failed = append(failed, issue)
		}
	}
	for _, issue := range ok {
		evs, err := s.Load(context.Background(), issue)
		require.NoError(t, err)
		assert.Len(t, evs, 1, "a success is stored")
	}
	for _, issue := range failed {
		evs, err := s.Load(context.Background(), issue)
		require.NoError(t, err)
		assert.Empty(t, evs, "a failure stored nothing")
	}
	assert.Empty(t, unknown, "the local server always tells how a transaction ended")
	t.Logf("%d stored, %d failed", len(ok), len(failed))
}
