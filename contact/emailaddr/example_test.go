package emailaddr_test

import (
	"fmt"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/emailaddr"
)

func Example() {
	rules := contact.KeyRules{Email: emailaddr.Normalizer{}}
	for _, k := range []string{"email:anna@xn--bcher-kva.de", "email:Anna@B\u00dcCHER.DE", "email:jose\u0301@example.com"} {
		key, err := rules.Normalize(k)
		fmt.Println(key, err)
	}
	// Output:
	// email:anna@bücher.de <nil>
	// email:anna@bücher.de <nil>
	// email:josé@example.com <nil>
}
