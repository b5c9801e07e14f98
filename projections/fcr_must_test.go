package projections_test

import "github.com/truefcr/truefcr/projections"

// mustFCR is projections.NewFCR of a configuration that the test knows to
// be valid.
func mustFCR(cfg projections.FCRConfig) *projections.FCR {
	f, err := projections.NewFCR(cfg)
	if err != nil {
		panic(err)
	}
	return f
}
