package pgstore

import (
	"context"
	"fmt"
)

// Head returns the last position the Store has handed out, 0 when nothing
// was appended. A runner compares it with its own position to tell its lag
// without reading the events in between.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM `+s.t.head).Scan(&head); err != nil {
		return 0, fmt.Errorf("pgstore: read head of %s: %w", s.t.head, err)
	}
	return uint64(head), nil
}
