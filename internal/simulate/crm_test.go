package simulate_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

func opened(keys ...string) events.Envelope {
	return events.Envelope{Data: &events.Opened{Customer: events.Customer{Keys: keys}}}
}

func TestCRMJoinsKeysSeenTogether(t *testing.T) {
	crm := simulate.NewCRM([]events.Envelope{
		opened("email:a", "phone:1"),
		opened("phone:2"),
		opened("chat:x", "phone:1"),
		opened("phone:2", "email:b"),
		opened("email:c"),
	})
	tests := []struct {
		key, sameAs string
	}{
		{"phone:1", "email:a"},
		{"chat:x", "email:a"},
		{"email:b", "phone:2"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			id := crm.ID(tt.key)
			require.NotEmpty(t, id)
			assert.Equal(t, crm.ID(tt.sameAs), id)
		})
	}
	assert.NotEqual(t, crm.ID("email:a"), crm.ID("phone:2"))
	assert.NotEqual(t, crm.ID("email:a"), crm.ID("email:c"))
	assert.Equal(t, "customer:email:c", crm.ID("email:c"))
	assert.Empty(t, crm.ID("email:unknown"))
}

func TestCRMResolvesCustomer(t *testing.T) {
	crm := simulate.NewCRM([]events.Envelope{opened("email:a", "phone:1")})
	var r contact.CustomerResolver = crm
	id, err := r.ResolveCustomer(context.Background(), []string{"email:unknown", "phone:1"})
	require.NoError(t, err)
	assert.Equal(t, crm.ID("email:a"), id)
	id, err = r.ResolveCustomer(context.Background(), []string{"email:unknown"})
	require.NoError(t, err)
	assert.Empty(t, id)
}
