package projections

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// definitionDiff, which names what two merged reports differ in, knows
// every field of FCRDefinition.
func TestDefinitionDiffKnowsEveryField(t *testing.T) {
	base := mustFCR(FCRConfig{}).Report().Definition
	ty := reflect.TypeOf(base)
	for i := range ty.NumField() {
		if ty.Field(i).Name == "Partitions" {
			continue // reports of different partitions merge
		}
		d := base
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Float64:
			f.SetFloat(f.Float() + 1)
		case reflect.Int64:
			f.SetInt(f.Int() + 1)
		default:
			t.Fatalf("field %s of kind %s", ty.Field(i).Name, f.Kind())
		}
		assert.NotContains(t, definitionDiff(d, base), "has definition", "field %s", ty.Field(i).Name)
	}
}
