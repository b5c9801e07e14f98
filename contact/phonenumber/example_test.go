package phonenumber_test

import (
	"fmt"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/phonenumber"
)

func Example() {
	rules := contact.KeyRules{DefaultCountry: "54", Phone: phonenumber.Normalizer{}}
	for _, k := range []string{"phone:011 15 2345-6789", "phone:+54 9 11 2345 6789", "phone:011 23"} {
		key, err := rules.Normalize(k)
		fmt.Println(key, err)
	}
	// Output:
	// phone:+5491123456789 <nil>
	// phone:+5491123456789 <nil>
	//  identity key "phone:011 23": is not a possible number in the plan of country +54
}
