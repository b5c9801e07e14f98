// Package readme_test checks that the README's embedding example compiles
// and prints what its comment says.
package readme_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// intro is what the README writes right before the example's code block.
const intro = "`func(ctx context.Context) error`:\n\n```go\n"

// The example, the body of a func(ctx context.Context) error, is built
// into a program in the module (through go's -overlay, so that nothing is
// written into the repository) and run: it prints the line that its last
// comment gives.
func TestREADMEEmbeddingExampleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(readme)
	i := strings.Index(text, intro)
	require.GreaterOrEqual(t, i, 0, "the README introduces its example with %q", intro)
	body, _, ok := strings.Cut(text[i+len(intro):], "```")
	require.True(t, ok, "the example's code block ends")

	var want string // the last comment line, which says what it prints
	for _, line := range strings.Split(body, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "// "); ok {
			want = c
		}
	}
	require.NotEmpty(t, want)

	dir := t.TempDir()
	program := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(program, []byte(prelude+body+postlude), 0o644))
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "internal", "readme", "example", "main.go"): program},
	})
	require.NoError(t, err)
	overlayFile := filepath.Join(dir, "overlay.json")
	require.NoError(t, os.WriteFile(overlayFile, overlay, 0o644))

	cmd := exec.Command("go", "run", "-overlay", overlayFile, "./internal/readme/example")
	cmd.Dir = root
	var stderr strings.Builder // go's own messages (downloads) and the program's
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	assert.Equal(t, want, strings.TrimSpace(string(out)), "standard error: %s", stderr.String())
}

const prelude = `package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

func main() {
	run := func(ctx context.Context) error {
`

const postlude = `	}
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
`
