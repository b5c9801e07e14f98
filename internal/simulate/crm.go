package simulate

import (
	"context"

	"github.com/truefcr/truefcr/events"
)

// CRM stands for a host's CRM over a simulated log: identity keys that
// appear together on any opening belong to one customer (transitively),
// named by one of its keys so that the id is stable from the first contact.
type CRM struct{ parent map[string]string }

// NewCRM returns the CRM that knows every customer opening an issue in log.
func NewCRM(log []events.Envelope) CRM {
	c := CRM{parent: map[string]string{}}
	for _, e := range log {
		o, ok := events.As[*events.Opened](e)
		if !ok || len(o.Customer.Keys) == 0 {
			continue
		}
		for _, k := range o.Customer.Keys {
			if c.parent[k] == "" {
				c.parent[k] = k
			}
		}
		for _, k := range o.Customer.Keys[1:] {
			if a, b := c.root(o.Customer.Keys[0]), c.root(k); a != b {
				c.parent[b] = a
			}
		}
	}
	return c
}

func (c CRM) root(k string) string {
	for c.parent[k] != k {
		k = c.parent[k]
	}
	return k
}

// ID returns the stable id of the customer owning key, "" for a key the
// CRM has never seen.
func (c CRM) ID(key string) string {
	if _, ok := c.parent[key]; !ok {
		return ""
	}
	return "customer:" + c.root(key)
}

// ResolveCustomer returns the id of the customer owning the first key it
// knows, "" when it knows none; it makes CRM a contact.CustomerResolver.
func (c CRM) ResolveCustomer(_ context.Context, keys []string) (string, error) {
	for _, k := range keys {
		if id := c.ID(k); id != "" {
			return id, nil
		}
	}
	return "", nil
}
